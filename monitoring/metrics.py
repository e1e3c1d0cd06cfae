"""The process's Prometheus metrics (prometheus-client), in a registry of its own.

One `Metrics` per site (`launcher.compose.build_site` makes it; tests make as many as they
run apps). Every name starts with `account_binding_`. No label ever carries a secret, a
Slack user, team or channel ID, a link or a person's name: labels take only the small fixed
sets documented on each method, so the series stay few whatever the traffic.
Exposition: `exposition()` gives the text format (version 0.0.4) and its content type,
without the `_created` series prometheus-client adds beside each counter and histogram (see
`exposition`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal, get_args

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import Metric

from .connection import STATES, ConnectionState

#: What became of a slash command, as the person saw it (one per command):
#: - "answered": it was answered with what it asked for (help, whoami, a plugin's reply, the
#:   unlink question, "already connected");
#: - "link_sent": an unbound person was sent an association URL (ephemeral or by DM);
#: - "refused": the app said why it would not (an unknown subcommand or wrong arguments, a
#:   workspace the app is not installed in, too many links, an account an administrator
#:   ended, the internal application refusing the request or the credential);
#: - "unavailable": the internal application did not answer within COMMAND_TIMEOUT or
#:   INTERNAL_API_TIMEOUT, or was down (no connection, a 5xx answer);
#: - "failed": the app failed (a bug, logged with an incident ID; Slack did not answer the
#:   app in time; the database stayed locked).
CommandOutcome = Literal["answered", "link_sent", "refused", "unavailable", "failed"]
COMMAND_OUTCOMES: tuple[CommandOutcome, ...] = get_args(CommandOutcome)

#: Seconds: Slack gives an ack 3 s; most should land in the first buckets, and those from
#: 1.5 s on show an ack drifting towards the limit (the p99 alert, README).
ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)


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
        # A gauge per state rather than prometheus-client's Enum, whose label would be named
        # after the metric itself: here it is `state`, 1 for the current one, 0 for the rest.
        self.socket_mode_state = Gauge(
            "account_binding_socket_mode_state",
            "The Socket Mode connection's state: 1 for the current state, 0 for the others.",
            ["state"],
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
        self.ready = Gauge(
            "account_binding_ready",
            "1 when the last readiness check passed (the database writable, Slack connected "
            "or the sandbox running), else 0; checked at each /readyz and each scrape.",
            registry=r,
        )
        self.database_writable = Gauge(
            "account_binding_database_writable",
            "1 when the last readiness check could take the database's write lock in time.",
            registry=r,
        )
        # Every known label value from the start, at 0: a rate or an alert over them works
        # before the first command, removal or acknowledgement of its kind.
        for outcome in COMMAND_OUTCOMES:
            self.commands.labels(outcome=outcome)
        for reason in (*REMOVAL_REASONS, "other"):
            self.bindings_removed.labels(reason=reason)
        for kind in (*_ENVELOPE_TYPES, "other"):
            self.ack_seconds.labels(type=kind)
        for state in STATES:
            self.socket_mode_state.labels(state=state).set(0)

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
        """`reason` (anything else is counted as "other"):
        - "unbound": the person disconnected it (Slack's Disconnect, the web page's Remove);
        - "admin": an administrator removed it (`account-binding binding remove`, `unbind`,
          `user disable`, `user remove`);
        - "lifecycle": Slack said the person, workspace or organisation went away
          (`user_change` deleted, `app_uninstalled`, `tokens_revoked`);
        - "merged": two bindings of one person met in an Enterprise Grid organisation;
        - "unusable": the app removed a binding it can no longer act with (its API token
          expired, its OAuth grant refused at the provider, SECRET_KEY changed)."""
        self.bindings_removed.labels(reason=reason if reason in REMOVAL_REASONS else "other").inc()

    def slack_api_error(self, method: str, error: str) -> None:
        """`method`: the Web API method (`chat.postMessage`) or "response_url"; `error`:
        Slack's error code (`ratelimited`), "http_5xx", "http_4xx", "timeout" or
        "connection". Only the methods the app calls (SLACK_METHODS) and the error codes it
        knows (SLACK_ERROR_CODES) become labels; anything else is counted as "other", so
        whatever answers at SLACK_API_URL cannot add series, and no label ever carries an
        ID or a text."""
        self.slack_api_errors.labels(
            method=method if method in SLACK_METHODS else "other",
            error=_error_label(error),
        ).inc()

    def watch_outbox(self, depth: Callable[[], float]) -> None:
        """Read the outbox's depth from `depth()` at each scrape (it must not block long)."""
        self.outbox_depth.set_function(depth)

    def watch_connection(self, connection: ConnectionState) -> None:
        def show(current: str) -> None:
            for state in STATES:
                self.socket_mode_state.labels(state=state).set(1 if state == current else 0)

        connection.on_change(show)

    def readiness_checked(self, *, ready: bool, database_writable: bool) -> None:
        """The outcome of a readiness check (`web.health`: at each `/readyz` and each scrape of
        `/metrics`)."""
        self.ready.set(1 if ready else 0)
        self.database_writable.set(1 if database_writable else 0)

    def exposition(self) -> tuple[bytes, str]:
        """The text format (version 0.0.4, which every Prometheus version reads) of every
        metric, and its content type.

        The `_created` series are left out: prometheus-client adds one beside each counter and
        histogram (its creation time, as a gauge of its own in this format), which doubles
        the series and serves no alert; it can only switch them off for the whole process
        (`disable_created_metrics`), so they are filtered here, for this registry only."""
        return generate_latest(_WithoutCreated(self.registry)), CONTENT_TYPE_PLAIN_0_0_4


class _WithoutCreated:
    """A registry's metrics without their `_created` samples (what `generate_latest` reads)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        for metric in self.registry.collect():  # fresh Metric objects at every collect
            metric.samples = [s for s in metric.samples if not s.name.endswith("_created")]
            yield metric


_ENVELOPE_TYPES = ("slash_commands", "interactive", "events_api")
#: The removal reasons `binding_removed` counts by name (see there).
REMOVAL_REASONS = ("unbound", "admin", "lifecycle", "merged", "unusable")
#: A Web API method: dotted words (`chat.postMessage`, `oauth.v2.access`), or "response_url".
#: The Web API methods the app calls, and "response_url": the only method labels.
SLACK_METHODS = frozenset(
    {
        "apps.connections.open",
        "auth.test",
        "chat.postMessage",
        "users.info",
        "views.publish",
        "response_url",
    }
)
#: Slack's error codes (https://docs.slack.dev/reference/methods) for the methods above that
#: an operator may act on, and this app's own failure kinds: the only error labels.
SLACK_ERROR_CODES = frozenset(
    {
        # this app's kinds
        "http_4xx",
        "http_5xx",
        "timeout",
        "connection",
        # Slack's codes
        "ratelimited",
        "account_inactive",
        "channel_not_found",
        "user_not_found",
        "user_not_visible",
        "users_not_found",
        "cannot_dm_bot",
        "messages_tab_disabled",
        "is_archived",
        "restricted_action",
        "not_authed",
        "invalid_auth",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
        "missing_scope",
        "no_permission",
        "team_access_not_granted",
        "access_denied",
        "ekm_access_denied",
        "org_login_required",
        "invalid_arguments",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "too_many_attachments",
        "duplicate_external_id",
        "not_found",
        "fatal_error",
        "internal_error",
        "request_timeout",
        "service_unavailable",
        "team_added_to_org",
        "expired_url",
        "used_url",
        "invalid_payload",
        "message_not_found",
        "no_service",
    }
)


def _error_label(error: str) -> str:
    """`error` when it is a known code; an HTTP status code as its class (`http_4xx`,
    `http_5xx`); else "other"."""
    if error in SLACK_ERROR_CODES:
        return error
    if len(error) == 8 and error.startswith("http_") and error[5:].isdigit():
        return f"http_{error[5]}xx" if error[5] in "45" else "other"
    return "other"
