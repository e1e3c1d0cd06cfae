"""The audit log: who bound, unbound, was refused, logged in or was locked out, and when."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from .clock import Clock, system_clock
from .models import SlackIdentity, User
from .store import AuditFilter, AuditRecord, Store

log = logging.getLogger(__name__)

#: Issue 11, health: called with every entry the log is given (a capped one too, recorded or
#: not), after the store took it or failed to: how the composition root counts bindings made
#: and removed without the domain knowing of metrics. It must be quick and not block; an
#: exception it raises is logged and changes nothing.
AuditObserver = Callable[[AuditRecord], None]


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
    SLACK_ERROR = "slack_error"  # Slack did not answer in time when it had to; nothing done
    USER_ADDED = "user_added"  # detail: how (cli, sandbox)
    # A client failed to authenticate at /oauth/introspect. Detail: no_credentials,
    # not_basic, malformed_credentials, wrong_credentials, not_configured.
    INTROSPECTION_REFUSED = "introspection_refused"
    # VERIFY_SLACK_IDENTITY: the person signed in with Slack as someone other than the Slack
    # user the link was issued to (a forwarded link); the link was voided. The entry's Slack
    # identity is the link's; detail: "signed in to Slack as TEAM/USER" (and " of ENTERPRISE").
    SLACK_IDENTITY_MISMATCH = "slack_identity_mismatch"
    # AUTH=proxy: a request carried PROXY_USER_HEADER or PROXY_EMAIL_HEADER from a peer not
    # in TRUSTED_PROXIES, and was refused (403). Detail: the header name(s). Capped.
    PROXY_HEADER_REFUSED = "proxy_header_refused"
    # Issue 10, lifecycle. Slack said a workspace, organisation or person went away: the
    # binding was removed and its credentials revoked. Detail: the event (app_uninstalled,
    # tokens_revoked, user_change).
    BINDING_REMOVED_BY_SLACK = "binding_removed_by_slack"
    # An administrator disabled, enabled or removed an internal account (client "cli"); each
    # binding it lost is recorded as `unbound` with the detail "user_disabled" or
    # "user_removed".
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    USER_REMOVED = "user_removed"
    # Issue 10, never a dead button. "Send me a new link in Slack" on the expired-link page
    # DMed a new link to the Slack person the expired one was issued to (the entry's Slack
    # identity); the old link is "replaced". Detail: "page".
    LINK_RESENT = "link_resent"
    # ... and refused it (capped per client and reason). Detail: unknown, used, replaced,
    # cancelled, refused, ended, live, bound, too_soon, rate_limited.
    LINK_RESEND_REFUSED = "link_resend_refused"
    # Issue 10, Enterprise Grid. A Slack person's binding (and/or pending links) moved from
    # their workspace's key to their organisation's when the workspace joined one; the entry
    # names the binding's internal account; detail: what moved, from which workspace.
    BINDING_REKEYED = "binding_rekeyed"
    # Two bindings of one Slack person came under their organisation's key: the older was
    # kept, the other removed (token revoked) and the person told by DM. The entry names the
    # removed binding's internal account; detail: which binding was kept and which removed.
    BINDING_MERGED = "binding_merged"
    # Issue 10, resume: the command that started binding ran by itself once the binding was
    # made (the person ticked it at Connect). The entry names the internal account and the
    # Slack identity; detail: the subcommand and where the answer went ("todo add;
    # response_url", "whoami; dm"), or why it did not run ("unknown", "bad_arguments",
    # "not_bound").
    COMMAND_RESUMED = "command_resumed"
    # Issue 10, administration: an administrator set a built-in account's password
    # (`account-binding user set-password`); its sessions ended. Detail: how ("cli").
    PASSWORD_SET = "password_set"  # noqa: S105 - an event name, not a password
    # Issue 11, operations: `account-binding backup DIR` made a backup (client "cli"). Detail:
    # the copy's path.
    BACKUP_MADE = "backup_made"


@dataclass(frozen=True)
class Actor:
    """Who did something: an internal user and/or a client address, where known."""

    user: User | None = None
    client: str | None = None
    username: str | None = None  # a name typed at login, which may match no account


#: Refusals anyone can provoke without an account (made-up, used or expired links) are
#: recorded at most this many times an hour per event, reason and client address: enough to
#: show an administrator that one client is probing, too few to let it fill the disk.
CAPPED_PER_HOUR = 20


class AuditLog:
    def __init__(
        self,
        store: Store,
        clock: Clock = system_clock,
        *,
        observer: AuditObserver | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        # Issue 11, health: told of every entry (see AuditObserver)
        self._observer = observer

    async def record(
        self,
        event: AuditEvent,
        actor: Actor | None = None,
        identity: SlackIdentity | None = None,
        detail: str | None = None,
    ) -> None:
        record = self._record(event, actor, identity, detail)
        try:
            await self._store.add_audit(record)
        finally:
            self._observe(record)  # what it records has happened, written down or not

    async def record_capped(
        self,
        event: AuditEvent,
        actor: Actor | None = None,
        identity: SlackIdentity | None = None,
        detail: str | None = None,
        per_hour: int = CAPPED_PER_HOUR,
    ) -> bool:
        """Record, unless `per_hour` entries of this event, detail and client were recorded in
        the last hour; whether it was recorded."""
        record = self._record(event, actor, identity, detail)
        try:
            return await self._store.add_audit_capped(record, per_hour, self._clock() - 3600)
        finally:
            self._observe(record)

    async def entries(self, where: AuditFilter) -> list[AuditRecord]:
        return await self._store.list_audit(where)

    async def purge(self, retention_days: int) -> int:
        """Delete entries older than `retention_days`; how many."""
        return await self._store.purge_audit(self._clock() - retention_days * 86400)

    def _observe(self, record: AuditRecord) -> None:
        """Tell the observer; its failure is logged and never fails what was recorded."""
        if self._observer is None:
            return
        try:
            self._observer(record)
        except Exception:
            log.exception("The audit log's observer failed on a %s entry", record.event)

    def _record(
        self,
        event: AuditEvent,
        actor: Actor | None,
        identity: SlackIdentity | None,
        detail: str | None,
    ) -> AuditRecord:
        actor = actor or Actor()
        return AuditRecord(
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
