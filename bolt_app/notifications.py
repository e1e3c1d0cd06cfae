"""What the Slack side does after a change to a binding, and DMs that are not confirmations.

The confirmation DMs (bound, unbound, ended, merged) are not sent from here (issue 11): the
change's own transaction wrote them to the outbox, and `bolt_app.outbox_sender` delivers them.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from account_binding.binding import MergedBindings
from account_binding.models import Binding, User
from monitoring.metrics import Metrics

from . import messages
from .home_tab import HomeTab
from .slack_calls import within

log = logging.getLogger(__name__)

#: A DM that is not in the outbox (a link, an answer, an error) is background work: it may
#: wait out Slack's rate limits (the client retries them), but not for ever. Seconds,
#: retries included.
DM_DEADLINE_SECONDS = 120.0


class SlackNotifier:
    """The account_binding `Notifier` of the Slack side, and its DMs. Nothing here raises: a
    failure is logged.

    After every bind and unbind, with `home` (issue 10, App Home), it republishes that Slack
    person's Home tab, whichever side made the change (the web page, the command, the Home
    tab, an administrator): best effort, at once. The confirmation DM is the outbox's.
    `direct_message` sends the other DMs, each failed attempt counted in `metrics`.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        app_name: str,
        home: HomeTab | None = None,
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self._client = client
        self._app_name = app_name
        self._home = home
        self._metrics = metrics

    async def binding_created(self, binding: Binding, user: User) -> None:
        await self._refresh_home(binding)

    async def binding_removed(self, binding: Binding) -> None:
        await self._refresh_home(binding)

    async def _refresh_home(self, binding: Binding) -> None:
        """The Home tab as the connection stands now (looked up, not assumed: another bind
        or unbind may have come since)."""
        if self._home is not None:
            await self._home.refresh(binding.identity)

    # Issue 10, Enterprise Grid
    async def bindings_merged(self, merged: MergedBindings) -> None:
        await self._refresh_home(merged.kept)  # Issue 10, App Home: the kept account shows

    async def direct_message(
        self,
        user_id: str,
        reply: messages.Reply,
        about: str = "",
        *,
        deadline_seconds: float = DM_DEADLINE_SECONDS,
    ) -> bool:
        """DM `reply` to the Slack user `user_id` (chat.postMessage with the user ID as the
        channel opens the app's DM with them) within `deadline_seconds`, retries included;
        whether Slack took it. A failure is logged."""
        try:
            await within(
                deadline_seconds,
                self._client.chat_postMessage(
                    channel=user_id, text=reply.text, blocks=reply.blocks
                ),
                metrics=self._metrics,
                method="chat.postMessage",
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
        """After an administrator disabled or removed (`reason`) the account `username`."""
        await self._refresh_home(binding)
