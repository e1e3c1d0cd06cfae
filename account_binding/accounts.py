"""Accounts of the built-in login, and the interface any login backend implements."""

from __future__ import annotations

import re
from typing import Protocol

import anyio
import anyio.to_thread

from .audit import Actor, AuditEvent, AuditLog
from .clock import Clock, system_clock
from .errors import InvalidAccountDetails
from .models import User
from .passwords import MIN_PASSWORD_LENGTH, hash_password, needs_rehash, verify_password
from .store import Store

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}")
MAX_PASSWORD_LENGTH = 1024

#: argon2id takes 64 MiB and tens of milliseconds a hash: at most this many run at once, so
#: a flood of logins queues up instead of exhausting memory.
_HASHING = anyio.CapacityLimiter(2)


class Authenticator(Protocol):
    """A login backend: who, if anyone, these credentials belong to."""

    async def authenticate(self, username: str, password: str) -> User | None: ...


class AccountService:
    def __init__(
        self, store: Store, clock: Clock = system_clock, audit: AuditLog | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        self._audit = audit

    async def add_user(
        self, username: str, email: str, password: str, *, added_by: str | None = None
    ) -> User:
        """Add a built-in account, recorded in the audit log as `user_added` (detail: `added_by`,
        such as "cli") when this service has one.

        Raises InvalidAccountDetails, UsernameTaken, or EmailTaken when another account has
        the email address, case aside.
        """
        username = normalise_username(username)
        if not USERNAME.fullmatch(username):
            raise InvalidAccountDetails(
                "A user name is 1 to 64 characters: letters, digits, '.', '_' or '-', "
                "starting with a letter or digit."
            )
        email = email.strip()
        if not EMAIL.fullmatch(email):
            raise InvalidAccountDetails(f"{email!r} is not an email address.")
        check_password(password)
        password_hash = await anyio.to_thread.run_sync(hash_password, password, limiter=_HASHING)
        user = await self._store.create_user(username, email, password_hash, self._clock())
        if self._audit is not None:
            await self._audit.record(AuditEvent.USER_ADDED, Actor(user=user), detail=added_by)
        return user

    async def set_password(self, user: User, password: str) -> None:
        """Set a new password and end the user's sessions."""
        check_password(password)
        password_hash = await anyio.to_thread.run_sync(hash_password, password, limiter=_HASHING)
        await self._store.set_password_hash(user.id, password_hash)
        await self._store.delete_sessions_of(user.id)

    async def authenticate(self, username: str, password: str) -> User | None:
        if len(password) > MAX_PASSWORD_LENGTH:
            return None
        found = await self._store.find_credentials(normalise_username(username)[:64])
        stored_hash = found[1] if found else None
        # Verified even when the user does not exist, so timing does not reveal accounts.
        ok = await anyio.to_thread.run_sync(
            verify_password, stored_hash, password, limiter=_HASHING
        )
        if not ok or found is None:
            return None
        user, password_hash = found
        if needs_rehash(password_hash):
            await self._store.set_password_hash(
                user.id, await anyio.to_thread.run_sync(hash_password, password, limiter=_HASHING)
            )
        return user

    async def user(self, user_id: int) -> User | None:
        return await self._store.get_user(user_id)

    async def users(self) -> list[User]:
        return await self._store.list_users()

    async def find(self, username: str) -> User | None:
        found = await self._store.find_credentials(normalise_username(username))
        return found[0] if found else None


def normalise_username(username: str) -> str:
    return username.strip().lower()


def check_password(password: str) -> None:
    if not password:
        raise InvalidAccountDetails("No password was given.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidAccountDetails(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidAccountDetails(f"A password has at most {MAX_PASSWORD_LENGTH} characters.")
