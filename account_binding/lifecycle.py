"""How bindings end besides unbinding: Slack says a workspace, an organisation or a person
went away, or an administrator disables or removes an internal account.

- Slack (the Events API): `app_uninstalled`, and `tokens_revoked` naming the bot's token,
  end every binding of the workspace (of the organisation, for an org-wide install on
  Enterprise Grid); `user_change` for a deactivated or deleted user ends that person's. Their
  unused links stop working (ended_reason "ended"). Each removal is audited as
  `binding_removed_by_slack` with the event's name. Nobody is sent a DM: the app can no longer
  post there, or the person is gone. Each delivery is handled once (`first_delivery`, on
  Slack's `event_id`).
- An administrator (`account-binding user disable|enable|remove`): a disabled account keeps
  its row but loses its bindings, API tokens and sessions, cannot log in and cannot be bound
  to; a removed one is deleted with everything keyed on it (the audit log stays). Each Slack
  person who was bound to it is noted (`ended_bindings`), so that their next command tells
  them why instead of sending a new link, and is told by DM: the outbox row (issue 11) is
  written in the same transaction, and whichever process sends the outbox delivers it. Audited
  as `user_disabled`, `user_enabled`, `user_removed`, and `unbound` (detail `user_disabled`
  or `user_removed`) for each binding.

Every removal revokes the bindings' OAuth grants at the provider (ACT_AS=oauth2, RFC 7009)
after the bindings are gone, several at once and each within a deadline, so that one slow
answer holds up none of the others; a failure is logged and undoes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from .accounts import normalise_username
from .audit import Actor, AuditEvent, AuditLog
from .clock import Clock, system_clock
from .errors import NoSuchUser
from .models import Binding, SlackIdentity, User
from .outbox import NoticeKind
from .store import EndedBinding, EndedUser, RemovedBinding, SlackSelection, Store, StoredGrant

if TYPE_CHECKING:
    from .oauth_grants import OAuthGrants

log = logging.getLogger(__name__)

#: How long a handled Events API delivery is remembered, in seconds: Slack retries a delivery
#: within minutes (up to three times), so a day is plenty.
EVENT_MEMORY_SECONDS = 24 * 3600
#: Grant revocations (or DMs) under way at once.
CONCURRENCY = 8
#: Seconds the notifier may take about one removal (the DM itself is the outbox's).
DM_DEADLINE_SECONDS = 20.0

#: The events after which Slack removes bindings, as the audit log names them.
SLACK_EVENTS = ("app_uninstalled", "tokens_revoked", "user_change")


class EndedNotifier(Protocol):
    """Told that a Slack person's binding ended because an administrator disabled or removed
    the internal account `username` (`reason` "disabled" or "removed"). The DM is the
    outbox's (written with the removal); this is for what may stay best effort."""

    async def binding_ended(self, binding: Binding, username: str, reason: str) -> None: ...


class Lifecycle:
    def __init__(
        self,
        store: Store,
        audit: AuditLog,
        *,
        grants: OAuthGrants | None = None,
        revoke_deadline_seconds: float = 30.0,
        notifier: EndedNotifier | None = None,
        clock: Clock = system_clock,
    ) -> None:
        """`grants`: under ACT_AS=oauth2, where removed bindings' grants are revoked (None:
        a removed binding that has one is logged as not revoked). `revoke_deadline_seconds`
        bounds each grant's revocation (its refresh and access tokens). `notifier`: told of
        each binding an administrator's removal ended, after it committed (None: nobody);
        the DMs are outbox rows the removal writes whatever `notifier` is."""
        self._store = store
        self._audit = audit
        self._grants = grants
        self._revoke_deadline = revoke_deadline_seconds
        self._notifier = notifier
        self._clock = clock

    # Slack's lifecycle events

    async def first_delivery(self, event_id: str) -> bool:
        """Whether this is the first delivery of the Events API event `event_id` (Slack
        retries deliveries): recorded in the same write that checks it."""
        return await self._store.note_slack_event(event_id, self._clock())

    async def purge(self) -> int:
        """Forget deliveries older than EVENT_MEMORY_SECONDS; how many."""
        return await self._store.purge_slack_events(self._clock() - EVENT_MEMORY_SECONDS)

    async def slack_went_away(self, where: SlackSelection, event: str) -> list[Binding]:
        """Slack's `event` (one of SLACK_EVENTS) says the workspace, organisation or person
        `where` is gone for this app: remove their bindings (API tokens revoked), void their
        unused links, audit each removal as `binding_removed_by_slack` with the event as
        detail, then revoke the removed bindings' OAuth grants. The bindings removed."""
        removed = await self._store.remove_slack_bindings(where, self._clock())
        owners: dict[int, User | None] = {}
        for item in removed:
            binding = item.binding
            if binding.user_id not in owners:
                owners[binding.user_id] = await self._store.get_user(binding.user_id)
            await self._audit.record(
                AuditEvent.BINDING_REMOVED_BY_SLACK,
                Actor(user=owners[binding.user_id], client="slack"),
                binding.identity,
                detail=event,
            )
        if removed:
            log.info("Slack's %s ended %d binding(s) of the %s", event, len(removed), where)
        await self._revoke_grants(removed)
        return [item.binding for item in removed]

    # Internal accounts, by an administrator

    async def disable_user(self, username: str, actor: Actor) -> EndedUser:
        """Disable the account: its bindings are removed (tokens and grants revoked), its
        sessions ended, and it cannot log in or be bound to until enabled. Each Slack person
        who was bound to it is noted, so that their next command says why, and DMed.
        Disabling a disabled account again removes nothing more. Raises NoSuchUser."""
        user = await self._user_named(username)
        ended = await self._store.disable_user(user.id, self._clock(), NoticeKind.ENDED)
        if ended is None:
            raise NoSuchUser(username)
        again = ended.user.disabled_at is not None
        await self._audit.record(
            AuditEvent.USER_DISABLED,
            Actor(user=ended.user, client=actor.client),
            detail="already disabled" if again else None,
        )
        await self._ended(ended, actor, "disabled")
        return ended

    async def enable_user(self, username: str, actor: Actor) -> bool:
        """Let a disabled account log in and be bound to again (no binding comes back);
        whether it was disabled. Raises NoSuchUser."""
        user = await self._user_named(username)
        was_disabled = await self._store.enable_user(user.id)
        await self._audit.record(
            AuditEvent.USER_ENABLED,
            Actor(user=user, client=actor.client),
            detail=None if was_disabled else "was not disabled",
        )
        return was_disabled

    async def remove_user(self, username: str, actor: Actor) -> EndedUser:
        """Delete the account and everything keyed on it (`Store.delete_user`); the audit
        log keeps its entries, which carry the user name. Each Slack person who was bound to
        it is noted and DMed as for `disable_user`. Raises NoSuchUser."""
        user = await self._user_named(username)
        ended = await self._store.delete_user(user.id, self._clock(), NoticeKind.ENDED)
        if ended is None:
            raise NoSuchUser(username)
        await self._audit.record(
            AuditEvent.USER_REMOVED, Actor(user=ended.user, client=actor.client)
        )
        await self._ended(ended, actor, "removed")
        return ended

    async def user_named(self, username: str) -> User:
        """The account of that name. Raises NoSuchUser."""
        return await self._user_named(username)

    async def bindings_of(self, user: User) -> list[Binding]:
        return await self._store.bindings_of(user.id)

    # The Slack side

    async def ended_binding(self, identity: SlackIdentity) -> EndedBinding | None:
        """Why `identity`'s binding ended, when an administrator ended it and they have not
        bound again: their command says so instead of sending a new link."""
        return await self._store.ended_binding(identity)

    # helpers

    async def _user_named(self, username: str) -> User:
        found = await self._store.find_credentials(normalise_username(username))
        if found is None:
            raise NoSuchUser(username)
        return found[0]

    async def _ended(self, ended: EndedUser, actor: Actor, reason: str) -> None:
        """After an administrator's removal: audit each binding, revoke grants, tell the
        notifier (the DMs are already in the outbox)."""
        for item in ended.removed:
            await self._audit.record(
                AuditEvent.UNBOUND,
                Actor(user=ended.user, client=actor.client),
                item.binding.identity,
                detail=f"user_{reason}",
            )
        await self._revoke_grants(ended.removed)
        notifier = self._notifier
        if notifier is None or not ended.removed:
            return
        username = ended.user.username

        def tell(binding: Binding) -> Callable[[], Awaitable[None]]:
            return lambda: notifier.binding_ended(binding, username, reason)

        await _each_within(
            [tell(item.binding) for item in ended.removed],
            DM_DEADLINE_SECONDS,
            "telling about the end of a binding",
        )

    async def _revoke_grants(self, removed: Sequence[RemovedBinding]) -> None:
        grants = [item.grant for item in removed if item.grant is not None]
        if not grants:
            return
        if self._grants is None:
            log.warning(
                "%d removed binding(s) had OAuth tokens, but no ACT_AS=oauth2 provider is "
                "configured now, so they were not revoked at their provider",
                len(grants),
            )
            return
        oauth = self._grants

        def revoke(grant: StoredGrant) -> Callable[[], Awaitable[None]]:
            return lambda: oauth.revoke(grant)

        await _each_within(
            [revoke(grant) for grant in grants],
            self._revoke_deadline,
            "revoking a removed binding's OAuth grant",
        )


async def _each_within(
    work: Sequence[Callable[[], Awaitable[None]]], deadline_seconds: float, what: str
) -> None:
    """Run every piece of `work`, CONCURRENCY at a time, each within `deadline_seconds`: a
    slow or failing one is logged and holds up none of the others."""
    limit = asyncio.Semaphore(CONCURRENCY)

    async def run(piece: Callable[[], Awaitable[None]]) -> None:
        async with limit:
            try:
                await asyncio.wait_for(piece(), deadline_seconds)
            except TimeoutError:
                log.warning("%s took longer than %ss; left it", what.capitalize(), deadline_seconds)
            except Exception:  # one failure must not stop the others; the cause is logged
                log.exception("%s failed", what.capitalize())

    await asyncio.gather(*(run(piece) for piece in work))
