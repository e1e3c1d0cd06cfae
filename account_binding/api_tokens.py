"""Who a personal API token belongs to."""

from __future__ import annotations

from .clock import Clock, system_clock
from .models import User
from .store import IssuedToken, Store
from .token_validity import TokenValidity
from .tokens import API_TOKEN_PREFIX, digest

MAX_TOKEN_LENGTH = 128


class ApiTokenAuthenticator:
    """Finds a personal API token's user, judging the token by `validity` (the current
    settings: API_TOKEN_TTL, and whether personal tokens are in use at all)."""

    def __init__(
        self,
        store: Store,
        clock: Clock = system_clock,
        validity: TokenValidity | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self.validity = validity or TokenValidity()

    async def issued(self, token: str) -> IssuedToken | None:
        """The token as issued (its user, issue time and effective expiry), or None for an
        unknown, malformed, revoked or expired token, and for every token while personal
        tokens are not in use (ACT_AS=service). A string that cannot be a personal API token
        (another prefix, or over MAX_TOKEN_LENGTH characters) is never looked up."""
        if not token.startswith(API_TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
            return None
        return await self._store.find_token(digest(token), self._clock(), self.validity)

    async def user_for(self, token: str) -> User | None:
        """The token's user, or None (as `issued`)."""
        found = await self.issued(token)
        return found.user if found else None
