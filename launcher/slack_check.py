"""Check the Slack tokens before serving, so that a bad one stops the start with one line."""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from .compose import SlackConnection


class StartError(Exception):
    """The app cannot start; the message says why in one line."""


async def check_slack(slack: SlackConnection) -> None:
    client = AsyncWebClient(base_url=slack.api_url, timeout=15)
    try:
        await client.auth_test(token=slack.bot_token)
    except SlackApiError as error:
        raise StartError(f"Slack refused SLACK_BOT_TOKEN: {error.response.get('error')}") from None
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        raise StartError(
            f"Cannot reach Slack at {slack.api_url} ({type(error).__name__}); check SLACK_API_URL and the network"
        ) from None
    try:
        await client.apps_connections_open(app_token=slack.app_token)
    except SlackApiError as error:
        raise StartError(
            f"Slack refused SLACK_APP_TOKEN: {error.response.get('error')} "
            "(it needs the connections:write scope, and Socket Mode must be on)"
        ) from None
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        raise StartError(
            f"Cannot reach Slack at {slack.api_url} ({type(error).__name__})"
        ) from None
