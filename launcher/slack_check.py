"""Check the Slack tokens before serving, so that a bad one stops the start with one line."""

from __future__ import annotations

import logging

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from .compose import SlackConnection

log = logging.getLogger(__name__)


class StartError(Exception):
    """The app cannot start; the message says why in one line."""


EMAIL_SCOPE = "users:read.email"


async def check_slack(slack: SlackConnection, *, needs_email: bool = False) -> None:
    client = AsyncWebClient(base_url=slack.api_url, timeout=15)
    try:
        identity = await client.auth_test(token=slack.bot_token)
    except SlackApiError as error:
        raise StartError(f"Slack refused SLACK_BOT_TOKEN: {error.response.get('error')}") from None
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        raise StartError(
            f"Cannot reach Slack at {slack.api_url} ({type(error).__name__}); check SLACK_API_URL and the network"
        ) from None
    scopes = identity.headers.get("x-oauth-scopes") or identity.headers.get("X-OAuth-Scopes")
    if needs_email and scopes is not None and EMAIL_SCOPE not in scopes.split(","):
        raise StartError(
            f"REQUIRE_EMAIL_MATCH needs the bot scope {EMAIL_SCOPE}: add it to manifest.yml, "
            "update the app and reinstall it"
        )
    if needs_email and scopes is None:
        log.warning("Slack did not list the bot token's scopes; %s cannot be checked", EMAIL_SCOPE)
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
