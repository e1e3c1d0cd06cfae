"""Asking the account-binding site whether a bearer token is active: OAuth 2.0 Token
Introspection (RFC 7662), as a protected resource does it.

Each check is one `POST` to the introspection endpoint with the token in a form body
(RFC 7662 section 2.1), authenticated with this service's client credentials as HTTP Basic
(`client_secret_basic`, RFC 6749 section 2.3.1: identifier and secret form-encoded, then
base64). Nothing is cached: every request to the on-call API asks again, so a token the
person unlinked or the product revoked stops working at once. One check costs a loopback or
intranet round trip; a busier API would cache an active answer for a few seconds at most.

The HTTP client is httpx (asynchronous, with deadlines). Authlib's resource-server pieces
(`authlib.oauth2.rfc7662.IntrospectTokenValidator` with a `ResourceProtector`) were
considered: they call `introspect_token` synchronously, so under Starlette each request would
block the event loop or need a thread; their validator checks only `active` (not `exp`); they
ship no Starlette integration and no type hints. What they would add is the few lines below.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from urllib.parse import quote_plus

import httpx

log = logging.getLogger(__name__)

#: The whole check's deadline in seconds, connection included.
DEFAULT_TIMEOUT_SECONDS = 3.0
#: The largest introspection answer read, in bytes.
MAX_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True)
class IntrospectionConfig:
    """Where the introspection endpoint is and how this service authenticates to it: the
    product's INTROSPECTION_CLIENT_ID and INTROSPECTION_CLIENT_SECRET."""

    url: str
    client_id: str
    client_secret: str = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT_SECONDS


@dataclass(frozen=True)
class ActiveToken:
    """An active token's owner, from the answer's `username` (RFC 7662 section 2.2)."""

    username: str
    scope: str | None
    expires_at: int | None


class TokenInactive(Exception):
    """The endpoint says the token is not active (unknown, revoked, expired, unlinked), or
    its answer names no user, or its `exp` has passed."""


class IntrospectionUnavailable(Exception):
    """The endpoint did not answer within the deadline, refused this service's client
    credentials, or answered something that is not an RFC 7662 answer. `str` says which
    (never a token or a secret)."""


class Introspector:
    """Checks bearer tokens against one introspection endpoint; close it with `aclose`."""

    def __init__(
        self, config: IntrospectionConfig, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._config = config
        self._client = httpx.AsyncClient(
            timeout=config.timeout, transport=transport, trust_env=False
        )
        self._auth = httpx.BasicAuth(quote_plus(config.client_id), quote_plus(config.client_secret))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def check(self, token: str) -> ActiveToken:
        """The token's owner when it is active. Raises TokenInactive or
        IntrospectionUnavailable."""
        try:
            async with asyncio.timeout(self._config.timeout):
                response = await self._client.post(
                    self._config.url,
                    data={"token": token, "token_type_hint": "access_token"},
                    headers={"Accept": "application/json"},
                    auth=self._auth,
                )
        except (TimeoutError, httpx.HTTPError) as error:
            raise IntrospectionUnavailable(
                f"the introspection endpoint did not answer ({type(error).__name__})"
            ) from None
        if response.status_code in (401, 403):
            raise IntrospectionUnavailable(
                f"the introspection endpoint refused this service's client credentials "
                f"(HTTP {response.status_code}): check the client ID and secret"
            )
        if response.status_code != 200 or len(response.content) > MAX_ANSWER_BYTES:
            raise IntrospectionUnavailable(
                f"the introspection endpoint answered HTTP {response.status_code}"
            )
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not isinstance(answer.get("active"), bool):
            raise IntrospectionUnavailable(
                "the introspection endpoint's answer has no boolean `active` (RFC 7662 2.2)"
            )
        return _active_token(answer)


def _active_token(answer: dict[str, object]) -> ActiveToken:
    if answer["active"] is not True:
        raise TokenInactive("not active")
    username = answer.get("username")
    if not isinstance(username, str) or not username:
        raise TokenInactive("the answer names no user")
    expires_at = answer.get("exp")
    if expires_at is not None and (not isinstance(expires_at, int) or expires_at <= time.time()):
        raise TokenInactive("expired")  # the endpoint should have said so; check anyway
    scope = answer.get("scope")
    return ActiveToken(username, scope if isinstance(scope, str) else None, expires_at)
