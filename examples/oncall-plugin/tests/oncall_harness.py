"""What the example's tests run the on-call service against: an RFC 7662 introspection
endpoint of their own (the product's is exercised by tests/test_example_plugin.py), and the
product's own client for `ctx.api` in a context as the product builds one.

(This module's name is unique across the project's test paths on purpose: pytest imports
test directories without packages by module name.)
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bolt_app.commands import CommandContext, InternalApiClient, InternalUser, Reply, SlackUser
from bolt_app.internal_api import InternalApiConnection

CLIENT_ID = "oncall"
CLIENT_SECRET = "introspection-client-secret-0123456789abcdef"
SERVICE_TOKEN = "service-token-0123456789abcdefghijklmnopqrstuv"
#: Monday 30 November 2026, 12:00 UTC: shifts hand over at 09:00 on Mondays.
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@dataclass
class AuthorizationServer:
    """A token introspection endpoint (RFC 7662) at `/oauth/introspect`, answering for
    `tokens` (token -> its answer) to the client CLIENT_ID / CLIENT_SECRET sent as HTTP
    Basic (RFC 6749 2.3.1). `requests` records what each call sent; while `hold` is set and
    not yet set free, it does not answer."""

    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)
    hold: asyncio.Event | None = None

    def issue(self, token: str, username: str, **claims: Any) -> None:
        self.tokens[token] = {"active": True, "username": username, "sub": username, **claims}

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/oauth/introspect", self.introspect, methods=["POST"])])

    async def introspect(self, request: Request) -> Response:
        form = await request.form()
        token = str(form.get("token", ""))
        self.requests.append(
            {"token": token, "authorization": request.headers.get("authorization", "")}
        )
        if self.hold is not None:
            await self.hold.wait()
        if not _client_authenticated(request.headers.get("authorization", "")):
            return JSONResponse(
                {"error": "invalid_client"},
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="introspection"'},
            )
        return JSONResponse(self.tokens.get(token, {"active": False}))


def _client_authenticated(header: str) -> bool:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        return False
    return unquote_plus(client_id) == CLIENT_ID and hmac.compare_digest(
        unquote_plus(secret), CLIENT_SECRET
    )


@contextlib.asynccontextmanager
async def api_for(base_url: str, headers: Mapping[str, str]) -> AsyncIterator[InternalApiClient]:
    """`ctx.api` as the product makes it: its own client for INTERNAL_API_URL (`base_url`),
    carrying `headers` (the acting mode's credential) on every call."""
    connection = InternalApiConnection(base_url, "Acme", timeout=15.0)  # INTERNAL_API_TIMEOUT
    try:
        yield connection.as_person(headers)
    finally:
        await connection.close()


@dataclass
class Replies:
    """What a handler sent through `ctx.respond` and `ctx.send_dm`."""

    responded: list[Reply] = field(default_factory=list)
    dms: list[Reply] = field(default_factory=list)


def context_for(api: InternalApiClient, username: str = "ada") -> tuple[CommandContext, Replies]:
    replies = Replies()

    async def respond(reply: Reply) -> bool:
        replies.responded.append(reply)
        return True

    async def send_dm(reply: Reply) -> bool:
        replies.dms.append(reply)
        return True

    ctx = CommandContext(
        user=InternalUser(1, username, f"{username}@example.com"),
        slack=SlackUser("U0" + username.upper(), "T0ACME", None, username),
        api=api,
        app_name="Acme",
        command="/acme",
        respond=respond,
        send_dm=send_dm,
    )
    return ctx, replies


def shown(reply: Reply) -> str:
    """Everything a reply shows: its fallback text and every text in its blocks."""
    parts = [reply.text]
    for block in reply.blocks:
        for key in ("text",):
            if isinstance(block.get(key), dict):
                parts.append(block[key]["text"])
        for element in block.get("elements", []) + block.get("fields", []):
            parts.append(element.get("text", ""))
    return "\n".join(parts)
