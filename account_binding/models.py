"""The records the domain works with."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SlackIdentity:
    """A Slack user as the app knows them.

    `scope_id` is the Enterprise Grid organisation ID where there is one, else the workspace
    (team) ID: a Grid user keeps one user ID across the organisation's workspaces, so a person
    is identified by (scope_id, user_id).
    """

    scope_id: str
    user_id: str
    team_id: str
    enterprise_id: str | None = None

    @classmethod
    def from_ids(cls, *, team_id: str, user_id: str, enterprise_id: str | None) -> SlackIdentity:
        return cls(
            scope_id=enterprise_id or team_id,
            user_id=user_id,
            team_id=team_id,
            enterprise_id=enterprise_id or None,
        )


@dataclass(frozen=True)
class SlackProfile:
    """What the page shows of a Slack person, as Slack reported it."""

    user_name: str
    team_name: str
    app_id: str | None = None
    real_name: str | None = None
    #: The slash command the person ran, such as "/acme", so pages can name it.
    command: str | None = None

    @property
    def display(self) -> str:
        return self.real_name or self.user_name


@dataclass(frozen=True)
class SlackPerson:
    """A Slack user's profile as Slack reports it now (users.info)."""

    real_name: str
    display_name: str
    email: str | None
    image_url: str | None


@dataclass(frozen=True)
class User:
    """An account in the internal application."""

    id: int
    username: str
    email: str
    created_at: int
    # Issue 10, lifecycle: when an administrator disabled the account (Unix seconds); None
    # while it is enabled. A disabled account cannot log in, and nothing binds to it.
    disabled_at: int | None = None

    @property
    def subject(self) -> str:
        """The identifier of this user that never changes: the local username (usernames
        cannot be renamed). Introspection's `sub` and the impersonation header carry it."""
        return self.username


@dataclass(frozen=True)
class BindingRequest:
    """A pending link: the Slack identity waiting for an internal account."""

    identity: SlackIdentity
    profile: SlackProfile
    created_at: int
    expires_at: int
    used_at: int | None
    #: Why the link stopped working before it expired, when it did: "bound", "replaced" (a
    #: newer link was issued), "cancelled", "refused" (an email or Slack identity mismatch)
    #: or "ended" (its Slack user or workspace went away). None while it is usable, after it
    #: simply expired, and for links voided before this was recorded.
    ended_reason: str | None = None
    #: The command text that started binding, run once the binding is made; None: nothing.
    resume_text: str | None = None

    def expired_unused(self, now: int) -> bool:
        """Whether the link ran out of time without being used or replaced."""
        return self.used_at is None and self.expires_at <= now


@dataclass(frozen=True)
class Binding:
    """A Slack identity bound to an internal user."""

    id: int
    user_id: int
    identity: SlackIdentity
    profile: SlackProfile
    #: The personal API token issued at binding; None when none was (ACT_AS=service).
    api_token_id: int | None
    created_at: int
    # Issue 10, unbinding:
    #: The binding's public ID: 32 hex digits, random, never reused (unlike `id`), which the
    #: Disconnect button and the web's Remove carry. None on the Binding `complete_binding`
    #: returns (the database gives it after the insert) and for rows made without it.
    public_id: str | None = None
    #: When the Slack side last acted with the binding (Unix seconds, to the minute); None:
    #: not since it was made.
    last_used_at: int | None = None
