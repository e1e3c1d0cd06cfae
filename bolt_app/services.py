"""What the listeners need, handed to them through Bolt's context by a middleware."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_bolt.context.async_context import AsyncBoltContext

from account_binding.binding import BindingService, Notifier

from .internal_api import InternalApi


@dataclass(frozen=True)
class SlackServices:
    bindings: BindingService
    internal_api: InternalApi
    notifier: Notifier
    association_url: Callable[[str], str]
    internal_app_name: str
    link_ttl_seconds: int


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
