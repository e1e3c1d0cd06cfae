"""Acme's on-call API: a small Starlette app, the kind of internal API a company points the
account-binding product at (INTERNAL_API_URL). Every route needs a credential (`auth.py`).

GET  /api/me                          who the credential acts as: {"username", "via"}
GET  /api/oncall                      {"rotations": [OnCall]}, one per rotation
GET  /api/rotations/{rotation}/oncall OnCall; 404 {"error": "no such rotation"}
GET  /api/me/shifts                   {"shifts": [Shift]}: the caller's current and next ones
POST /api/pages {"message", "rotation"?}
                                      201 Page: pages whoever is on call for the rotation
                                      (the first one when not given), as the caller; 400 for
                                      a bad body, 404 for an unknown rotation

OnCall = {"rotation", "name", "username", "since", "until"}
Shift  = {"rotation", "name", "starts", "ends"}
Page   = {"id", "rotation", "name", "paged", "by", "message", "created_at"}
Times are ISO 8601 in UTC (`2026-11-30T09:00:00Z`).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .auth import Caller, CredentialsBackend, ServiceCredential, refusal
from .introspection import IntrospectionConfig, Introspector
from .roster import InvalidPage, NoSuchRotation, Page, Roster, Shift

log = logging.getLogger(__name__)

#: The largest request body read, in bytes: a page's message is at most 300 characters.
MAX_BODY_BYTES = 4096


@dataclass(frozen=True)
class Access:
    """One request the API served: who, how they were known, what they asked."""

    username: str
    via: str
    method: str
    path: str


@dataclass
class OncallService:
    """The app's state: its roster, and every request it served (newest last)."""

    roster: Roster
    accesses: list[Access] = field(default_factory=list)


def build_service(
    roster: Roster,
    *,
    introspection: IntrospectionConfig | None = None,
    service_credential: ServiceCredential | None = None,
) -> Starlette:
    """The ASGI app; `app.state.oncall` is its OncallService. Raises ValueError when neither
    way of authenticating is configured."""
    introspector = Introspector(introspection) if introspection else None
    backend = CredentialsBackend(introspector=introspector, service=service_credential)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if introspector is not None:
                await introspector.aclose()

    app = Starlette(
        routes=[
            Route("/api/me", me),
            Route("/api/oncall", on_call_now),
            Route("/api/rotations/{rotation}/oncall", on_call_for),
            Route("/api/me/shifts", my_shifts),
            Route("/api/pages", send_page, methods=["POST"]),
        ],
        middleware=[Middleware(AuthenticationMiddleware, backend=backend, on_error=refusal)],
        lifespan=lifespan,
    )
    app.state.oncall = OncallService(roster)
    return app


def _caller(request: Request) -> Caller:
    """The authenticated caller, logged (with how they were known) for every request."""
    caller = request.user
    assert isinstance(caller, Caller)
    service: OncallService = request.app.state.oncall
    service.accesses.append(Access(caller.username, caller.via, request.method, request.url.path))
    if caller.via == "service":
        log.info(
            "%s %s as %s (impersonated with the service credential)",
            request.method,
            request.url.path,
            caller.username,
        )
    else:
        log.info("%s %s as %s (personal token)", request.method, request.url.path, caller.username)
    return caller


def _roster(request: Request) -> Roster:
    service: OncallService = request.app.state.oncall
    return service.roster


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _on_call(shift: Shift) -> dict[str, Any]:
    return {
        "rotation": shift.rotation.id,
        "name": shift.rotation.name,
        "username": shift.username,
        "since": _time(shift.starts),
        "until": _time(shift.ends),
    }


def _page(page: Page) -> dict[str, Any]:
    return {
        "id": page.id,
        "rotation": page.rotation.id,
        "name": page.rotation.name,
        "paged": page.paged,
        "by": page.by,
        "message": page.message,
        "created_at": _time(page.created_at),
    }


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def me(request: Request) -> Response:
    caller = _caller(request)
    return JSONResponse({"username": caller.username, "via": caller.via})


async def on_call_now(request: Request) -> Response:
    _caller(request)
    return JSONResponse({"rotations": [_on_call(s) for s in _roster(request).on_call()]})


async def on_call_for(request: Request) -> Response:
    _caller(request)
    roster = _roster(request)
    try:
        rotation = roster.rotation(request.path_params["rotation"])
    except NoSuchRotation:
        return _error(404, "no such rotation")
    return JSONResponse(_on_call(rotation.shift_at(roster.clock())))


async def my_shifts(request: Request) -> Response:
    caller = _caller(request)
    shifts = _roster(request).shifts_of(caller.username)
    return JSONResponse(
        {
            "shifts": [
                {
                    "rotation": s.rotation.id,
                    "name": s.rotation.name,
                    "starts": _time(s.starts),
                    "ends": _time(s.ends),
                }
                for s in shifts
            ]
        }
    )


async def send_page(request: Request) -> Response:
    caller = _caller(request)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return _error(413, "The request body is too large.")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("message"), str)
        or not isinstance(data.get("rotation", ""), str)
    ):
        return _error(400, 'The body must be JSON like {"message": "...", "rotation": "..."}.')
    try:
        page = _roster(request).page(caller.username, data["message"], data.get("rotation"))
    except NoSuchRotation:
        return _error(404, "no such rotation")
    except InvalidPage as error:
        return _error(400, str(error))
    log.info("Page %d to %s (%s) from %s", page.id, page.paged, page.rotation.id, page.by)
    return JSONResponse(_page(page), status_code=201)
