"""The process's Prometheus metrics (prometheus-client), in a registry of its own.

One `Metrics` per site (`launcher.compose.build_site` makes it; tests make as many as they
run apps). Every name starts with `account_binding_`. No label ever carries a secret, a
Slack user, team or channel ID, a link or a person's name: labels take only the small fixed
sets documented on each method, so the series stay few whatever the traffic.
Exposition: `exposition()` gives the text format (version 0.0.4) and its content type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Enum,
    Gauge,
    Histogram,
    generate_latest,
)

from .connection import STATES, ConnectionState

#: What became of a slash command, as the person saw it:
#: - "answered": a bound person's subcommand ran and was answered;
#: - "link_sent": an unbound person was sent an association URL (ephemeral or by DM);
#: - "refused": the app refused it with an explanation (unknown subcommand, malformed
#:   command, rate limit, disabled account, ...);
#: - "unavailable": the internal application did not answer in time or was down;
#: - "failed": the app failed (a bug, or Slack refused the answer).
CommandOutcome = Literal["answered", "link_sent", "refused", "unavailable", "failed"]

#: Seconds: Slack gives an ack 3 s; most should land in the first buckets.
ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0)


class Metrics:
    """Counters and gauges an operator alerts on (see README, "Operating it")."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.commands = Counter(
            "account_binding_commands",
            "Slash commands handled, by what the person got.",
            ["outcome"],
            registry=r,
        )
        self.ack_seconds = Histogram(
            "account_binding_ack_seconds",
            "Seconds from an envelope's arrival to its acknowledgement on the socket.",
            ["type"],
            buckets=ACK_BUCKETS,
            registry=r,
        )
        self.bindings_made = Counter("account_binding_bindings_made", "Bindings made.", registry=r)
        self.bindings_removed = Counter(
            "account_binding_bindings_removed",
            "Bindings removed, by why.",
            ["reason"],
            registry=r,
        )
        self.slack_api_errors = Counter(
            "account_binding_slack_api_errors",
            "Slack Web API calls that failed (each attempt), by method and error.",
            ["method", "error"],
            registry=r,
        )
        self.outbox_depth = Gauge(
            "account_binding_outbox_depth",
            "Confirmation DMs waiting in the outbox to be sent.",
            registry=r,
        )
        self.socket_mode_state = Enum(
            "account_binding_socket_mode_state",
            "The Socket Mode connection's state.",
            states=list(STATES),
            registry=r,
        )
        self.socket_mode_reconnects = Counter(
            "account_binding_socket_mode_reconnects",
            "Socket Mode connections opened after the first.",
            registry=r,
        )
        self.events_deduplicated = Counter(
            "account_binding_envelopes_deduplicated",
            "Envelopes acknowledged and not acted on again (an Events API retry of an event "
            "already handled, or an envelope_id seen moments before).",
            ["type"],
            registry=r,
        )

    # what the edges record

    def command_finished(self, outcome: CommandOutcome) -> None:
        self.commands.labels(outcome=outcome).inc()

    def acknowledged(self, envelope_type: str, seconds: float) -> None:
        """An envelope acknowledged `seconds` after it arrived; `envelope_type` is Slack's
        (`slash_commands`, `interactive`, `events_api`), anything else counted as "other"."""
        kind = envelope_type if envelope_type in _ENVELOPE_TYPES else "other"
        self.ack_seconds.labels(type=kind).observe(seconds)

    def binding_made(self) -> None:
        self.bindings_made.inc()

    def binding_removed(self, reason: str) -> None:
        """`reason`: "unbound" (the person, in Slack or on the web), "admin", "lifecycle"
        (Slack's events or a disabled account), "merged" (Enterprise Grid), or "other"."""
        self.bindings_removed.labels(reason=reason if reason in _REMOVAL_REASONS else "other").inc()

    def slack_api_error(self, method: str, error: str) -> None:
        """`method`: the Web API method (`chat.postMessage`) or "response_url"; `error`:
        Slack's error code (`ratelimited`), "http_5xx", "timeout" or "connection"."""
        self.slack_api_errors.labels(method=method[:40], error=error[:40]).inc()

    def watch_outbox(self, depth: Callable[[], float]) -> None:
        """Read the outbox's depth from `depth()` at each scrape (it must not block long)."""
        self.outbox_depth.set_function(depth)

    def watch_connection(self, connection: ConnectionState) -> None:
        connection.on_change(lambda state: self.socket_mode_state.state(state))

    def exposition(self) -> tuple[bytes, str]:
        """The text format of every metric, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


_ENVELOPE_TYPES = frozenset({"slash_commands", "interactive", "events_api"})
_REMOVAL_REASONS = frozenset({"unbound", "admin", "lifecycle", "merged"})
