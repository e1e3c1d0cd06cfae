"""Bindings made and removed, counted from the audit log as the domain writes it.

The domain knows nothing of metrics: `launcher.compose` hands `AuditLog` the plain callable
`count_bindings(metrics)` returns (`account_binding.audit.AuditObserver`), and every audit
entry passes through it. One entry is written per binding made or removed, so each is
counted once, in the process that made the change.
"""

from __future__ import annotations

from account_binding.audit import AuditEvent, AuditObserver
from account_binding.binding import WEB_REMOVAL
from account_binding.store import AuditRecord

from .metrics import Metrics

#: The `unbound` details an administrator's removal carries (account_binding.lifecycle).
ADMIN_DETAILS = frozenset({"user_disabled", "user_removed"})
#: The client an administrator's command line acts as (launcher.user_admin's `CLI` actor).
ADMIN_CLIENT = "cli"


def count_bindings(metrics: Metrics) -> AuditObserver:
    """An audit observer that counts `bound` as a binding made, and each removal by its
    reason (`Metrics.binding_removed`): see `removal_reason`."""

    def observe(record: AuditRecord) -> None:
        if record.event == AuditEvent.BOUND:
            metrics.binding_made()
            return
        reason = removal_reason(record)
        if reason is not None:
            metrics.binding_removed(reason)

    return observe


def removal_reason(record: AuditRecord) -> str | None:
    """Why the entry's binding was removed, as `Metrics.binding_removed` counts it; None when
    the entry is not a removal.

    - `binding_removed_by_slack` (Slack's lifecycle events): "lifecycle";
    - `binding_merged` (Enterprise Grid): "merged";
    - `unbound` from the command line, or with the detail of an account an administrator
      disabled or removed: "admin";
    - `unbound` with no detail (Slack's Disconnect) or "web" (the page's Remove): "unbound";
    - `unbound` with any other detail (a token expired or missing, an OAuth grant the
      provider refused, SECRET_KEY changed: the app removed what it could not use):
      "unusable".
    """
    if record.event == AuditEvent.BINDING_REMOVED_BY_SLACK:
        return "lifecycle"
    if record.event == AuditEvent.BINDING_MERGED:
        return "merged"
    if record.event != AuditEvent.UNBOUND:
        return None
    if record.client == ADMIN_CLIENT or record.detail in ADMIN_DETAILS:
        return "admin"
    if record.detail in (None, WEB_REMOVAL):
        return "unbound"
    return "unusable"
