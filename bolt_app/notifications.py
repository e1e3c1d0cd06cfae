"""DMs to the Slack person about their binding, through chat.postMessage."""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from account_binding.models import Binding, User

from . import messages

log = logging.getLogger(__name__)

#: A DM is background work: it may wait out Slack's rate limits (the client retries them),
#: but not for ever. Seconds, retries included.
DM_DEADLINE_SECONDS = 120.0


class SlackNotifier:
    """A failed DM is logged, never raised: the binding it reports stands either way."""

    def __init__(self, client: AsyncWebClient, app_name: str) -> None:
        self._client = client
        self._app_name = app_name

    async def binding_created(self, binding: Binding, user: User) -> None:
        await self._send(binding, messages.bound_dm(self._app_name, user.username))

    async def binding_removed(self, binding: Binding) -> None:
        await self._send(binding, messages.unbound_dm(self._app_name))

    async def _send(self, binding: Binding, reply: messages.Reply) -> None:
        try:
            await asyncio.wait_for(
                self._client.chat_postMessage(
                    channel=binding.identity.user_id, text=reply.text, blocks=reply.blocks
                ),
                DM_DEADLINE_SECONDS,
            )
        except SlackApiError as error:
            log.error(
                "Could not DM Slack user %s about binding %s: %s",
                binding.identity.user_id,
                binding.id,
                error.response.get("error"),
            )
        except (SlackClientError, OSError, TimeoutError) as error:
            log.error(
                "Could not DM Slack user %s about binding %s: %s",
                binding.identity.user_id,
                binding.id,
                type(error).__name__,
            )
