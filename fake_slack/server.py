"""A fake Slack on loopback that speaks Slack's documented wire protocol.

It serves what this app needs of Slack, the way Slack serves it:
- the Web API methods `apps.connections.open`, `auth.test`, `chat.postMessage` and
  `users.info`, with Slack's bearer-token checks and error shapes;
- the Socket Mode websocket: `hello` on open, envelopes out, acknowledgements back on the same
  socket, `disconnect` before closing;
- `response_url`s, which accept up to 5 posts within 30 minutes.

It records every message the app shows a person (ephemeral replies, channel messages, DMs),
so tests and the sandbox page can read what a Slack user would see.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from .workspace import FakeUser, FakeWorkspace

log = logging.getLogger(__name__)

ACK_TIMEOUT_SECONDS = 3.0
RESPONSE_URL_MAX_POSTS = 5
RESPONSE_URL_LIFETIME_SECONDS = 30 * 60
MAX_CONNECTIONS = 10

JSON = dict[str, Any]

#: `send_envelope`'s payload for an envelope without a `payload` field.
NO_PAYLOAD: Any = object()


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


@dataclass
class CommandOutcome:
    envelope_id: str
    acked: bool
    ack_payload: JSON | None
    ack_seconds: float | None


@dataclass
class _ResponseUrl:
    user_id: str
    channel: str
    created: float
    posts: int = 0


@dataclass
class _Connection:
    ws: web.WebSocketResponse
    opened: float
    ticket: str = field(repr=False)


@dataclass
class ApiCall:
    method: str
    args: JSON
    token: str | None = field(repr=False)


@dataclass(frozen=True)
class Failure:
    """How the fake answers one call it was told to fail: Slack's error code, the HTTP status
    (429 for a rate limit, 5xx for an outage) and, for a rate limit, Retry-After seconds."""

    error: str
    status: int = 200
    retry_after: int | None = None


@dataclass
class FakeSlackState:
    messages: list[Message] = field(default_factory=list)
    api_calls: list[ApiCall] = field(default_factory=list)
    connections_opened: int = 0
    response_urls: list[str] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)


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
        self._tickets: set[str] = set()
        self._connections: list[_Connection] = []
        self._round_robin = itertools.count()
        self._acks: dict[str, asyncio.Future[JSON]] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._ts = itertools.count(1)
        self._changed = asyncio.Condition()
        self._connected = asyncio.Event()
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
        for connection in list(self._connections):
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
        key = uuid.uuid4().hex
        self._response_urls[key] = _ResponseUrl(
            user_id=user_id, channel=channel, created=time.time()
        )
        response_url = f"{self.base_url}/commands/{ws.team_id}/{next(self._ts)}/{key}"
        self.state.response_urls.append(response_url)
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
        self, kind: str, payload: object, *, user_id: str, channel: str
    ) -> CommandOutcome:
        if not self._connections:
            raise RuntimeError("no Socket Mode connection is open: is the app running?")
        connection = self._connections[next(self._round_robin) % len(self._connections)]
        envelope_id = str(uuid.uuid4())
        ack: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = ack
        started = time.perf_counter()
        envelope: JSON = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
        }
        if payload is NO_PAYLOAD:
            del envelope["payload"]
        await connection.ws.send_str(json.dumps(envelope))
        try:
            reply = await asyncio.wait_for(asyncio.shield(ack), ACK_TIMEOUT_SECONDS)
        except TimeoutError:
            self._acks.pop(envelope_id, None)
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
        if isinstance(body, dict) and (body.get("text") or body.get("blocks")):
            await self._record_reply(body, user_id=user_id, channel=channel, source="ack")
        return CommandOutcome(
            envelope_id,
            acked=True,
            ack_payload=body if isinstance(body, dict) else None,
            ack_seconds=elapsed,
        )

    def messages_for(self, user_id: str) -> list[Message]:
        """What `user_id` sees: their ephemeral replies, channel messages and their DMs."""
        return [m for m in self.state.messages if m.where == "channel" or m.user_id == user_id]

    def dms(self, user_id: str) -> list[Message]:
        return [m for m in self.state.messages if m.where == "dm" and m.user_id == user_id]

    def ephemerals(self, user_id: str) -> list[Message]:
        return [m for m in self.state.messages if m.where == "ephemeral" and m.user_id == user_id]

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
        does."""
        self._delays.setdefault(method, []).extend([seconds] * times)

    def set_user(self, user: FakeUser) -> None:
        """Add `user` to the workspace, or replace the user with the same ID."""
        ws = self.workspace
        others = tuple(u for u in ws.users if u.id != user.id)
        self.workspace = dataclasses.replace(ws, users=(*others, user))

    async def disconnect_all(self, reason: str = "refresh_requested") -> None:
        """Ask every connection to go, as Slack does when it refreshes them."""
        for connection in list(self._connections):
            await connection.ws.send_str(json.dumps({"type": "disconnect", "reason": reason}))
            await connection.ws.close()

    # recording

    async def _record(self, message: Message) -> None:
        async with self._changed:
            self.state.messages.append(message)
            self._changed.notify_all()

    async def _record_reply(
        self, body: Mapping[str, Any], *, user_id: str, channel: str, source: str
    ) -> None:
        in_channel = body.get("response_type") == "in_channel"
        await self._record(
            Message(
                where="channel" if in_channel else "ephemeral",
                user_id=None if in_channel else user_id,
                channel=channel,
                text=str(body.get("text") or ""),
                blocks=list(body.get("blocks") or []),
                ts=self._next_ts(),
                source=source,
            )
        )

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
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        connection = _Connection(ws=ws, opened=time.time(), ticket=ticket)
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
        try:
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    self._acknowledge(frame.data)
                elif frame.type == WSMsgType.ERROR:
                    break
        finally:
            self._connections.remove(connection)
            if not self._connections:
                self._connected.clear()
        return ws

    def _acknowledge(self, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            log.warning("Fake Slack got a frame that is not JSON: %.80r", data)
            return
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        future = self._acks.pop(str(envelope_id), None)
        if future is None:
            log.warning("Fake Slack got an acknowledgement for an unknown envelope %r", envelope_id)
        elif not future.done():
            future.set_result(message)

    # response_url

    async def _response_url(self, request: web.Request) -> web.Response:
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
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return web.Response(status=400, text="no_text")
        target.posts += 1
        await self._record_reply(
            body, user_id=target.user_id, channel=target.channel, source="response_url"
        )
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
        if channel[0] in "UW":
            if ws.user(channel) is None:
                return _error("channel_not_found")
            where, user_id, channel_id = "dm", channel, "D" + channel[1:]
        elif channel.startswith("D") and ws.user("U" + channel[1:]):
            where, user_id, channel_id = "dm", "U" + channel[1:], channel
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
        return _ok({"user": user.as_api_object(ws.team_id, ws.enterprise_id)})


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
