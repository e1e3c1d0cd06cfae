"""What the listeners need, handed to them through Bolt's context by a middleware."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_bolt.context.async_context import AsyncBoltContext

from account_binding.binding import BindingService, Notifier

from .acting import ActingMode
from .blocks import Reply
from .commands.runner import PluginRunner
from .commands.table import CommandTable
from .home_tab import HomeTab
from .internal_api import InternalApiConnection


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
    # Issue 10, App Home and the shortcut "Connect account":
    #: Publishes people's Home tabs (the notifier shares it); None: no Home tab is published.
    home: HomeTab | None = None
    #: BINDING_TRIGGERS: the actions that start binding ("command", "link", "home", "shortcut").
    binding_triggers: tuple[str, ...] = ("command", "link", "home")


CONTEXT_KEY = "account_binding_services"


def services_middleware(
    services: SlackServices,
) -> Callable[[AsyncBoltContext, Callable[[], Awaitable[None]]], Awaitable[None]]:
    async def inject(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        context[CONTEXT_KEY] = services
        await next()

    return inject


def services_of(context: AsyncBoltContext) -> SlackServices:
    services = context[CONTEXT_KEY]
    assert isinstance(services, SlackServices)
    return services
