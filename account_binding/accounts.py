"""The internal accounts: the built-in ones (user name and password) and those single sign-on
makes (`sign_in_external`: an OpenID provider's or an authenticating proxy's person, keyed by
issuer and subject).

Which login backend is in use (AUTH=local|oidc|proxy) is the web layer's affair
(`web.authentication`); this module only answers "whose account is this".
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Protocol

import anyio
import anyio.to_thread

from .audit import Actor, AuditEvent, AuditLog
from .clock import Clock, system_clock
from .errors import (
    AccountDisabled,
    DomainError,
    EmailTaken,
    IdentityTaken,
    InvalidAccountDetails,
    UsernameTaken,
)
from .models import User
from .passwords import MIN_PASSWORD_LENGTH, hash_password, needs_rehash, verify_password
from .store import Store
from .text import ascii_lower, ascii_strip

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
#: A user name single sign-on may make: a local one, optionally followed by "@" and a domain,
#: since many providers name people by email address or UPN (Google, Microsoft Entra).
EXTERNAL_USERNAME = re.compile(
    r"[a-z0-9][a-z0-9._-]{0,63}(?:@[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?)?"
)
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}")
MAX_PASSWORD_LENGTH = 1024

#: argon2id takes 64 MiB and tens of milliseconds a hash: at most this many run at once, so
#: a flood of logins queues up instead of exhausting memory.
_HASHING = anyio.CapacityLimiter(2)


class PasswordAuthenticator(Protocol):
    """The built-in login's check: who, if anyone, this user name and password belong to.

    Only AUTH=local asks it; the other backends (`web.authentication`) learn who a person is
    from an OpenID provider or a proxy, and find the account with `sign_in_external`.
    """

    async def authenticate(self, username: str, password: str) -> User | None: ...


class ExternalAccountRefused(DomainError):
    """A single sign-on identity cannot have an account here: its user name or email address
    belongs to another account (never taken over), or its user name is not one this site
    allows. `reason` is "username_taken", "email_taken" or "invalid_username" (for the audit
    log); `str(error)` is safe to show the person."""

    #: The page that says so: its HTTP status and title.
    status = 409
    title = "No account for you here"

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


# Issue 10, lifecycle: a disabled account does not sign in, whoever vouches for the person


class ExternalAccountDisabled(ExternalAccountRefused):
    """The single sign-on identity's account was disabled by an administrator (reason
    "disabled")."""

    status = 403
    title = "Account disabled"

    def __init__(self) -> None:
        super().__init__("disabled", str(AccountDisabled()))


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
        email = ascii_strip(email)
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

    async def sign_in_external(self, issuer: str, subject: str, username: str, email: str) -> User:
        """The account of the person `issuer` vouches for as `subject`, made at their first
        login; later logins update its email address (when `email` is not "").

        `issuer` is the OpenID provider's issuer identifier (or "proxy:" + the header name);
        `subject` its `sub` claim, which with the issuer is the key (OpenID Connect Core 1.0
        section 5.7): never the email address or the user name, so an existing account,
        local or not, is never taken over by a person whose claims match it. `username`
        (normalised like local names: trimmed, lower case) is only the new account's name;
        `email` is "" when none is known (or not verified). Made accounts have no password
        (`passwords.NO_PASSWORD`, which no password matches) and are audited as
        `user_added` with the issuer as detail.

        Raises ExternalAccountRefused when the name or the email belongs to another account,
        or the name is not allowed; nothing is written then.
        """
        user = await self._store.find_user_by_identity(issuer, subject)
        email = ascii_strip(email)
        if email and not EMAIL.fullmatch(email):
            email = ""
        if user is not None:
            if user.disabled_at is not None:  # Issue 10, lifecycle
                raise ExternalAccountDisabled()
            if email and email != user.email:
                try:
                    await self._store.set_user_email(user.id, email)
                except EmailTaken:
                    raise _email_taken(email) from None
                user = replace(user, email=email)
            return user
        name = normalise_username(username)
        if not EXTERNAL_USERNAME.fullmatch(name):
            raise ExternalAccountRefused(
                "invalid_username",
                f"Your sign-in names you {username[:80]!r}, which cannot be a user name here "
                "(letters, digits, '.', '_' or '-', optionally followed by '@' and a domain), "
                "so no account was made. Ask your administrator."
                if name
                else "Your sign-in did not give a user name, so no account could be made for "
                "you. Ask your administrator.",
            )
        try:
            user = await self._store.create_external_user(
                name, email, issuer, subject, self._clock()
            )
        except (UsernameTaken, EmailTaken, IdentityTaken) as error:
            # A first login of the same person at the same moment made the account: use it.
            made = await self._store.find_user_by_identity(issuer, subject)
            if made is not None:
                return made
            if isinstance(error, EmailTaken):
                raise _email_taken(email) from None
            raise ExternalAccountRefused(
                "username_taken",
                f"There is already an account named {name!r} here, and it is not linked to "
                "the sign-in you used, so it was not opened for you and no account was made. "
                "Ask your administrator.",
            ) from None
        if self._audit is not None:  # as `add_user`: an account made at its first sign-in
            await self._audit.record(AuditEvent.USER_ADDED, Actor(user=user), detail=issuer)
        return user

    async def user(self, user_id: int) -> User | None:
        return await self._store.get_user(user_id)

    async def users(self) -> list[User]:
        return await self._store.list_users()

    async def find(self, username: str) -> User | None:
        found = await self._store.find_credentials(normalise_username(username))
        return found[0] if found else None


def _email_taken(email: str) -> ExternalAccountRefused:
    return ExternalAccountRefused(
        "email_taken",
        f"Another account here already has the email address {email!r}, and it is not "
        "linked to the sign-in you used, so you were not logged in. Ask your administrator.",
    )


def normalise_username(username: str) -> str:
    """Trimmed, A to Z lower-cased (`text.ascii_lower`): never another character folded onto
    an ASCII letter, so a look-alike cannot become an existing name."""
    return ascii_lower(ascii_strip(username))


def check_password(password: str) -> None:
    if not password:
        raise InvalidAccountDetails("No password was given.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidAccountDetails(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidAccountDetails(f"A password has at most {MAX_PASSWORD_LENGTH} characters.")
