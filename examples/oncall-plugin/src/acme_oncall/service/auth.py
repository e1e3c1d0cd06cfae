"""How the on-call API accepts the account-binding product's credentials.

Every request carries `Authorization: Bearer <credential>` (RFC 6750 section 2.1). The
service takes whichever of the product's acting modes it is configured for (one or both):

- ACT_AS=token: the credential is the person's own token, which the binding site issued.
  It is checked at each request at the site's introspection endpoint (`introspection.py`,
  RFC 7662; nothing cached) and the caller is the answer's `username`.
- ACT_AS=service: the credential is the one service token shared with the product,
  compared in constant time (`hmac.compare_digest`), and the caller is the user named in the
  impersonation header (`Impersonate-User` unless configured otherwise). Whoever holds this
  token can act as anyone, so every request logs the impersonated user.

Refusals are JSON `{"error": "..."}`: 401 with `WWW-Authenticate: Bearer` for a missing or
unaccepted credential (RFC 6750 section 3), 400 for a service call naming nobody or naming
in a malformed way, 403 for an impersonation header sent with a credential that is not the
service token, 503 when the introspection endpoint cannot answer (the token may be fine).
"""

from __future__ import annotations

import hmac
import logging
import re
from dataclasses import dataclass, field
from typing import Literal

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from .introspection import IntrospectionUnavailable, Introspector, TokenInactive

log = logging.getLogger(__name__)

REALM = "acme-oncall"
DEFAULT_IMPERSONATE_HEADER = "Impersonate-User"
#: The user names this service knows: the account-binding product's, and e-mail-like ones.
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")
#: RFC 6750 section 2.1's b64token.
_BEARER = re.compile(r"Bearer +([A-Za-z0-9\-._~+/]+=*)", re.IGNORECASE)
#: An HTTP field name (RFC 9110 section 5.1: a token).
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


@dataclass(frozen=True)
class ServiceCredential:
    """The product's INTERNAL_API_TOKEN and IMPERSONATE_HEADER, as this service knows them."""

    token: str = field(repr=False)
    impersonate_header: str = DEFAULT_IMPERSONATE_HEADER

    def __post_init__(self) -> None:
        if len(self.token) < 32:
            raise ValueError("the service token must be at least 32 characters")
        if not _FIELD_NAME.fullmatch(self.impersonate_header):
            raise ValueError(f"{self.impersonate_header!r} is not an HTTP field name")


@dataclass(frozen=True)
class Caller(BaseUser):
    """Who a request acts as, and how the service knows: `via` "token" (introspected) or
    "service" (the service credential naming them)."""

    username: str
    via: Literal["token", "service"]

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.username

    @property
    def identity(self) -> str:
        return self.username


class Refused(AuthenticationError):
    """A request the service will not serve: `status`, and `message` for the JSON body."""

    def __init__(self, status: int, message: str, bearer_error: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.bearer_error = bearer_error


class CredentialsBackend(AuthenticationBackend):
    """Starlette's authentication backend for the two modes; at least one must be given."""

    def __init__(
        self, *, introspector: Introspector | None, service: ServiceCredential | None
    ) -> None:
        if introspector is None and service is None:
            raise ValueError("configure token introspection, the service credential, or both")
        self._introspector = introspector
        self._service = service

    @property
    def impersonate_header(self) -> str | None:
        return self._service.impersonate_header if self._service else None

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser]:
        """Raises Refused."""
        match = _BEARER.fullmatch(conn.headers.get("authorization", "").strip())
        if match is None:
            raise Refused(401, "Send a credential: Authorization: Bearer <token>.")
        credential = match.group(1)
        header = self._service.impersonate_header if self._service else DEFAULT_IMPERSONATE_HEADER
        named = conn.headers.getlist(header)
        if self._service and hmac.compare_digest(credential.encode(), self._service.token.encode()):
            return AuthCredentials(["oncall"]), _impersonated(named, header)
        if named:
            raise Refused(403, f"Only the service credential may name a user in {header}.")
        if self._introspector is None:
            raise Refused(401, "This credential is not accepted.", "invalid_token")
        try:
            active = await self._introspector.check(credential)
        except TokenInactive:
            raise Refused(401, "This token is not active.", "invalid_token") from None
        except IntrospectionUnavailable as error:
            log.error("Cannot check a bearer token: %s", error)
            raise Refused(503, "The credential cannot be checked now; try again.") from None
        if not USERNAME.fullmatch(active.username):
            raise Refused(401, "This token names a user the service cannot serve.", "invalid_token")
        return AuthCredentials(["oncall"]), Caller(active.username, "token")


def _impersonated(named: list[str], header: str) -> Caller:
    if len(named) != 1:
        raise Refused(400, f"Name exactly one user in {header} with the service credential.")
    username = named[0].strip()
    if not USERNAME.fullmatch(username):
        raise Refused(400, f"{header} must be a user name ({USERNAME.pattern}).")
    return Caller(username, "service")


def refusal(conn: HTTPConnection, error: AuthenticationError) -> Response:
    """The response for a Refused request (Starlette's `on_error`)."""
    status = error.status if isinstance(error, Refused) else 401
    message = error.message if isinstance(error, Refused) else "Not authenticated."
    headers = {}
    if status == 401:
        challenge = f'Bearer realm="{REALM}"'
        if isinstance(error, Refused) and error.bearer_error:
            challenge += f', error="{error.bearer_error}"'
        headers["WWW-Authenticate"] = challenge
    return JSONResponse({"error": message}, status_code=status, headers=headers)
