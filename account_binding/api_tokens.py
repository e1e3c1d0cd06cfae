"""Who a personal API token belongs to."""

from __future__ import annotations

from .clock import Clock, system_clock
from .models import User
from .store import Store
from .tokens import API_TOKEN_PREFIX, digest

MAX_TOKEN_LENGTH = 128


class ApiTokenAuthenticator:
    def __init__(self, store: Store, clock: Clock = system_clock) -> None:
        self._store = store
        self._clock = clock

    async def user_for(self, token: str) -> User | None:
        """The token's user, or None for an unknown, malformed or revoked token."""
        if not token.startswith(API_TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
            return None
        return await self._store.find_token_user(digest(token), self._clock())
