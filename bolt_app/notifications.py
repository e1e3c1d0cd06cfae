"""DMs to the Slack person about their binding, through chat.postMessage."""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from account_binding.binding import MergedBindings
from account_binding.models import Binding, User

from . import messages
from .home_tab import HomeTab

log = logging.getLogger(__name__)

#: A DM is background work: it may wait out Slack's rate limits (the client retries them),
#: but not for ever. Seconds, retries included.
DM_DEADLINE_SECONDS = 120.0


class SlackNotifier:
    """A failed DM is logged, never raised: the binding it reports stands either way.

    With `home` (issue 10, App Home), every bind and unbind also republishes that Slack
    person's Home tab, whichever side made it (the web page, the command, the Home tab, an
    administrator); a failed publish is logged the same way.
    """

    def __init__(self, client: AsyncWebClient, app_name: str, home: HomeTab | None = None) -> None:
        self._client = client
        self._app_name = app_name
        self._home = home

    async def binding_created(self, binding: Binding, user: User) -> None:
        await self._send(binding, messages.bound_dm(self._app_name, user.username))
        await self._refresh_home(binding)

    async def binding_removed(self, binding: Binding) -> None:
        await self._send(binding, messages.unbound_dm(self._app_name))
        await self._refresh_home(binding)

    async def _refresh_home(self, binding: Binding) -> None:
        """The Home tab as the connection stands now (looked up, not assumed: another bind
        or unbind may have come since)."""
        if self._home is not None:
            await self._home.refresh(binding.identity)

    # Issue 10, Enterprise Grid
    async def bindings_merged(self, merged: MergedBindings) -> None:
        gone = "a removed account"
        reply = messages.bindings_merged_dm(
            self._app_name,
            merged.kept_user.username if merged.kept_user else gone,
            merged.kept.created_at,
            merged.removed_user.username if merged.removed_user else gone,
        )
        await self._send(merged.kept, reply)
        await self._refresh_home(merged.kept)  # Issue 10, App Home: the kept account shows

    async def _send(self, binding: Binding, reply: messages.Reply) -> None:
        await self.direct_message(
            binding.identity.user_id, reply, about=f" about binding {binding.id}"
        )

    async def direct_message(self, user_id: str, reply: messages.Reply, about: str = "") -> bool:
        """DM `reply` to the Slack user `user_id` (chat.postMessage with the user ID as the
        channel opens the app's DM with them); whether Slack took it. A failure is logged."""
        try:
            await asyncio.wait_for(
                self._client.chat_postMessage(
                    channel=user_id, text=reply.text, blocks=reply.blocks
                ),
                DM_DEADLINE_SECONDS,
            )
        except SlackApiError as error:
            log.error(
                "Could not DM Slack user %s%s: %s", user_id, about, error.response.get("error")
            )
            return False
        except (SlackClientError, OSError, TimeoutError) as error:
            log.error("Could not DM Slack user %s%s: %s", user_id, about, type(error).__name__)
            return False
        return True

    # Issue 10, lifecycle: account_binding.lifecycle.EndedNotifier

    async def binding_ended(self, binding: Binding, username: str, reason: str) -> None:
        """DM the Slack person that their binding ended because an administrator disabled
        or removed (`reason`) the account `username`."""
        await self._send(binding, messages.binding_ended_dm(self._app_name, username, reason))
        await self._refresh_home(binding)
