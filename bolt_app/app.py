"""Builds the Bolt app and its Socket Mode handler."""

from __future__ import annotations

import logging

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from .listeners import register_listeners
from .services import SlackServices, services_middleware


def build_web_client(bot_token: str, api_url: str) -> AsyncWebClient:
    client = AsyncWebClient(token=bot_token, base_url=api_url)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    return client


def build_bolt_app(client: AsyncWebClient, services: SlackServices) -> AsyncApp:
    app = AsyncApp(client=client, logger=logging.getLogger("bolt_app"))
    app.use(services_middleware(services))
    register_listeners(app)
    return app


def build_socket_mode_handler(
    app: AsyncApp, app_token: str, api_url: str
) -> AsyncSocketModeHandler:
    """Must be called inside the running event loop: the aiohttp client binds to it."""
    return AsyncSocketModeHandler(app, app_token, web_client=AsyncWebClient(base_url=api_url))
