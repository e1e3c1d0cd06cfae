"""The audit log: who bound, unbound, was refused, logged in or was locked out, and when."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .clock import Clock, system_clock
from .models import SlackIdentity, User
from .store import AuditFilter, AuditRecord, Store


class AuditEvent(StrEnum):
    LINK_ISSUED = "link_issued"
    BOUND = "bound"
    UNBOUND = "unbound"
    LINK_REFUSED = "link_refused"  # detail: unknown, used, expired, email_mismatch, already_bound
    LINK_CANCELLED = "link_cancelled"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOCKED_OUT = "locked_out"
    LOGOUT = "logout"


@dataclass(frozen=True)
class Actor:
    """Who did something: an internal user and/or a client address, where known."""

    user: User | None = None
    client: str | None = None
    username: str | None = None  # a name typed at login, which may match no account


class AuditLog:
    def __init__(self, store: Store, clock: Clock = system_clock) -> None:
        self._store = store
        self._clock = clock

    async def record(
        self,
        event: AuditEvent,
        actor: Actor | None = None,
        identity: SlackIdentity | None = None,
        detail: str | None = None,
    ) -> None:
        actor = actor or Actor()
        await self._store.add_audit(
            AuditRecord(
                id=0,
                at=self._clock(),
                event=str(event),
                user_id=actor.user.id if actor.user else None,
                username=actor.user.username if actor.user else (actor.username or None),
                scope_id=identity.scope_id if identity else None,
                slack_user_id=identity.user_id if identity else None,
                client=actor.client,
                detail=detail,
            )
        )

    async def entries(self, where: AuditFilter) -> list[AuditRecord]:
        return await self._store.list_audit(where)
