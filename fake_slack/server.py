"""A fake Slack on loopback that speaks Slack's documented wire protocol.

It serves what this app needs of Slack, the way Slack serves it:
- the Web API methods `apps.connections.open`, `auth.test`, `chat.postMessage`,
  `users.info` and `views.publish`, with Slack's bearer-token checks and error shapes;
- the Socket Mode websocket: `hello` on open, envelopes out (spread over the app's open
  sockets, up to 10), acknowledgements back (matched by envelope_id, on any of them),
  `disconnect` before closing;
- `response_url`s, which accept up to 5 posts within 30 minutes.

It records every message the app shows a person (ephemeral replies, channel messages, DMs),
so tests and the sandbox page can read what a Slack user would see.

What a person or Slack does, as tests drive it (each waits up to 3 s for the app's ack and
returns a CommandOutcome):
- `send_slash_command(user_id, text)`: the slash command; `text` reaches the app escaped.
- `send_event(event, *, event_id=None, retry_attempt=None)`: an Events API delivery (an
  `events_api` envelope around Slack's `event_callback` wrapper, with `authorizations`);
  build the event with `app_home_opened_event(user_id, tab="home")`,
  `user_change_event(user_id, deleted=False)`, `app_uninstalled_event()` or
  `tokens_revoked_event(bot=True, oauth_user_ids=())`.
- `click(user_id, message, action_id, *, confirmed=False)`: block_actions for an element
  of a message the person sees, with a response_url bound to that message (a post with
  `replace_original` replaces it in place, `Message.replaced` counting; `delete_original`
  marks it `deleted` and hides it from what the person sees; otherwise a new message).
  An element with a `confirm` object needs `confirmed=True` (the person accepted Slack's
  dialog), else ValueError; so does a missing element.
- `click_home(user_id, action_id, *, confirmed=False)`: block_actions from the person's
  Home tab as `views.publish` last published it (container "view", no response_url).
- `run_shortcut(user_id, callback_id)`: a global shortcut.
- `home_view(user_id)`: the Home tab view last published for the person, or None.
- `delete_user(user_id)`, `set_user(user)`, `join_org(enterprise_id, name)`: change the
  workspace as an admin would (deactivate someone; move the workspace into a Grid org).
- `wait_for_message(predicate)`, `wait_until(condition)`: wait for what the app does after
  its ack (a message recorded, replaced or deleted; a Home tab published).

Socket Mode faults, as Slack and the network cause them (issue 11): `send_disconnect(reason,
close_after=…)` (`warning`, `refresh_requested`, `link_disabled`), `close_socket(serial)`,
`drop_connections()` (TCP closed, no close frame), `go_half_open()` (nothing comes back),
`delivering_on(serial)` (deliver on one socket), `redeliver(envelope_id)` (the same envelope
again), and `fail("apps.connections.open", …)` for 429s and outages. `state.sockets` records
each websocket (`wait_for_socket(n)`, `wait_for_socket_closed(serial)`), `state.acks` each
acknowledgement.

Deleted messages stay in `state.messages` (so indexes taken before stay valid) with
`deleted` set; `messages_for`, `ephemerals` and `dms` leave them out.

For the benchmarks (bench/, issue 12): `send_command_timed` delivers a slash command and
records nothing but its ack's time, `watch_response_urls` reports each accepted
response_url post, and `forget_response_urls` lets a long run keep its memory flat.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from . import payloads
from .views import ViewRefused, parse_view
from .workspace import FakeUser, FakeWorkspace

log = logging.getLogger(__name__)

ACK_TIMEOUT_SECONDS = 3.0
RESPONSE_URL_MAX_POSTS = 5
RESPONSE_URL_LIFETIME_SECONDS = 30 * 60
MAX_CONNECTIONS = 10
#: Envelopes the fake keeps to `redeliver` (issue 11).
SENT_KEPT = 1000

JSON = dict[str, Any]

#: `send_envelope`'s payload for an envelope without a `payload` field.
NO_PAYLOAD: Any = object()

_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")


@dataclass
class Message:
    """Something a Slack user sees: `where` is "ephemeral", "channel" or "dm"."""

    where: str
    user_id: str | None  # the person it is shown to (ephemeral) or the DM partner (dm)
    channel: str
    text: str
    blocks: list[JSON]
    ts: str
    source: str  # "ack", "response_url", "chat.postMessage" or "slack"
    #: How many times a response_url post with `replace_original` replaced it in place.
    replaced: int = 0
    #: Removed by a response_url post with `delete_original`: the person no longer sees it.
    deleted: bool = False


@dataclass
class CommandOutcome:
    envelope_id: str
    acked: bool
    ack_payload: JSON | None
    ack_seconds: float | None


# Issue 12, benchmarks
@dataclass(frozen=True, slots=True)
class TimedCommand:
    """What `FakeSlack.send_command_timed` returns (times in seconds)."""

    sent_at: float
    ack_seconds: float | None
    response_url: str
    #: The acknowledgement's `payload` (the message it answers with), None without one.
    ack_payload: Any = None


@dataclass
class _ResponseUrl:
    user_id: str
    channel: str
    created: float
    posts: int = 0
    #: The message `replace_original`/`delete_original` act on: for an interaction, the
    #: message whose element was clicked; for a slash command, the last message the command
    #: produced (its ack's reply or a post to this URL), None before it produced one.
    original: Message | None = field(default=None, repr=False)


@dataclass
class _Connection:
    ws: web.WebSocketResponse
    opened: float
    ticket: str = field(repr=False)
    # Issue 11, socket: what a test made of it (see "Socket Mode faults")
    serial: int = 0
    transport: asyncio.BaseTransport | None = field(default=None, repr=False)
    #: Half-open: the fake reads and drops what the app sends (acknowledgements, pongs, its
    #: close frame), answers nothing and delivers nothing more on it.
    silent: bool = False


@dataclass
class SocketRecord:
    """One Socket Mode websocket as the fake saw it: when it opened (after `hello` was sent)
    and closed, by `time.monotonic()`; `serial` counts from 1 in opening order."""

    serial: int
    opened: float
    closed: float | None = None


@dataclass
class ApiCall:
    method: str
    args: JSON
    token: str | None = field(repr=False)
    #: When the call arrived, by `time.monotonic()` (issue 11: gaps between retries).
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Failure:
    """How the fake answers one call it was told to fail: Slack's error code, the HTTP status
    (429 for a rate limit, 5xx for an outage) and, for a rate limit, Retry-After seconds."""

    error: str
    status: int = 200
    retry_after: int | None = None


@dataclass
class HeldCall:
    """Issue 11, shutdown: a Web API call the fake holds (`FakeSlack.hold`): `arrived` is set
    when the call comes, and the fake answers it once `release()` is called."""

    method: str
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self.released.set()


@dataclass
class FakeSlackState:
    messages: list[Message] = field(default_factory=list)
    api_calls: list[ApiCall] = field(default_factory=list)
    connections_opened: int = 0
    response_urls: list[str] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)
    #: The Home tab view `views.publish` last published for each user ID, as Slack answered it.
    home_views: dict[str, JSON] = field(default_factory=dict)
    # Issue 11, socket: every websocket opened, and every envelope_id acknowledged, in order
    # (an envelope acknowledged twice appears twice; one never delivered too).
    sockets: list[SocketRecord] = field(default_factory=list)
    acks: list[str] = field(default_factory=list)


class FakeSlack:
    def __init__(
        self,
        *,
        bot_token: str = "xoxb-sandbox-bot-token",  # noqa: S107 - the sandbox's own placeholder
        app_token: str = "xapp-sandbox-app-token",  # noqa: S107 - the sandbox's own placeholder
        workspace: FakeWorkspace | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        scopes: tuple[str, ...] = ("commands", "chat:write", "users:read", "users:read.email"),
    ) -> None:
        self.scopes = scopes
        self.bot_token = bot_token
        self.app_token = app_token
        self.workspace = workspace or FakeWorkspace()
        self.host = host
        self.port = port
        self.state = FakeSlackState()
        self._failures: dict[str, list[Failure]] = {}
        self._delays: dict[str, list[float]] = {}
        self._holds: dict[str, list[HeldCall]] = {}  # Issue 11, shutdown
        self._tickets: set[str] = set()
        self._connections: list[_Connection] = []
        self._round_robin = itertools.count()
        self._acks: dict[str, asyncio.Future[JSON]] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._ts = itertools.count(1)
        self._changed = asyncio.Condition()
        self._connected = asyncio.Event()
        # Issue 11, socket: envelopes as sent (for `redeliver`), where to deliver
        self._sent: dict[str, JSON] = {}
        self._deliver_on: int | None = None
        self._closers: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self.app = self._build_app()

    # lifecycle

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """What the app's SLACK_API_URL is set to."""
        return f"{self.base_url}/api/"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        log.info("Fake Slack listening on %s", self.base_url)

    async def stop(self) -> None:
        for task in list(self._closers):
            task.cancel()
        for connection in list(self._connections):
            if connection.silent and connection.transport is not None:
                connection.transport.close()  # a half-open link has no close handshake
            else:
                await connection.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/{method}", self._web_api)
        app.router.add_get("/api/{method}", self._web_api)
        app.router.add_get("/link/", self._socket)
        app.router.add_post("/commands/{team}/{number}/{key}", self._response_url)
        app.router.add_post("/actions/{team}/{number}/{key}", self._response_url)
        return app

    # what tests and the sandbox page do

    async def wait_connected(self, seconds: float = 10.0) -> None:
        await asyncio.wait_for(self._connected.wait(), seconds)

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    async def send_slash_command(
        self,
        user_id: str,
        text: str,
        *,
        command: str | None = None,
        channel_id: str | None = None,
        user_name: str | None = None,
    ) -> CommandOutcome:
        """Deliver a slash command as Slack does and wait (up to 3 s) for the acknowledgement.

        `text` is what the person typed; it reaches the app escaped as Slack escapes it.
        """
        payload = self.slash_command_payload(
            user_id, text, command=command, channel_id=channel_id, user_name=user_name
        )
        return await self._deliver(
            "slash_commands", payload, user_id=user_id, channel=str(payload["channel_id"])
        )

    def slash_command_payload(
        self,
        user_id: str,
        text: str,
        *,
        command: str | None = None,
        channel_id: str | None = None,
        user_name: str | None = None,
    ) -> JSON:
        """The payload of a slash command `user_id` types, with a live response_url: a test
        may change it and deliver it with `send_envelope("slash_commands", payload)`."""
        ws = self.workspace
        user = ws.user(user_id)
        channel = channel_id or ws.channel_id
        response_url = self._new_response_url("commands", user_id=user_id, channel=channel)
        payload: JSON = {
            "token": "deprecated-verification-token",
            "team_id": ws.team_id,
            "team_domain": ws.team_domain,
            "channel_id": channel,
            "channel_name": ws.channel_name,
            "user_id": user_id,
            "user_name": user_name or (user.name if user else user_id.lower()),
            "command": command or ws.command,
            "text": slack_escape(text),
            "api_app_id": ws.app_id,
            "is_enterprise_install": "true" if ws.is_enterprise_install else "false",
            # Shaped like Slack's own: https://hooks.slack.com/commands/T…/<id>/<secret>
            "response_url": response_url,
            "trigger_id": f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:32]}",
        }
        if ws.enterprise_id:
            payload["enterprise_id"] = ws.enterprise_id
            payload["enterprise_name"] = ws.enterprise_name or ws.enterprise_id
        return payload

    async def send_envelope(self, kind: str, payload: object = NO_PAYLOAD) -> CommandOutcome:
        """Deliver any envelope (events_api, interactive, ...) and wait for its acknowledgement.

        `payload` is sent as given, even when it is not an object (null, a list), as a broken
        or hostile sender could; NO_PAYLOAD leaves the `payload` field out.
        """
        fields = payload if isinstance(payload, dict) else {}
        user = fields.get("user")
        user_id = user.get("id") if isinstance(user, dict) else fields.get("user_id")
        channel = fields.get("channel_id")
        return await self._deliver(
            kind,
            payload,
            user_id=str(user_id or ""),
            channel=channel if isinstance(channel, str) else self.workspace.channel_id,
        )

    async def _deliver(
        self,
        kind: str,
        payload: object,
        *,
        user_id: str,
        channel: str,
        accepts_response_payload: bool | None = None,
        extra: JSON | None = None,
    ) -> CommandOutcome:
        connection = self._pick_connection()
        envelope_id = str(uuid.uuid4())
        ack: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = ack
        started = time.perf_counter()
        if accepts_response_payload is None:
            accepts_response_payload = kind != "events_api"
        envelope: JSON = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            **(extra or {}),
        }
        if payload is NO_PAYLOAD:
            del envelope["payload"]
        self._remember(envelope)
        await connection.ws.send_str(json.dumps(envelope))
        return await self._await_ack(
            envelope_id, ack, started, kind, payload, accepts_response_payload, user_id, channel
        )

    async def _await_ack(
        self,
        envelope_id: str,
        ack: asyncio.Future[JSON],
        started: float,
        kind: str,
        payload: object,
        accepts_response_payload: bool,
        user_id: str,
        channel: str,
    ) -> CommandOutcome:
        try:
            reply = await asyncio.wait_for(asyncio.shield(ack), ACK_TIMEOUT_SECONDS)
        except TimeoutError:
            self._acks.pop(envelope_id, None)
            if kind == "events_api" or not accepts_response_payload:
                # Slack retries an event later, and marks a button that got no ack with a
                # warning sign; neither shows a message.
                return CommandOutcome(envelope_id, acked=False, ack_payload=None, ack_seconds=None)
            command = payload.get("command", "") if isinstance(payload, dict) else ""
            await self._record(
                Message(
                    where="ephemeral",
                    user_id=user_id,
                    channel=channel,
                    text=f'{command} failed with the error "operation_timeout"',
                    blocks=[],
                    ts=self._next_ts(),
                    source="slack",
                )
            )
            return CommandOutcome(envelope_id, acked=False, ack_payload=None, ack_seconds=None)
        elapsed = time.perf_counter() - started
        body = reply.get("payload")
        replies = accepts_response_payload and isinstance(body, dict)
        if replies and isinstance(body, dict) and (body.get("text") or body.get("blocks")):
            message = await self._record_reply(body, user_id=user_id, channel=channel, source="ack")
            target = self._response_url_of(payload)
            if target is not None and message.where == "ephemeral":
                target.original = message
        return CommandOutcome(
            envelope_id,
            acked=True,
            ack_payload=body if isinstance(body, dict) else None,
            ack_seconds=elapsed,
        )

    def _response_url_of(self, payload: object) -> _ResponseUrl | None:
        url = payload.get("response_url") if isinstance(payload, dict) else None
        if not isinstance(url, str):
            return None
        return self._response_urls.get(url.rsplit("/", 1)[-1])

    def messages_for(self, user_id: str) -> list[Message]:
        """What `user_id` sees: their ephemeral replies, channel messages and their DMs
        (not the messages a `delete_original` removed)."""
        return [
            m
            for m in self.state.messages
            if not m.deleted and (m.where == "channel" or m.user_id == user_id)
        ]

    def dms(self, user_id: str) -> list[Message]:
        return [
            m
            for m in self.state.messages
            if not m.deleted and m.where == "dm" and m.user_id == user_id
        ]

    def ephemerals(self, user_id: str) -> list[Message]:
        return [
            m
            for m in self.state.messages
            if not m.deleted and m.where == "ephemeral" and m.user_id == user_id
        ]

    # Events API

    async def send_event(
        self,
        event: JSON,
        *,
        event_id: str | None = None,
        retry_attempt: int | None = None,
        retry_reason: str = "timeout",
    ) -> CommandOutcome:
        """Deliver `event` as Slack's Events API does over Socket Mode and wait (up to 3 s)
        for the ack: an `events_api` envelope (accepts_response_payload false) around the
        `event_callback` wrapper (`payloads.event_callback`), with a fresh `Ev…` event_id
        unless `event_id` is given. A redelivery carries `retry_attempt` (1 to 3) and
        `retry_reason` on the envelope, with the same `event_id` as the first delivery."""
        payload = self.event_payload(event, event_id=event_id)
        extra: JSON = {}
        if retry_attempt is not None:
            extra = {"retry_attempt": retry_attempt, "retry_reason": retry_reason}
        user = event.get("user")
        user_id = user if isinstance(user, str) else ""
        return await self._deliver(
            "events_api",
            payload,
            user_id=user_id,
            channel=self.workspace.channel_id,
            accepts_response_payload=False,
            extra=extra,
        )

    def event_payload(self, event: JSON, *, event_id: str | None = None) -> JSON:
        """The `event_callback` payload `send_event` sends for `event`: a test may change it
        and deliver it with `send_envelope("events_api", payload)`."""
        return payloads.event_callback(self.workspace, event, event_id=event_id)

    def app_home_opened_event(self, user_id: str, tab: str = "home") -> JSON:
        """`app_home_opened` for `user_id` opening the app's `tab` ("home" or "messages"),
        with the Home tab's current view once one was published for them."""
        return payloads.app_home_opened(
            self.workspace, user_id, tab, self.state.home_views.get(user_id)
        )

    def user_change_event(self, user_id: str, *, deleted: bool = False) -> JSON:
        """`user_change` with Slack's full user object for `user_id`. `deleted=True` first
        deactivates the user (as `delete_user`), so `users.info` agrees with the event."""
        if deleted:
            self.delete_user(user_id)
        user = self.workspace.user(user_id)
        if user is None:
            raise ValueError(f"no user {user_id!r} in the fake workspace")
        return payloads.user_change(self.workspace, user)

    def app_uninstalled_event(self) -> JSON:
        return payloads.app_uninstalled()

    def tokens_revoked_event(self, bot: bool = True, oauth_user_ids: tuple[str, ...] = ()) -> JSON:
        """`tokens_revoked`: `bot` names the app's bot user in `tokens.bot`; `oauth_user_ids`
        are the people whose user tokens were revoked."""
        return payloads.tokens_revoked(
            self.workspace, bot=bot, oauth_user_ids=tuple(oauth_user_ids)
        )

    # interactions

    async def click(
        self, user_id: str, message: Message, action_id: str, *, confirmed: bool = False
    ) -> CommandOutcome:
        """`user_id` clicks the element `action_id` of `message` (a button, or a menu, which
        picks its initial or first option) and Slack sends block_actions, with a
        response_url bound to `message` (see `_response_url`).

        Raises ValueError when the person cannot see `message` (another's ephemeral or DM,
        or one deleted), when it has no such element, or when the element carries a
        `confirm` object and `confirmed` is false: Slack shows the dialog first and sends
        nothing unless the person confirms."""
        ws = self.workspace
        if message.deleted or not (message.where == "channel" or message.user_id == user_id):
            raise ValueError(f"{user_id} does not see the message {message.ts} ({message.text!r})")
        action = payloads.find_element(
            message.blocks, action_id, confirmed=confirmed, where=f"message {message.ts}"
        )
        response_url = self._new_response_url(
            "actions", user_id=user_id, channel=message.channel, original=message
        )
        ephemeral = message.where == "ephemeral"
        partner = ws.dm_partner(message.channel)
        extra: JSON = {
            "channel": {
                "id": message.channel,
                "name": "directmessage" if partner else ws.channel_name,
            },
            "state": {"values": {}},
            "response_url": response_url,
        }
        if not ephemeral:
            # Slack sends the message itself only when it is not ephemeral.
            extra["message"] = {
                "type": "message",
                "subtype": "bot_message",
                "text": message.text,
                "ts": message.ts,
                "bot_id": ws.bot_id,
                "app_id": ws.app_id,
                "user": ws.bot_user_id,
                "team": ws.team_id,
                "blocks": message.blocks,
            }
        payload = payloads.block_actions(
            ws,
            user_id,
            action,
            container={
                "type": "message",
                "message_ts": message.ts,
                "channel_id": message.channel,
                "is_ephemeral": ephemeral,
            },
            extra=extra,
        )
        return await self._deliver(
            "interactive",
            payload,
            user_id=user_id,
            channel=message.channel,
            accepts_response_payload=False,
        )

    async def click_home(
        self, user_id: str, action_id: str, *, confirmed: bool = False
    ) -> CommandOutcome:
        """`user_id` clicks the element `action_id` on their Home tab, as `views.publish`
        last published it: block_actions with container {"type": "view", "view_id"} and the
        `view`, and no response_url. ValueError as `click`, or when no Home tab was
        published for them."""
        view = self.state.home_views.get(user_id)
        if view is None:
            raise ValueError(f"no Home tab was published for {user_id}")
        action = payloads.find_element(
            list(view.get("blocks") or []),
            action_id,
            confirmed=confirmed,
            where=f"the Home tab of {user_id}",
        )
        payload = payloads.block_actions(
            self.workspace,
            user_id,
            action,
            container={"type": "view", "view_id": view["id"]},
            extra={"view": view},
        )
        return await self._deliver(
            "interactive",
            payload,
            user_id=user_id,
            channel=self.workspace.dm_channel(user_id),
            accepts_response_payload=False,
        )

    async def run_shortcut(self, user_id: str, callback_id: str) -> CommandOutcome:
        """`user_id` runs the app's global shortcut `callback_id` (from the composer's or the
        search bar's shortcut menu): a `shortcut` payload, no channel, no response_url."""
        payload = payloads.global_shortcut(self.workspace, user_id, callback_id)
        return await self._deliver(
            "interactive",
            payload,
            user_id=user_id,
            channel=self.workspace.dm_channel(user_id),
            accepts_response_payload=False,
        )

    def home_view(self, user_id: str) -> JSON | None:
        """The view `views.publish` last published for `user_id`'s Home tab, as Slack
        answered it (with `id` and `hash`), or None."""
        return self.state.home_views.get(user_id)

    def _new_response_url(
        self, path: str, *, user_id: str, channel: str, original: Message | None = None
    ) -> str:
        key = uuid.uuid4().hex
        self._response_urls[key] = _ResponseUrl(
            user_id=user_id, channel=channel, created=time.time(), original=original
        )
        # Shaped like Slack's: https://hooks.slack.com/{commands|actions}/T…/<id>/<secret>
        url = f"{self.base_url}/{path}/{self.workspace.team_id}/{next(self._ts)}/{key}"
        self.state.response_urls.append(url)
        return url

    async def wait_for_message(
        self, predicate: Callable[[Message], bool], seconds: float = 5.0, *, after: int = 0
    ) -> Message:
        """The first message (from index `after` on) for which `predicate` holds, waiting for it.

        Raises TimeoutError when none comes within `seconds`.
        """

        def find() -> Message | None:
            return next((m for m in self.state.messages[after:] if predicate(m)), None)

        async with self._changed:
            found = await asyncio.wait_for(self._changed.wait_for(find), seconds)
        assert found is not None
        return found

    async def wait_until(self, condition: Callable[[], bool], seconds: float = 5.0) -> None:
        """Wait until `condition` holds, checking it whenever a message is recorded, replaced
        or deleted, a Home tab published, or a Socket Mode connection opened or closed. Raises
        TimeoutError after `seconds`."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(condition), seconds)

    def fail(
        self,
        method: str,
        error: str,
        times: int = 1,
        *,
        status: int | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` with `{"ok": false, "error": error}`.

        As Slack does, "ratelimited" comes with HTTP 429 and a `Retry-After` header (1 s
        unless `retry_after` says otherwise); `status` gives another HTTP status, such as 503
        for an outage. `method` "response_url" makes the next posts to any response_url get
        `error` as text, with HTTP 404 unless `status` says otherwise.
        """
        if status is None:
            status = 429 if error == "ratelimited" else 200
        if status == 429 and retry_after is None:
            retry_after = 1
        failure = Failure(error, status, retry_after)
        self._failures.setdefault(method, []).extend([failure] * times)

    def slow(self, method: str, seconds: float, times: int = 1) -> None:
        """Answer the next `times` calls of Web API `method` `seconds` late, as a slow Slack
        does. A call whose client gave up meanwhile (its timeout) is not acted on, as if it
        was lost on its way."""
        self._delays.setdefault(method, []).extend([seconds] * times)

    # Issue 11, shutdown: a call held for as long as a test needs the app to be waiting on it
    def hold(self, method: str) -> HeldCall:
        """Hold the next call of Web API `method` until the returned call's `release()`."""
        held = HeldCall(method)
        self._holds.setdefault(method, []).append(held)
        return held

    def set_user(self, user: FakeUser) -> None:
        """Add `user` to the workspace, or replace the user with the same ID."""
        ws = self.workspace
        others = tuple(u for u in ws.users if u.id != user.id)
        self.workspace = dataclasses.replace(ws, users=(*others, user))

    def delete_user(self, user_id: str) -> FakeUser:
        """Deactivate `user_id` as an admin does: Slack keeps the user, and `users.info`
        answers with `deleted: true`. Returns the deactivated user; KeyError if unknown."""
        user = self.workspace.user(user_id)
        if user is None:
            raise KeyError(user_id)
        deleted = dataclasses.replace(user, deleted=True)
        self.set_user(deleted)
        return deleted

    def join_org(
        self,
        enterprise_id: str,
        enterprise_name: str | None = None,
        *,
        is_enterprise_install: bool = False,
    ) -> None:
        """Move the workspace into the Enterprise Grid organisation `enterprise_id` (as an
        org admin does; callable after `start`): from then on payloads, events, `auth.test`
        and `users.info` name the organisation. `is_enterprise_install` makes the app's
        install org-wide."""
        self.workspace = dataclasses.replace(
            self.workspace,
            enterprise_id=enterprise_id,
            enterprise_name=enterprise_name or enterprise_id,
            is_enterprise_install=is_enterprise_install,
        )

    async def disconnect_all(self, reason: str = "refresh_requested") -> None:
        """Ask every connection to go, as Slack does when it refreshes them."""
        await self.send_disconnect(reason, close_after=0.0)

    # recording

    async def _record(self, message: Message) -> None:
        async with self._changed:
            self.state.messages.append(message)
            self._changed.notify_all()

    async def _record_reply(
        self, body: Mapping[str, Any], *, user_id: str, channel: str, source: str
    ) -> Message:
        in_channel = body.get("response_type") == "in_channel"
        message = Message(
            where="channel" if in_channel else "ephemeral",
            user_id=None if in_channel else user_id,
            channel=channel,
            text=str(body.get("text") or ""),
            blocks=list(body.get("blocks") or []),
            ts=self._next_ts(),
            source=source,
        )
        await self._record(message)
        return message

    async def _changed_in_place(self, message: Message, body: Mapping[str, Any] | None) -> None:
        """Replace `message`'s text and blocks with `body`'s, or (None) delete it."""
        async with self._changed:
            if body is None:
                message.deleted = True
            else:
                message.text = str(body.get("text") or "")
                message.blocks = list(body.get("blocks") or [])
                message.replaced += 1
            self._changed.notify_all()

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    # the Socket Mode websocket

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid ticket")
        self._tickets.discard(ticket)
        if len(self._connections) >= MAX_CONNECTIONS:
            return web.Response(status=429, text="too_many_websockets")
        # Pings and the close handshake are answered here, so that a half-open connection
        # (`go_half_open`) can leave them unanswered.
        ws = web.WebSocketResponse(autoping=False, autoclose=False, timeout=2.0)
        await ws.prepare(request)
        record = SocketRecord(serial=len(self.state.sockets) + 1, opened=time.monotonic())
        connection = _Connection(
            ws=ws,
            opened=time.time(),
            ticket=ticket,
            serial=record.serial,
            transport=request.transport,
        )
        self._connections.append(connection)
        self._connected.set()
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": len(self._connections),
                    "debug_info": {
                        "host": "applink-fake",
                        "build_number": 1,
                        "approximate_connection_time": 3600,
                    },
                    "connection_info": {"app_id": self.workspace.app_id},
                }
            )
        )
        await self._socket_changed(lambda: self.state.sockets.append(record))
        try:
            while True:
                frame = await ws.receive()
                if frame.type in (WSMsgType.CLOSED, WSMsgType.CLOSING, WSMsgType.ERROR):
                    break
                if frame.type == WSMsgType.CLOSE:
                    if connection.silent:  # the app's close frame is lost too
                        await _until_closed(connection.transport)
                    else:
                        await ws.close()
                    break
                if connection.silent:
                    continue  # half-open: nothing the app sends arrives
                if frame.type == WSMsgType.TEXT:
                    self._acknowledge(frame.data)
                elif frame.type == WSMsgType.PING:
                    await ws.pong(frame.data)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._connections.remove(connection)
            if not self._connections:
                self._connected.clear()
            await self._socket_changed(lambda: setattr(record, "closed", time.monotonic()))
        return ws

    def _acknowledge(self, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            log.warning("Fake Slack got a frame that is not JSON: %.80r", data)
            return
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        self.state.acks.append(str(envelope_id))
        future = self._acks.pop(str(envelope_id), None)
        if future is None:
            log.warning("Fake Slack got an acknowledgement for an unknown envelope %r", envelope_id)
        elif not future.done():
            future.set_result(message)

    # Issue 11, socket: Socket Mode faults, as Slack and the network cause them
    # (https://docs.slack.dev/apis/events-api/using-socket-mode: "Handle disconnects gracefully")

    @property
    def socket_serials(self) -> list[int]:
        """The serials of the open websockets (see `state.sockets`), oldest first."""
        return [c.serial for c in self._connections]

    async def send_disconnect(
        self, reason: str, *, close_after: float | None = 0.0, serial: int | None = None
    ) -> list[int]:
        """Send `{"type": "disconnect", "reason": reason}` on every open websocket (or the one
        numbered `serial`), as Slack does: `warning` about 10 s before it closes a connection,
        `refresh_requested` when it wants a new one, `link_disabled` when Socket Mode was
        turned off for the app. Each is closed `close_after` seconds later (0: at once; None:
        left open, Slack still delivering on it). The serials told."""
        told = [c for c in self._connections if serial is None or c.serial == serial]
        for connection in told:
            await connection.ws.send_str(
                json.dumps(
                    {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
                )
            )
            if close_after == 0.0:
                await connection.ws.close()
            elif close_after is not None:
                self._close_later(connection, close_after)
        return [c.serial for c in told]

    async def close_socket(self, serial: int) -> None:
        """Close websocket `serial` with the close handshake, as Slack ends a connection."""
        for connection in self._connections:
            if connection.serial == serial:
                await connection.ws.close()

    def drop_connections(self) -> list[int]:
        """Drop every open websocket abruptly: the TCP connection closes with no `disconnect`
        message and no close frame, as when a network path or a load balancer goes away."""
        dropped = []
        for connection in list(self._connections):
            if connection.transport is not None:
                connection.transport.close()
                dropped.append(connection.serial)
        return dropped

    def go_half_open(self) -> list[int]:
        """Every open websocket goes half-open: the TCP connection stays up but nothing comes
        back (no pong, no acknowledgement read, no close frame answered) and nothing more is
        delivered on it, as when a NAT or firewall silently forgets the connection."""
        for connection in self._connections:
            connection.silent = True
        return [c.serial for c in self._connections]

    @contextlib.contextmanager
    def delivering_on(self, serial: int) -> Iterator[None]:
        """Deliver envelopes on websocket `serial` only, within the block (Slack may deliver
        on any of an app's open connections, one it has told to go included)."""
        self._deliver_on = serial
        try:
            yield
        finally:
            self._deliver_on = None

    async def redeliver(self, envelope_id: str) -> CommandOutcome:
        """Send the envelope `envelope_id` again, the same bytes with the same envelope_id,
        and wait for its acknowledgement as the first time."""
        envelope = self._sent[envelope_id]
        connection = self._pick_connection()
        ack: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = ack
        started = time.perf_counter()
        await connection.ws.send_str(json.dumps(envelope))
        payload = envelope.get("payload", NO_PAYLOAD)
        fields = payload if isinstance(payload, dict) else {}
        user = fields.get("user")
        user_id = user.get("id") if isinstance(user, dict) else fields.get("user_id")
        return await self._await_ack(
            envelope_id,
            ack,
            started,
            str(envelope["type"]),
            payload,
            envelope["accepts_response_payload"] is True,
            str(user_id or ""),
            str(fields.get("channel_id") or self.workspace.channel_id),
        )

    async def wait_for_socket(self, count: int, seconds: float = 10.0) -> SocketRecord:
        """Wait until `count` websockets were opened in all (`state.sockets`); the last."""
        await self._wait_socket(lambda: len(self.state.sockets) >= count, seconds)
        return self.state.sockets[count - 1]

    async def wait_for_socket_closed(self, serial: int, seconds: float = 10.0) -> None:
        await self._wait_socket(lambda: self.state.sockets[serial - 1].closed is not None, seconds)

    async def _wait_socket(self, condition: Callable[[], bool], seconds: float) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(condition), seconds)

    async def _socket_changed(self, change: Callable[[], None]) -> None:
        async with self._changed:
            change()
            self._changed.notify_all()

    def _pick_connection(self) -> _Connection:
        live = [c for c in self._connections if not c.silent]
        if self._deliver_on is not None:
            live = [c for c in live if c.serial == self._deliver_on]
        if not live:
            raise RuntimeError("no Socket Mode connection is open: is the app running?")
        return live[next(self._round_robin) % len(live)]

    def _close_later(self, connection: _Connection, seconds: float) -> None:
        async def close() -> None:
            await asyncio.sleep(seconds)
            await connection.ws.close()

        task = asyncio.get_running_loop().create_task(close())
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)

    def _remember(self, envelope: JSON) -> None:
        """Keep the last SENT_KEPT envelopes sent, for `redeliver`."""
        self._sent[str(envelope["envelope_id"])] = envelope
        while len(self._sent) > SENT_KEPT:
            del self._sent[next(iter(self._sent))]

    # response_url

    async def _response_url(self, request: web.Request) -> web.Response:
        """A post to a response_url (https://docs.slack.dev/interactivity/handling-user-interaction
        #message_responses): up to 5 within 30 minutes. `delete_original: true` deletes the
        original message; `replace_original: true` replaces its text and blocks in place
        (when there is none yet, the post becomes a new message); otherwise a new message,
        ephemeral unless `response_type` is "in_channel". For an interaction the original is
        the message clicked; for a slash command, the last ephemeral message it produced.
        Errors answer as Slack's hooks do: a status and a plain-text code."""
        failures = self._failures.get("response_url")
        if failures:
            failure = failures.pop(0)
            status = failure.status if failure.status != 200 else 404
            return web.Response(status=status, text=failure.error)
        target = self._response_urls.get(request.match_info["key"])
        if target is None or time.time() - target.created > RESPONSE_URL_LIFETIME_SECONDS:
            return web.Response(status=404, text="expired_url")
        if target.posts >= RESPONSE_URL_MAX_POSTS:
            return web.Response(status=404, text="used_url")
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        original = target.original
        if original is not None and original.deleted:
            original = None
        if _flag(body.get("delete_original")):
            if original is None:
                return web.Response(status=404, text="message_not_found")
            target.posts += 1
            await self._changed_in_place(original, None)
            return web.Response(text="ok")
        if not (body.get("text") or body.get("blocks")):
            return web.Response(status=400, text="no_text")
        target.posts += 1
        if _flag(body.get("replace_original")) and original is not None:
            await self._changed_in_place(original, body)
            return web.Response(text="ok")
        message = await self._record_reply(
            body, user_id=target.user_id, channel=target.channel, source="response_url"
        )
        if request.path.startswith("/commands/") and message.where == "ephemeral":
            target.original = message
        return web.Response(text="ok")

    # the Web API

    async def _web_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _arguments(request)
        token = _bearer(request) or (str(args.pop("token")) if "token" in args else None)
        self.state.api_calls.append(ApiCall(method=method, args=args, token=token))
        handler = {
            "apps.connections.open": self._apps_connections_open,
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "users.info": self._users_info,
            "views.publish": self._views_publish,
        }.get(method)
        if handler is None:
            return _error("unknown_method", status=404)
        if token is None:
            return _error("not_authed")
        wanted = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != wanted:
            return _error(
                "not_allowed_token_type"
                if token in (self.app_token, self.bot_token)
                else "invalid_auth"
            )
        delays = self._delays.get(method)
        if delays:
            await asyncio.sleep(delays.pop(0))
            if request.transport is None:  # Issue 11: the client gave up; nothing is done
                return web.Response(status=499, text="client gone")
        holds = self._holds.get(method)  # Issue 11, shutdown
        if holds:
            held = holds.pop(0)
            held.arrived.set()
            await held.released.wait()
        failures = self._failures.get(method)
        if failures:
            failure = failures.pop(0)
            response = _error(failure.error, status=failure.status)
            if failure.retry_after is not None:
                response.headers["Retry-After"] = str(failure.retry_after)
        else:
            response = await handler(args)
        if token == self.bot_token:
            response.headers["x-oauth-scopes"] = ",".join(self.scopes)
        return response

    async def _apps_connections_open(self, args: JSON) -> web.Response:
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        self.state.tickets.append(ticket)
        self.state.connections_opened += 1
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return _ok(
            {"url": f"ws://{host}:{self.port}/link/?ticket={ticket}&app_id={self.workspace.app_id}"}
        )

    async def _auth_test(self, args: JSON) -> web.Response:
        """As Slack answers for a bot token: a workspace install names its workspace (and its
        organisation on Enterprise Grid); an org-wide install names the organisation, whose
        ID it gives as `team_id` too, with `is_enterprise_install` true."""
        ws = self.workspace
        body: JSON = {
            "url": f"https://{ws.team_domain}.slack.com/",
            "team": ws.team_name,
            "user": "bot",
            "team_id": ws.team_id,
            "user_id": ws.bot_user_id,
            "bot_id": ws.bot_id,
            "is_enterprise_install": False,
        }
        if ws.enterprise_id:
            body["enterprise_id"] = ws.enterprise_id
        if ws.is_enterprise_install and ws.enterprise_id:
            body["url"] = f"https://{ws.team_domain}.enterprise.slack.com/"
            body["team"] = ws.enterprise_name or ws.enterprise_id
            body["team_id"] = ws.enterprise_id
            body["is_enterprise_install"] = True
        return _ok(body)

    async def _chat_post_message(self, args: JSON) -> web.Response:
        channel = str(args.get("channel") or "")
        text = args.get("text")
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except ValueError:
                return _error("invalid_blocks_format")
        if not channel:
            return _error("channel_not_found")
        if not text and not blocks:
            return _error("no_text")
        if blocks is not None and not isinstance(blocks, list):
            return _error("invalid_blocks_format")
        ws = self.workspace
        partner = ws.dm_partner(channel)
        if channel[0] in "UW":
            if ws.user(channel) is None:
                return _error("channel_not_found")
            where, user_id, channel_id = "dm", channel, ws.dm_channel(channel)
        elif partner is not None:
            where, user_id, channel_id = "dm", partner.id, channel
        elif channel == ws.channel_id:
            where, user_id, channel_id = "channel", None, channel
        else:
            return _error("channel_not_found")
        ts = self._next_ts()
        await self._record(
            Message(
                where=where,
                user_id=user_id,
                channel=channel_id,
                text=str(text or ""),
                blocks=list(blocks or []),
                ts=ts,
                source="chat.postMessage",
            )
        )
        return _ok(
            {
                "channel": channel_id,
                "ts": ts,
                "message": {"type": "message", "text": text or "", "bot_id": ws.bot_id, "ts": ts},
            }
        )

    async def _users_info(self, args: JSON) -> web.Response:
        user = self.workspace.user(str(args.get("user") or ""))
        if user is None:
            return _error("user_not_found")
        ws = self.workspace
        return _ok({"user": user.as_api_object(ws.team_id, ws.enterprise_id, ws.enterprise_name)})

    async def _views_publish(self, args: JSON) -> web.Response:
        """Publish a Home tab view for `user_id` (https://docs.slack.dev/reference/methods/
        views.publish). The answer is the view as Slack stores it: the same `id` for a
        person's Home tab across publishes, a fresh `hash` each time."""
        ws = self.workspace
        user_id = args.get("user_id")
        if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
            return _invalid_arguments(["invalid `user_id`"])
        try:
            view = parse_view(args.get("view"))
        except ViewRefused as refused:
            if refused.messages:
                return _invalid_arguments(refused.messages)
            return _error(refused.error)
        if ws.user(user_id) is None:
            return _error("user_not_found")
        current = self.state.home_views.get(user_id)
        wanted_hash = args.get("hash")
        if wanted_hash and (current is None or current["hash"] != wanted_hash):
            return _error("hash_conflict")
        view_id = current["id"] if current else payloads.slack_id("V")
        published: JSON = {
            "id": view_id,
            "team_id": ws.team_id,
            "type": "home",
            "close": None,
            "submit": None,
            "blocks": view["blocks"],
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
            "clear_on_close": False,
            "notify_on_close": False,
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": ws.app_id,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": ws.team_id,
            "bot_id": ws.bot_id,
        }
        async with self._changed:
            self.state.home_views[user_id] = published
            self._changed.notify_all()
        return _ok({"view": published})

    # Issue 12, benchmarks: a lean delivery for the load generator (bench/), which sends
    # thousands of commands a second and reads only the time to each acknowledgement.

    async def send_command_timed(
        self, user_id: str, text: str, *, ack_within: float = ACK_TIMEOUT_SECONDS
    ) -> TimedCommand:
        """Deliver a slash command as `send_slash_command` does, over the same websocket and
        with a live response_url, but record nothing (no ephemeral message, no
        operation_timeout message): a load generator keeps only the times.

        Returns a TimedCommand: `sent_at` (time.perf_counter() seconds just before the
        envelope was sent), `ack_seconds` (seconds from then to its acknowledgement, None
        when none came within `ack_within` seconds), the command's `response_url`, and the
        acknowledgement's payload (`ack_payload`).
        Raises RuntimeError when no Socket Mode connection is open.
        """
        if not self._connections:
            raise RuntimeError("no Socket Mode connection is open: is the app running?")
        payload = self.slash_command_payload(user_id, text)
        connection = self._connections[next(self._round_robin) % len(self._connections)]
        envelope_id = uuid.uuid4().hex
        ack: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = ack
        frame = json.dumps(
            {
                "envelope_id": envelope_id,
                "type": "slash_commands",
                "payload": payload,
                "accepts_response_payload": True,
            }
        )
        sent_at = time.perf_counter()
        await connection.ws.send_str(frame)
        try:
            acknowledgement = await asyncio.wait_for(ack, ack_within)
        except TimeoutError:
            self._acks.pop(envelope_id, None)
            return TimedCommand(sent_at, None, str(payload["response_url"]))
        seconds = time.perf_counter() - sent_at
        answer = acknowledgement.get("payload") if isinstance(acknowledgement, dict) else None
        return TimedCommand(sent_at, seconds, str(payload["response_url"]), answer)

    def watch_response_urls(self, on_post: Callable[[str, float], None]) -> None:
        """Call `on_post(response_url, at)` for every post a response_url accepts (HTTP 200),
        `at` being time.perf_counter() when it was accepted. Call before `start`."""

        @web.middleware
        async def watch(
            request: web.Request,
            handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        ) -> web.StreamResponse:
            response = await handler(request)
            if response.status == 200 and request.path.startswith(("/commands/", "/actions/")):
                on_post(self.base_url + request.path, time.perf_counter())
            return response

        self.app.middlewares.append(watch)

    def forget_response_urls(self) -> None:
        """Forget every response_url issued so far (a post to one then gets 404
        `expired_url`), so that a long benchmark keeps this process's memory flat."""
        self._response_urls.clear()
        self.state.response_urls.clear()


async def _until_closed(transport: asyncio.BaseTransport | None, seconds: float = 60.0) -> None:
    """Wait (up to `seconds`) until the app closes the TCP connection of a half-open socket.
    Polled: once a websocket is closing, aiohttp reads no more and offers nothing to await."""
    deadline = time.monotonic() + seconds
    while transport is not None and not transport.is_closing() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def _arguments(request: web.Request) -> JSON:
    args: JSON = dict(request.query)
    if request.method != "POST" or not request.can_read_body:
        return args
    raw = await request.read()
    if request.content_type == "application/json":
        try:
            body = json.loads(raw)
        except ValueError:
            return args
        if isinstance(body, dict):
            args.update(body)
    else:
        args.update(parse_qsl(raw.decode("utf-8", "replace")))
    return args


def _invalid_arguments(messages: list[str]) -> web.Response:
    return web.json_response(
        {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": messages}}
    )


def _flag(value: object) -> bool:
    """A response_url body's boolean, which clients send as true or "true"."""
    return value is True or value == "true"


def slack_escape(text: str) -> str:
    """Text as Slack delivers what a person typed: `&`, `<` and `>` as `&amp;`, `&lt;` and
    `&gt;`, nothing else escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:] if header.startswith("Bearer ") else None


def _ok(body: JSON) -> web.Response:
    return web.json_response({"ok": True, **body})


def _error(error: str, status: int = 200) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status)
