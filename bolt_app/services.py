"""What the listeners need, handed to them through Bolt's context by a middleware."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from slack_bolt.context.async_context import AsyncBoltContext

from account_binding.binding import BindingService, Notifier
from account_binding.link_renewal import LinkRenewal
from monitoring.connection import ConnectionState
from monitoring.metrics import Metrics

from .acting import ActingMode
from .blocks import Reply
from .commands.runner import PluginRunner
from .commands.table import CommandTable
from .home_tab import HomeTab
from .in_flight import InFlight
from .internal_api import InternalApiConnection
from .lifecycle import SlackLifecycle


@dataclass(frozen=True)
class SlackServices:
    bindings: BindingService
    notifier: Notifier
    association_url: Callable[[str], str]
    internal_app_name: str
    link_ttl_seconds: int
    #: Every subcommand: the product's own and the plugins'.
    commands: CommandTable
    #: ACT_AS: the credential calls for a bound person carry.
    acting: ActingMode
    #: The internal application at INTERNAL_API_URL (used on the runner's loop only).
    api: InternalApiConnection
    #: Where plugin handlers run.
    runner: PluginRunner
    #: COMMAND_TIMEOUT, seconds.
    command_timeout: float
    #: Sends a DM to a Slack user ID; whether Slack took it.
    dm: Callable[[str, Reply], Awaitable[bool]]
    # Issue 10, lifecycle: Slack's lifecycle events, and bindings an administrator ended
    # (None: the events are acknowledged and ignored, and no command says why).
    lifecycle: SlackLifecycle | None = None

    # Issue 10, App Home and the shortcut "Connect account":
    #: Publishes people's Home tabs (the notifier shares it); None: no Home tab is published.
    home: HomeTab | None = None
    #: BINDING_TRIGGERS: the actions that start binding ("command", "link", "home", "shortcut").
    binding_triggers: tuple[str, ...] = ("command", "link", "home")

    # Issue 10, the tutorial's options and never a dead button (helper "links"); with
    # `binding_triggers` above.
    #: LINK_DELIVERY: where a command's association URL goes, "ephemeral" or "dm".
    link_delivery: str = "ephemeral"
    #: A fresh link in place of an old link message whose button was clicked; None: the
    #: click is only acknowledged.
    link_renewal: LinkRenewal | None = None

    # Issue 10, review: SLACK_API_URL, whose Slack's response_urls alone the app posts to
    # (bolt_app.response_urls).
    slack_api_url: str = "https://slack.com/api/"

    # Issue 11, reliability and operations: what /metrics and /readyz report (one of each
    # per site, shared with the web side and the Socket Mode handler).
    metrics: Metrics = field(default_factory=Metrics)
    connection: ConnectionState = field(default_factory=ConnectionState)
    # Issue 11, outbox: SLACK_API_TIMEOUT, for the response_url posts made without Bolt
    slack_api_timeout: float = 10.0

    # Issue 11, shutdown: where background tasks the listeners start are counted, so that a
    # graceful stop waits for them (one per site, shared with the Socket Mode handler).
    in_flight: InFlight = field(default_factory=InFlight)


CONTEXT_KEY = "account_binding_services"


def services_of(context: AsyncBoltContext) -> SlackServices:
    services = context[CONTEXT_KEY]
    assert isinstance(services, SlackServices)
    return services
