"""Login sessions of the web site, kept on the server: the cookie holds only a random ID."""

from __future__ import annotations

from dataclasses import dataclass, field

from .clock import Clock, system_clock
from .store import Store
from .tokens import digest, new_secret

TOUCH_EVERY_SECONDS = 60
#: A login past this many live sessions of one user ends their oldest: logging in again and
#: again (a script with a valid password) cannot grow the sessions table without bound.
MAX_SESSIONS_PER_USER = 10


@dataclass(frozen=True)
class ActiveSession:
    user_id: int
    csrf_token: str = field(repr=False)
    #: SHA-256 of the binding link this session's login was made for, if any.
    link_hash: str | None = None
    #: SHA-256 of the binding link whose Slack identity this session proved (Sign in with
    #: Slack, VERIFY_SLACK_IDENTITY), if any.
    slack_verified_link_hash: str | None = None


class SessionService:
    def __init__(
        self, store: Store, *, idle_timeout: int, max_age: int, clock: Clock = system_clock
    ) -> None:
        self._store = store
        self._idle_timeout = idle_timeout
        self._max_age = max_age
        self._clock = clock

    async def start(self, user_id: int, link_hash: str | None = None) -> str:
        """A new session for `user_id`; returns the cookie value.

        `link_hash` is the SHA-256 of the binding link the login was made for: only such a
        session may confirm that link.
        """
        token = new_secret()
        await self._store.create_session(
            digest(token),
            user_id,
            new_secret(),
            self._clock(),
            link_hash,
            keep_at_most=MAX_SESSIONS_PER_USER,
        )
        return token

    async def resolve(self, token: str) -> ActiveSession | None:
        token_hash = digest(token)
        session = await self._store.get_session(token_hash)
        if session is None:
            return None
        now = self._clock()
        if (
            now - session.last_seen_at > self._idle_timeout
            or now - session.created_at > self._max_age
        ):
            await self._store.delete_session(token_hash)
            return None
        if now - session.last_seen_at > TOUCH_EVERY_SECONDS:
            await self._store.touch_session(token_hash, now)
        return ActiveSession(
            user_id=session.user_id,
            csrf_token=session.csrf_token,
            link_hash=session.link_hash,
            slack_verified_link_hash=session.slack_verified_link_hash,
        )

    async def purge(self) -> None:
        now = self._clock()
        await self._store.purge_sessions(now - self._idle_timeout, now - self._max_age)

    async def end(self, token: str) -> None:
        await self._store.delete_session(digest(token))
