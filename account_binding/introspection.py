"""OAuth 2.0 token introspection (RFC 7662) of personal API tokens, without HTTP.

A company's own API receives a personal API token from the Slack side and asks this site,
with client credentials of its own (INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET),
whether the token works and whom it acts for. `web.oauth` serves this at /oauth/introspect.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

from .api_tokens import ApiTokenAuthenticator
from .clock import Clock, system_clock
from .models import User
from .store import Store
from .token_validity import TokenValidity

#: The one scope a personal API token has: the internal application's API, as its user.
API_TOKEN_SCOPE = "api"  # noqa: S105 - a scope name, not a secret

#: RFC 7662 section 2.2: an unknown, malformed, revoked or expired token says no more.
INACTIVE: dict[str, Any] = {"active": False}


@dataclass(frozen=True)
class ActiveToken:
    """A personal API token that works now; times in Unix seconds, `expires_at` None when it
    does not expire."""

    user: User
    issued_at: int
    expires_at: int | None

    def claims(self, issuer: str) -> dict[str, Any]:
        """The introspection response's members (RFC 7662 section 2.2): `active`, `sub` (the
        user's subject, their username), `username`, `email` (an extension), `iat`, `exp`
        (only when the token expires), `scope`, `token_type` and `iss` (`issuer`)."""
        claims: dict[str, Any] = {
            "active": True,
            "sub": self.user.subject,
            "username": self.user.username,
            "email": self.user.email,
            "iat": self.issued_at,
            "scope": API_TOKEN_SCOPE,
            "token_type": "Bearer",
            "iss": issuer,
        }
        if self.expires_at is not None:
            claims["exp"] = self.expires_at
        return claims


class TokenIntrospector:
    """Judges personal API tokens by `validity` (the current settings: API_TOKEN_TTL, and
    whether personal tokens are in use at all)."""

    def __init__(
        self,
        store: Store,
        clock: Clock = system_clock,
        validity: TokenValidity | None = None,
    ) -> None:
        self._tokens = ApiTokenAuthenticator(store, clock, validity)

    async def introspect(self, token: str) -> ActiveToken | None:
        """The token's state, or None for an unknown, malformed, revoked or expired token, and
        for every token while personal tokens are not in use (ACT_AS=service). `expires_at`
        is when it stops working under the current API_TOKEN_TTL.

        A string that cannot be a personal API token (another prefix, or over
        MAX_TOKEN_LENGTH characters) is never looked up.
        """
        found = await self._tokens.issued(token)
        if found is None:
            return None
        return ActiveToken(user=found.user, issued_at=found.issued_at, expires_at=found.expires_at)


@dataclass(frozen=True)
class IntrospectionClient:
    """The one client allowed to introspect (RFC 7662 section 2.1: the endpoint MUST require
    authorisation), authenticated with its id and secret (RFC 6749 section 2.3.1)."""

    client_id: str
    client_secret: str = field(repr=False)

    def accepts(self, client_id: str, client_secret: str) -> bool:
        """Whether both match, each compared in constant time (whatever the lengths), and
        both always compared, so timing tells nothing about which one was wrong."""
        id_ok = hmac.compare_digest(_bytes(client_id), _bytes(self.client_id))
        secret_ok = hmac.compare_digest(_bytes(client_secret), _bytes(self.client_secret))
        return id_ok and secret_ok


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")
