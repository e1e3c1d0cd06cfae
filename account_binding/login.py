"""Logging in: the built-in accounts' PasswordAuthenticator behind brute-force throttling and
the audit log (`log_in`), and logins single sign-on vouches for (`log_in_external`).

Failures are counted per account name (whether or not the account exists, so a lockout says
nothing about which accounts exist) and per client address. Each attempt is recorded as a
failure before the password is checked, in the same transaction that checks the limits, so
concurrent attempts cannot all slip under a limit; a success takes its record back. Each
failure is answered more slowly than the last; at a limit, that name or address is refused
until the lockout ends.

Typed user names are kept only as hashes in the throttle, and in the audit log only when
they name an account: people sometimes type a password into the user name field.

A login through an OpenID provider or an authenticating proxy has no password to guess, so it
is not throttled; its successes are capped in the audit log like local ones.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from .accounts import AccountService, ExternalAccountRefused, normalise_username
from .audit import Actor, AuditEvent, AuditLog
from .clock import Clock, system_clock
from .errors import AccountDisabled, DomainError
from .models import User
from .store import Store
from .tokens import digest

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
        accounts: AccountService,
        store: Store,
        audit: AuditLog,
        limits: LoginLimits,
        clock: Clock = system_clock,
    ) -> None:
        self._accounts = accounts  # the PasswordAuthenticator of the built-in accounts
        self._store = store
        self._audit = audit
        self._limits = limits
        self._clock = clock

    async def log_in(self, username: str, password: str, client: str | None) -> User:
        """The account this user name and password open. Raises LoginLocked, LoginFailed, or
        AccountDisabled (the right password of an account an administrator disabled)."""
        name = normalise_username(username)[:64]
        account_key = "user:" + digest(name)
        limits = {account_key: self._limits.max_failures_per_account}
        if client:
            limits["address:" + client] = self._limits.max_failures_per_address
        now = self._clock()
        attempt = await self._store.reserve_login_attempt(
            limits, now, now - self._limits.lockout_seconds
        )
        if attempt.ids is None:
            # Only the first refusal per throttle key and window is recorded: a locked-out
            # client cannot add audit rows at will.
            if attempt.first_refusal:
                await self._audit.record(
                    AuditEvent.LOCKED_OUT, await self._actor(name, client), detail="refused"
                )
            raise LoginLocked(self._limits.lockout_seconds)

        user = await self._accounts.authenticate(username, password)
        if user is not None and user.disabled_at is not None:
            # Issue 10, lifecycle: the right password of a disabled account logs nobody in;
            # the attempt stays counted as a failure.
            await self._audit.record_capped(
                AuditEvent.LOGIN_FAILED, Actor(user=user, client=client), detail="disabled"
            )
            raise AccountDisabled()
        if user is not None:
            await self._store.forget_login_attempt(attempt.ids, account_key)
            # Capped like refusals: a script logging in again and again with a valid password
            # adds at most CAPPED_PER_HOUR rows an hour per address.
            await self._audit.record_capped(AuditEvent.LOGIN, Actor(user=user, client=client))
            return user

        actor = await self._actor(name, client)
        await self._audit.record(AuditEvent.LOGIN_FAILED, actor)
        failures = await self._store.count_login_failures(
            account_key, now - self._limits.lockout_seconds
        )
        if failures >= self._limits.max_failures_per_account:
            await self._audit.record(AuditEvent.LOCKED_OUT, actor, detail="limit reached")
        await asyncio.sleep(min(self._limits.slowdown_seconds * failures, MAX_SLOWDOWN_SECONDS))
        raise LoginFailed()

    async def log_in_external(
        self,
        issuer: str,
        subject: str,
        username: str,
        email: str,
        client: str | None,
        *,
        via: str,
    ) -> User:
        """A login `issuer` vouches for (AUTH=oidc or proxy; `via` names which, as the audit
        detail): the account from `AccountService.sign_in_external`, recorded as `login`,
        capped per hour and client like local successes.

        Raises ExternalAccountRefused (recorded as `login_failed`, detail `<via>:<reason>`,
        capped too: the same person retrying cannot fill the log).
        """
        try:
            user = await self._accounts.sign_in_external(issuer, subject, username, email)
        except ExternalAccountRefused as error:
            actor = Actor(client=client, username=normalise_username(username)[:64])
            await self._audit.record_capped(
                AuditEvent.LOGIN_FAILED, actor, detail=f"{via}:{error.reason}"
            )
            raise
        await self._audit.record_capped(
            AuditEvent.LOGIN, Actor(user=user, client=client), detail=via
        )
        return user

    async def purge(self) -> None:
        await self._store.purge_login_failures(self._clock() - self._limits.lockout_seconds)

    async def _actor(self, name: str, client: str | None) -> Actor:
        user = await self._accounts.find(name)
        return Actor(user=user, client=client)
