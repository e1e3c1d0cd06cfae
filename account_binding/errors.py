"""What can go wrong in the domain, each with a message a person can act on."""

from __future__ import annotations


class DomainError(Exception):
    """Base class; `str(error)` is safe to show to the person concerned."""


class LinkError(DomainError):
    """A binding link cannot be used."""


class LinkNotFound(LinkError):
    def __init__(self) -> None:
        super().__init__(
            "This link is not valid. Run the link command in Slack again for a new one."
        )


class LinkUsed(LinkError):
    def __init__(self) -> None:
        super().__init__(
            "This link has already been used, was cancelled, or was replaced by a newer one. "
            "Run the link command in Slack again if you still need to connect."
        )


class LinkExpired(LinkError):
    def __init__(self) -> None:
        super().__init__(
            "This link has expired. Run the link command in Slack again for a new one."
        )


class AlreadyBound(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "This Slack account is already connected to an account. "
            "Run the unlink command in Slack first to connect it to another one."
        )


class EmailMismatch(LinkError):
    def __init__(self, app_name: str) -> None:
        super().__init__(
            f"This Slack account's email address does not match the email address of your "
            f"{app_name} account, and only matching accounts may be connected. The link no "
            f"longer works. If this Slack account is yours, ask your administrator to make "
            f"the addresses match, then run the link command in Slack again."
        )


class BindingExpired(DomainError):
    """A binding's personal API token expired (API_TOKEN_TTL) or it has none while tokens are
    issued (ACT_AS=token): the binding was removed and the person must link again.

    `reason` is "expired", "no_token", or "no_grant" (a binding without an OAuth grant under
    ACT_AS=oauth2).
    """

    def __init__(self, reason: str = "expired") -> None:
        self.reason = reason
        super().__init__(
            "Your connection has expired, so it was removed. Run the link command to connect "
            "your account again."
            if reason == "expired"
            else "Your connection has no API token to act with, so it was removed. Run the "
            "link command to connect your account again."
            if reason == "no_token"
            else "Your connection was made before the app acted with your own sign-in, so it "
            "was removed. Run the link command to connect your account again."
        )


class SlackUnavailable(DomainError):
    """Slack did not answer in time or answered with a temporary error (429, 5xx, a timeout).

    Never a security refusal: the link stays usable and the person is asked to try again.
    """

    def __init__(self) -> None:
        super().__init__(
            "Slack did not answer in time, so nothing was done and your link still works. "
            "Try again in a minute."
        )


class StoreBusy(DomainError):
    """Another process held the database's write lock for longer than the busy timeout;
    nothing was written. Temporary: the same request may succeed in a moment."""

    def __init__(self) -> None:
        super().__init__("The site is busy and did not finish this. Try again in a minute.")


class LinkRateLimited(DomainError):
    """Too many links were issued to one Slack person recently; `retry_after` is in seconds."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        minutes = max(1, (retry_after + 59) // 60)
        super().__init__(
            "You have asked for many links in a short time. Use the newest one, or ask again "
            f"in {minutes} minute{'s' if minutes != 1 else ''}."
        )


class UsernameTaken(DomainError):
    def __init__(self, username: str) -> None:
        super().__init__(f"A user named {username!r} already exists.")


class EmailTaken(DomainError):
    def __init__(self, email: str) -> None:
        super().__init__(f"Another account already has the email address {email!r}.")


class IdentityTaken(DomainError):
    """An identity at an OpenID provider or proxy already belongs to another account."""

    def __init__(self) -> None:
        super().__init__("That sign-in already belongs to another account.")


class InvalidAccountDetails(DomainError):
    """A user name, email or password does not meet the rules."""


# Issue 10, lifecycle: internal users disabled or removed by an administrator


class AccountDisabled(DomainError):
    """The internal account was disabled (or removed) by an administrator: it cannot log in,
    and no Slack account can be connected to it."""

    def __init__(self, *, removed: bool = False) -> None:
        self.removed = removed
        super().__init__(
            "This account no longer exists, so no Slack account can be connected to it."
            if removed
            else "This account was disabled by an administrator, so you cannot log in with it "
            "and no Slack account can be connected to it. Ask your administrator."
        )


class NoSuchUser(DomainError):
    """No internal account has this user name."""

    def __init__(self, username: str) -> None:
        super().__init__(f"There is no account named {username!r}.")
