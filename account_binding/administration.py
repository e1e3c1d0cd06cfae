"""What an administrator does from the command line: list the bindings, remove some, set a
built-in account's password (`account-binding binding list|remove`, `user set-password`).

Every change is audited, with the administrator's client ("cli") as the actor's client.
No Slack or HTTP here: the command line tells the Slack people whose bindings it removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .accounts import AccountService, normalise_username
from .audit import Actor, AuditEvent, AuditLog
from .binding import BindingService
from .errors import DomainError
from .models import Binding, User
from .outbox import NoticeKind
from .passwords import NO_PASSWORD
from .store import BindingFilter, ListedBinding, Store

#: Issue 11, outbox: what the Slack person whose binding an administrator removed is told.
NOTICE = NoticeKind.REMOVED_BY_ADMIN


class NoSuchUser(DomainError):
    def __init__(self, username: str) -> None:
        self.username = username
        super().__init__(f"There is no account named {username!r}.")


class NoPasswordHere(DomainError):
    """The account was made by single sign-on (AUTH=oidc or proxy): it has no password here,
    and giving it one would open a second way in that its provider does not control."""

    def __init__(self, username: str) -> None:
        super().__init__(
            f"{username} signs in through single sign-on and has no password here; "
            "change their password at the identity provider."
        )


class NoBindingMatches(DomainError):
    def __init__(self, what: str) -> None:
        super().__init__(f"No binding matches {what}.")


class SlackUserInSeveralWorkspaces(DomainError):
    """A Slack user ID bound in more than one workspace or organisation: say which."""

    def __init__(self, slack_user_id: str, workspaces: Sequence[str]) -> None:
        self.workspaces = tuple(workspaces)
        super().__init__(
            f"{slack_user_id} is bound in {len(workspaces)} workspaces "
            f"({', '.join(workspaces)}): add --workspace to say which."
        )


@dataclass(frozen=True)
class Selection:
    """Which bindings to remove: exactly one of the binding's `binding_id`, a Slack user
    (`slack_user_id`, in `workspace`: a team or Enterprise Grid organisation ID, needed only
    when that user ID is bound in several), or every binding of the internal user
    `username`."""

    binding_id: int | None = None
    slack_user_id: str | None = None
    workspace: str | None = None
    username: str | None = None

    def __post_init__(self) -> None:
        given = [self.binding_id, self.slack_user_id, self.username]
        if sum(value is not None for value in given) != 1:
            raise ValueError("a selection names one binding ID, Slack user or user name")
        if self.workspace is not None and self.slack_user_id is None:
            raise ValueError("a workspace narrows a Slack user only")


class Administration:
    """`bindings` removes bindings; without it (listing, passwords) `remove` cannot be used,
    and nothing needs SECRET_KEY."""

    def __init__(
        self,
        store: Store,
        accounts: AccountService,
        audit: AuditLog,
        bindings: BindingService | None = None,
    ) -> None:
        self._store = store
        self._bindings = bindings
        self._accounts = accounts
        self._audit = audit

    async def bindings(self, where: BindingFilter) -> list[ListedBinding]:
        """The bindings `where` selects, oldest first (its user name is normalised as logins
        normalise it)."""
        if where.username is not None:
            where = BindingFilter(
                binding_id=where.binding_id,
                username=normalise_username(where.username),
                slack_user_id=where.slack_user_id,
                workspace=where.workspace,
                since=where.since,
            )
        return await self._store.list_bindings(where)

    async def select(self, selection: Selection) -> list[ListedBinding]:
        """The bindings `selection` names, at least one.

        Raises NoSuchUser (no account of that name), NoBindingMatches, or
        SlackUserInSeveralWorkspaces when a Slack user ID without a workspace is bound in
        several workspaces or organisations.
        """
        if selection.username is not None:
            username = normalise_username(selection.username)
            if await self._accounts.find(username) is None:
                raise NoSuchUser(username)
            found = await self._store.list_bindings(BindingFilter(username=username))
            if not found:
                raise NoBindingMatches(f"the user {username} (they have none)")
            return found
        if selection.binding_id is not None:
            found = await self._store.list_bindings(BindingFilter(binding_id=selection.binding_id))
            if not found:
                raise NoBindingMatches(f"the ID {selection.binding_id}")
            return found
        assert selection.slack_user_id is not None
        found = await self._store.list_bindings(
            BindingFilter(slack_user_id=selection.slack_user_id, workspace=selection.workspace)
        )
        if not found:
            where = f" in {selection.workspace}" if selection.workspace else ""
            raise NoBindingMatches(f"the Slack user {selection.slack_user_id}{where}")
        if len(found) > 1:
            raise SlackUserInSeveralWorkspaces(
                selection.slack_user_id, [row.binding.identity.scope_id for row in found]
            )
        return found

    async def remove(self, listed: Sequence[ListedBinding], actor: Actor) -> list[Binding]:
        """Remove each binding as unlink does (`BindingService.unbind`: its personal token
        revoked in the same transaction, its OAuth grant revoked at the provider after,
        audited as `unbound` naming the account it belonged to, with `actor`'s client), the
        DM telling its Slack person written to the outbox in the same transaction (issue 11,
        `NoticeKind.REMOVED_BY_ADMIN`); the bindings removed, without those another process
        removed first."""
        assert self._bindings is not None, "built without a BindingService"
        removed = []
        for row in listed:
            binding = await self._bindings.unbind(row.binding.identity, actor, NOTICE)
            if binding is not None:
                removed.append(binding)
        return removed

    async def set_password(self, username: str, password: str, actor: Actor) -> User:
        """Give the built-in account `username` a new password and end its sessions, audited
        as `password_set` with `actor`'s client as detail.

        Raises NoSuchUser, NoPasswordHere (an account single sign-on made), or
        InvalidAccountDetails for a password the rules refuse (nothing changed then).
        """
        username = normalise_username(username)
        found = await self._store.find_credentials(username)
        if found is None:
            raise NoSuchUser(username)
        user, password_hash = found
        if password_hash == NO_PASSWORD:
            raise NoPasswordHere(user.username)
        await self._accounts.set_password(user, password)
        await self._audit.record(
            AuditEvent.PASSWORD_SET, Actor(user=user, client=actor.client), detail=actor.client
        )
        return user
