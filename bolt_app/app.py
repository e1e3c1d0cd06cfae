"""Builds the Bolt app and its Socket Mode handler."""

from __future__ import annotations

import logging
from time import time

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app, send_async_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient

from .listeners import register_listeners
from .services import SlackServices, services_middleware

log = logging.getLogger("bolt_app")


class _SkipTokenWarning(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN in the environment is unused when a client is given:
    that is deliberate here (the client carries the token and SLACK_API_URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


log.addFilter(_SkipTokenWarning())


def build_web_client(bot_token: str, api_url: str) -> AsyncWebClient:
    client = AsyncWebClient(token=bot_token, base_url=api_url)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    return client


def build_bolt_app(client: AsyncWebClient, services: SlackServices) -> AsyncApp:
    app = AsyncApp(client=client, logger=log)
    app.use(services_middleware(services))
    register_listeners(app)
    return app


class AcknowledgingSocketModeHandler(AsyncSocketModeHandler):
    """Acknowledges every envelope, even one that no listener handles.

    Bolt leaves an unhandled envelope unacknowledged, so Slack would retry an event or show
    the person an error for an interaction; received and ignored is the honest answer.
    """

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        start = time()
        response: BoltResponse = await run_async_bolt_app(self.app, req)
        if response.status == 404:
            log.info("Acknowledged an envelope of type %s that no listener handles", req.type)
            response = BoltResponse(status=200, body="")
        await send_async_response(client, req, response, start)


def build_socket_mode_handler(
    app: AsyncApp, app_token: str, api_url: str
) -> AsyncSocketModeHandler:
    """Must be called inside the running event loop: the aiohttp client binds to it."""
    return AcknowledgingSocketModeHandler(
        app, app_token, web_client=AsyncWebClient(base_url=api_url)
    )
