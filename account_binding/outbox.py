"""The confirmation DMs' outbox: what happened to a binding, recorded for the Slack person to be
told, in the same transaction as the change itself.

A bind, an unbind, a removal by an administrator (`binding remove`, or an account action), or a merge of two
bindings (Enterprise Grid) writes one row to the `outbox` table inside the store's own write
transaction for that change: the change and the row commit together or not at all, so a
crash can neither lose the DM of a change that stands nor send one for a change that never
happened. The domain records only facts (the kind, the Slack identity, the binding, the
internal user name, the reason); the Slack side renders the message from them when it sends
(`bolt_app.messages.notice_dm`) and deletes the row once Slack has taken it
(`bolt_app.outbox_sender.OutboxSender`). Nothing here knows Slack.

Rows are claimed with a lease (`lease_until`, `lease_owner`): several processes may share the
database, and a row is sent by one of them at a time. A sender that dies holding a lease
leaves the row to be sent again once the lease ends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from .models import SlackIdentity


class NoticeKind(StrEnum):
    """What the Slack person is told, and the facts each kind's row carries:

    - BOUND: their Slack account was bound (`username`: the internal account);
    - UNBOUND: they removed the binding (in Slack, on the Home tab or on the web page;
      `username`: the account it acted as);
    - REMOVED_BY_ADMIN: an administrator removed the binding from the command line
      (`account-binding binding remove`; `username`: the account it acted as);
    - ENDED: an administrator disabled or removed the internal account `username`
      (`reason`: "disabled" or "removed");
    - MERGED: two bindings of theirs came under one key on Enterprise Grid (`kept_username`,
      `kept_created_at` in Unix seconds, `removed_username`; a user name is None when that
      account no longer exists).
    """

    BOUND = "bound"
    UNBOUND = "unbound"
    ENDED = "ended"
    REMOVED_BY_ADMIN = "removed_by_admin"
    MERGED = "merged"


#: Every kind this version sends: a sender claims only these (a row of a kind a newer
#: version added waits for a process that knows it).
KINDS: tuple[str, ...] = tuple(kind.value for kind in NoticeKind)

Fact = str | int | None


@dataclass(frozen=True)
class OutboxEntry:
    """One row of the outbox as a sender claimed it.

    `created_at` is Unix seconds (float): when the change committed. `attempts` counts the
    claims so far, this one included. `owner` is the claim's lease token, which the sender
    presents to mark the row sent or to put it back.
    """

    id: int
    kind: str
    binding_id: int | None
    identity: SlackIdentity
    facts: Mapping[str, Fact]
    created_at: float
    attempts: int
    last_error: str | None
    owner: str = field(repr=False)

    def fact(self, name: str) -> Fact:
        return self.facts.get(name)

    @property
    def about(self) -> str:
        """How a log line names the row: its kind and binding (never a token or a text)."""
        return f"the {self.kind} DM about binding {self.binding_id}"


class OutboxStore(Protocol):
    """The outbox's side of the store. Every time is Unix seconds (float)."""

    async def claim_outbox(
        self, now: float, lease_until: float, owner: str, kinds: Sequence[str], limit: int
    ) -> list[OutboxEntry]:
        """Lease up to `limit` rows of `kinds` that are due (`next_attempt_at` <= `now`) and
        not leased by anyone else (no lease, or one that ended), oldest due first, to `owner`
        until `lease_until`, counting an attempt on each; the rows leased. One write
        transaction, so two senders never lease one row at once."""
        ...

    async def outbox_done(self, entry_id: int, owner: str) -> bool:
        """Delete the row (sent, or dropped), if `owner` still holds its lease; whether it did."""
        ...

    async def outbox_retry(
        self, entry_id: int, owner: str, next_attempt_at: float, error: str
    ) -> None:
        """Give the row back, due again at `next_attempt_at`, noting Slack's `error`."""
        ...

    async def outbox_release(self, owner: str) -> None:
        """Give back every row `owner` leases, due at once (a sender stopping mid-send)."""
        ...

    async def outbox_depth(self) -> int:
        """How many rows wait to be sent (leased or not)."""
        ...

    async def outbox_next_due(self, kinds: Sequence[str]) -> float | None:
        """When the next row of `kinds` becomes claimable (its due time, or its lease's end
        if later); None when there is none."""
        ...

    def watch_outbox(self, wake: Callable[[], None]) -> None:
        """Call `wake()` (on the event loop) after every transaction of this store that
        wrote an outbox row."""
        ...
