"""Logging in: an Authenticator behind brute-force throttling and the audit log.

Failures are counted per account name (whether or not the account exists, so a lockout says
nothing about which accounts exist) and per client address. Each failure is answered more
slowly than the last; at the limit, that name or address is refused until the lockout ends.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from .accounts import Authenticator, normalise_username
from .audit import Actor, AuditEvent, AuditLog
from .clock import Clock, system_clock
from .errors import DomainError
from .models import User
from .store import Store

MAX_SLOWDOWN_SECONDS = 5.0


@dataclass(frozen=True)
class LoginLimits:
    max_failures_per_account: int = 5
    max_failures_per_address: int = 20
    lockout_seconds: int = 900
    slowdown_seconds: float = 0.5


class LoginFailed(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "That user name and password do not match an account. Check them and try again."
        )


class LoginLocked(DomainError):
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        minutes = max(1, (retry_after + 59) // 60)
        super().__init__(
            f"Too many failed attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}."
        )


class LoginService:
    def __init__(
        self,
        authenticator: Authenticator,
        store: Store,
        audit: AuditLog,
        limits: LoginLimits,
        clock: Clock = system_clock,
    ) -> None:
        self._authenticator = authenticator
        self._store = store
        self._audit = audit
        self._limits = limits
        self._clock = clock

    async def log_in(self, username: str, password: str, client: str | None) -> User:
        name = normalise_username(username)[:64]
        keys = [f"user:{name}"] + ([f"address:{client}"] if client else [])
        now = self._clock()
        since = now - self._limits.lockout_seconds
        failures = {key: await self._store.count_login_failures(key, since) for key in keys}
        limits = {
            keys[0]: self._limits.max_failures_per_account,
            **({keys[1]: self._limits.max_failures_per_address} if client else {}),
        }
        if any(failures[key] >= limits[key] for key in keys):
            await self._audit.record(
                AuditEvent.LOCKED_OUT, Actor(client=client, username=name), detail="refused"
            )
            raise LoginLocked(self._limits.lockout_seconds)

        user = await self._authenticator.authenticate(username, password)
        if user is not None:
            await self._store.clear_login_failures(keys[0])
            await self._audit.record(AuditEvent.LOGIN, Actor(user=user, client=client))
            return user

        await self._store.add_login_failure(keys, now)
        await self._audit.record(AuditEvent.LOGIN_FAILED, Actor(client=client, username=name))
        if any(failures[key] + 1 >= limits[key] for key in keys):
            await self._audit.record(
                AuditEvent.LOCKED_OUT, Actor(client=client, username=name), detail="limit reached"
            )
        worst = max(failures.values()) + 1
        await asyncio.sleep(min(self._limits.slowdown_seconds * worst, MAX_SLOWDOWN_SECONDS))
        raise LoginFailed()

    async def purge(self) -> None:
        await self._store.purge_login_failures(self._clock() - self._limits.lockout_seconds)
