"""The app's Home tab: whether the person is connected and as whom, Connect or Disconnect, and
the commands they can use; published with `views.publish`.

Slack shows a Home tab only once the app publishes a view for that person
(https://api.slack.com/surfaces/app-home). The app publishes it when the person opens the tab
(the `app_home_opened` event), and again after every bind and unbind, whichever side made it,
so the tab never offers Connect to someone connected or Disconnect to someone who is not.
A view is at most 100 blocks (https://api.slack.com/reference/surfaces/views).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from account_binding import durations
from account_binding.binding import BindingService
from account_binding.errors import BindingExpired
from account_binding.models import SlackIdentity

from . import messages
from .blocks import SECTION_TEXT_LIMIT, Block, context, escape, header, section
from .commands.table import CommandTable
from .slack_calls import within

log = logging.getLogger(__name__)

#: The Home tab's buttons.
CONNECT_ACTION = "home_connect"
DISCONNECT_ACTION = "home_disconnect"

#: views.publish: the whole call, retries of a rate limit included, in seconds. Publishing is
#: background work (after an acknowledgement, or after a page has answered).
PUBLISH_DEADLINE_SECONDS = 30.0

#: Slack's limit on the blocks of a Home tab view.
MAX_VIEW_BLOCKS = 100

#: Slack's limits on a confirmation dialog (https://api.slack.com/reference/block-kit/composition-objects#confirm):
#: its title, its text, and each of its buttons, in characters.
CONFIRM_TITLE_LIMIT, CONFIRM_TEXT_LIMIT, CONFIRM_BUTTON_LIMIT = 100, 300, 30
#: A button's text.
BUTTON_TEXT_LIMIT = 75


@dataclass(frozen=True)
class HomeState:
    """What the Home tab says about the person's connection: `username` is the internal
    account they are connected as (None: not connected), `bound_at` when (Unix seconds),
    `expired` that the connection has just ended because its credential expired."""

    username: str | None = None
    bound_at: int | None = None
    expired: bool = False
    #: The binding's public ID, which Disconnect carries so that a stale tab never removes
    #: a newer binding.
    binding_public_id: str | None = None


@dataclass(frozen=True)
class HomeContent:
    """What every person's Home tab shows alike: INTERNAL_APP_NAME, the slash command as the
    manifest names it, the commands' table (the one help is written from), BINDING_TRIGGERS,
    and BINDING_TTL in seconds."""

    app_name: str
    command: str
    commands: CommandTable
    triggers: Collection[str]
    link_ttl_seconds: int


def default_slash_command(app_name: str) -> str:
    """The slash command the manifest gives an app named `app_name` ("/acme" for "Acme"): `/`
    and a slug of the name (ASCII letters, accents dropped, in lower case, and digits; other
    runs of characters as one `-`), at most 32 characters in all; "/account-binding" when no
    letter or digit is left. The same rule as `account-binding manifest`."""
    folded = unicodedata.normalize("NFKD", app_name).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:31].rstrip("-")
    return f"/{slug}" if slug else "/account-binding"


def home_view(state: HomeState, content: HomeContent) -> dict[str, Any]:
    """The Home tab view for a person in `state`: a `{"type": "home", "blocks": [...]}`
    object as views.publish takes it. Everything people chose (the internal user name, the
    plugins' help) is escaped."""
    name = escape(content.app_name)
    blocks: list[Block] = [header(content.app_name)]
    if state.username is not None:
        blocks.append(
            section(
                f":white_check_mark: Your Slack account is connected to {name} as "
                f"*{escape(state.username)}*. `{escape(content.command)}` acts in {name} "
                f"as you."
            )
        )
        if state.bound_at is not None:
            blocks.append(context(f"Connected {_slack_date(state.bound_at)}."))
        blocks.append(_actions(_disconnect_button(content.app_name, state.binding_public_id)))
    else:
        if state.expired:
            status = (
                f":warning: Your Slack account's connection to {name} has expired. Connect it "
                f"again to use `{escape(content.command)}`."
            )
        else:
            status = (
                f"Your Slack account is not connected to your {name} account. Connect it to "
                f"use `{escape(content.command)}` as yourself."
            )
        blocks.append(section(status))
        if "home" in content.triggers:
            blocks.append(_actions(_connect_button(content.app_name)))
            blocks.append(
                context(
                    f"Connect sends you a link in a direct message from this app. It works "
                    f"once and expires in {durations.in_words(content.link_ttl_seconds)}."
                )
            )
        else:
            how = _how_to_connect(content)
            if how:
                blocks.append(context(how))
    blocks.append({"type": "divider"})
    blocks.append(header("Commands"))
    blocks.extend(_command_sections(content, room=MAX_VIEW_BLOCKS - len(blocks) - 1))
    if state.username is None:
        command = escape(content.command)
        before = (
            f"`{command} help` and `{command} link` work"
            if "link" in content.triggers
            else f"`{command} help` works"
        )
        blocks.append(
            context(
                f"{before} before you connect; the others act in {name} as you once you are "
                f"connected."
            )
        )
    return {"type": "home", "blocks": blocks[:MAX_VIEW_BLOCKS]}


def _how_to_connect(content: HomeContent) -> str | None:
    """How to connect when the Home tab's button is off (BINDING_TRIGGERS without `home`)."""
    command = escape(content.command)
    if "link" in content.triggers:
        return f"To connect, run `{command} link`."
    if "command" in content.triggers:
        return f"To connect, run any `{command}` command."
    if "shortcut" in content.triggers:
        return (
            "To connect, use the shortcut *Connect account* (the lightning bolt in the composer)."
        )
    return None


def _command_sections(content: HomeContent, room: int) -> list[Block]:
    """The commands, one line each as help writes them, in sections of at most 3000
    characters, at most `room` of them."""
    lines = [
        f"• {messages.command_line(content.command, subcommand, content.app_name)}"
        for subcommand in content.commands.subcommands
    ]
    sections: list[Block] = []
    chunk: list[str] = []
    for line in lines:
        if chunk and len("\n".join([*chunk, line])) > SECTION_TEXT_LIMIT:
            sections.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line[:SECTION_TEXT_LIMIT])
    if chunk:
        sections.append(section("\n".join(chunk)))
    return sections[: max(0, room)]


def _actions(*elements: Block) -> Block:
    return {"type": "actions", "elements": list(elements)}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit]}


def _connect_button(app_name: str) -> Block:
    return {
        "type": "button",
        "action_id": CONNECT_ACTION,
        "text": _plain(f"Connect your {app_name} account", BUTTON_TEXT_LIMIT),
        "style": "primary",
    }


def _disconnect_button(app_name: str, public_id: str | None) -> Block:
    """Disconnect, behind Slack's confirmation dialog: Slack sends the click only after the
    person confirms. Its value is the public ID of the binding the tab shows (never whose
    it is: the click acts for the person who clicked)."""
    return {
        "type": "button",
        "action_id": DISCONNECT_ACTION,
        **({"value": public_id} if public_id else {}),
        "text": _plain("Disconnect", BUTTON_TEXT_LIMIT),
        "style": "danger",
        "confirm": {
            "title": _plain("Disconnect?", CONFIRM_TITLE_LIMIT),
            "text": {
                "type": "mrkdwn",
                "text": (
                    f"Disconnect your Slack account from {escape(app_name)}? The app stops "
                    f"acting as you there, and its access is revoked."
                )[:CONFIRM_TEXT_LIMIT],
            },
            "confirm": _plain("Disconnect", CONFIRM_BUTTON_LIMIT),
            "deny": _plain("Cancel", CONFIRM_BUTTON_LIMIT),
            "style": "danger",
        },
    }


def _slack_date(timestamp: int) -> str:
    """`timestamp` (Unix seconds) as Slack's date formatting shows it in each reader's own time
    zone, with a UTC fallback (https://api.slack.com/reference/surfaces/formatting#date-formatting)."""
    fallback = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(timestamp)}^{{date_short_pretty}} at {{time}}|{fallback}>"


class HomeTab:
    """Publishes a person's Home tab (views.publish, scope-free: any app with a bot token may
    publish its own Home tab). The `app_home_opened` listener, the Home tab's buttons and
    the notifier (after every bind and unbind) share one.

    Nothing here raises: a failure is logged and the call says whether the view was published.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        bindings: BindingService,
        content: HomeContent,
        *,
        deadline_seconds: float = PUBLISH_DEADLINE_SECONDS,
    ) -> None:
        self._client = client
        self._bindings = bindings
        self.content = content
        self._deadline = deadline_seconds

    async def state_of(self, identity: SlackIdentity) -> HomeState:
        """The person's connection as the Slack side acts on it (`BindingService.bound_account`:
        an expired binding is removed there and shows as expired here). Raises what the store
        raises."""
        try:
            account = await self._bindings.bound_account(identity)
        except BindingExpired:
            return HomeState(expired=True)
        if account is None:
            return HomeState()
        return HomeState(
            username=account.user.username,
            bound_at=account.binding.created_at,
            binding_public_id=account.binding.public_id,
        )

    async def refresh(self, identity: SlackIdentity) -> bool:
        """Publish `identity`'s Home tab as their connection stands now; whether Slack took it."""
        try:
            state = await self.state_of(identity)
        except Exception:  # the store failed: the tab keeps its last view
            log.exception(
                "Could not read the connection of Slack user %s for their Home tab",
                identity.user_id,
            )
            return False
        return await self.publish(identity.user_id, state)

    async def publish(self, user_id: str, state: HomeState) -> bool:
        """Publish the Home tab of Slack user `user_id` for `state`; whether Slack took it."""
        view = home_view(state, self.content)
        try:
            await within(self._deadline, self._client.views_publish(user_id=user_id, view=view))
        except SlackApiError as error:
            log.error(
                "Could not publish the Home tab of Slack user %s: %s",
                user_id,
                error.response.get("error"),
            )
            return False
        except (SlackClientError, OSError, TimeoutError, ValueError) as error:
            log.error(
                "Could not publish the Home tab of Slack user %s: %s",
                user_id,
                type(error).__name__,
            )
            return False
        return True
