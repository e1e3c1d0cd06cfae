"""The Socket Mode connection, kept open through Slack's refreshes and the network's faults.

`ResilientSocketModeClient` is slack_sdk's aiohttp `SocketModeClient` with its connection
management replaced; the rest (the message queue, the listeners, sending acknowledgements,
closing) is slack_sdk's own. What it does, following Slack's "Using Socket Mode"
(https://docs.slack.dev/apis/events-api/using-socket-mode, "Handle disconnects gracefully")
and what slack_sdk 3.48 does differently:

- `disconnect` with reason `warning` (Slack closes the connection about 10 s later) or
  `refresh_requested`: a new connection is opened first; the old one is still read (Slack
  may deliver on it until it closes it) for up to `SocketTimings.drain`, then closed.
  slack_sdk closes the old connection before it opens the new one, so an envelope Slack
  sends in between is lost.
- `disconnect` with reason `link_disabled` (Socket Mode was turned off for the app, or the
  app-level token was revoked): the app stops connecting, says so once at ERROR with what
  to do, and reports the state "link_disabled"; the process stays up. slack_sdk ignores
  the reason and reconnects at once, again and again.
- The connection dropped (TCP closed with no disconnect message) or half-open (the socket
  stays open but nothing comes back): a ping goes out every `ping_interval`; when no frame
  at all (pong, ping, envelope) arrived for `receive_timeout`, or the socket closed, the
  connection is replaced.
- `apps.connections.open` or the websocket handshake failing (429, 5xx, timeouts, refused
  connections): retried after a capped exponential backoff with jitter (`backoff_delay`);
  a 429's `Retry-After` is waited out whole. slack_sdk retries every `ping_interval`, and
  sleeps Retry-After only for a 429.
- A connection that ends early (dropped, or Slack said `disconnect`, less than
  `healthy_after` after its `hello`, or before any) is flapping: its replacement waits the
  same capped exponential backoff first, and the count of retries carries on from one
  flapping connection to the next (and into failed opens); it starts over only once a
  connection ended after staying up `healthy_after`. So a connection Slack or the network
  ends at once is retried at most as often as a failed `apps.connections.open`, not in a
  storm against Slack's rate limits, and the log says so once per retry (WARNING
  `The Socket Mode connection ended (...) less than 30s after Slack's hello (3 in a row);
  waiting 1.62s ...`), the drop's own line going at INFO meanwhile.
  A single `disconnect` or drop after a healthy connection is handled at once, as above.
  Repeated `disconnect` messages on a connection already being replaced are ignored.
  slack_sdk reconnects at once every time.
- Closing a connection never waits more than `close_timeout` for Slack's close frame
  (aiohttp's default, which slack_sdk keeps, is 10 s, and a half-open socket never answers).

Every change is reported to the `ConnectionState` ("connected" once Slack said `hello`, or
"sandbox" when it said so when the client was made; "reconnecting"; "link_disabled"), and each connection opened after the first is counted in
`Metrics.socket_mode_reconnects`. Acknowledgements go out on the newest connection (slack_sdk's
`send_message`); Slack's documentation ties an acknowledgement to its `envelope_id`, not to
the connection the envelope came on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from aiohttp import ClientWebSocketResponse, ClientWSTimeout, WSMsgType
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.web.async_client import AsyncWebClient

from monitoring.connection import ConnectionState, State
from monitoring.metrics import Metrics

log = logging.getLogger("bolt_app.socket_mode")

T = TypeVar("T")


@dataclass(frozen=True)
class SocketTimings:
    """How the connection is watched and replaced; every value in seconds."""

    #: A ping goes out this often on the open connection.
    ping_interval: float = 10.0
    #: No frame at all (not even a pong) for this long: the connection is half-open.
    receive_timeout: float = 30.0
    #: The first retry waits about this long; each next one twice as long ...
    backoff_base: float = 1.0
    #: ... up to this (a 429's Retry-After is waited out whole, even when longer).
    backoff_cap: float = 60.0
    #: Each of `apps.connections.open` and the websocket handshake.
    open_timeout: float = 10.0
    #: Closing a connection waits this long at most for Slack's close frame.
    close_timeout: float = 2.0
    #: A connection Slack asked to go is read until Slack closes it, this long at most
    #: (Slack's `warning` comes about 10 s before it closes).
    drain: float = 15.0
    #: A connection that ends sooner than this after Slack's `hello` was flapping: the next
    #: one waits a backoff first (see `backoff_delay`); one that lasted starts the count over.
    healthy_after: float = 30.0


#: What `build_socket_mode_handler` uses; tests replace it with shorter timings.
TIMINGS = SocketTimings()

#: Slack's errors for an app-level token it does not take (apps.connections.open).
TOKEN_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "not_allowed_token_type", "token_revoked", "account_inactive"}
)

LINK_DISABLED_ADVICE = (
    "Slack turned this app's Socket Mode connection off (disconnect reason link_disabled): "
    "the app stops connecting, reports not ready on /readyz, and answers no command until it "
    "is restarted. Either Socket Mode was switched off in the app's settings at "
    "https://api.slack.com/apps (Settings > Socket Mode: turn it on again), or the app-level "
    "token was revoked (Basic Information > App-Level Tokens: generate one with the "
    "connections:write scope and put it in SLACK_APP_TOKEN). Then restart the app."
)


def backoff_delay(attempt: int, timings: SocketTimings, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number `attempt` (0 for the first): "equal jitter" over a
    capped exponential, so that many processes do not retry in step and none waits 0 s:
    half of min(cap, base * 2**attempt), plus a random part up to the other half."""
    ceiling = min(timings.backoff_cap, timings.backoff_base * 2.0 ** min(attempt, 32))
    jitter: float = (rng or random).uniform(0, ceiling / 2)
    return ceiling / 2 + jitter


def retry_after(error: BaseException) -> float | None:
    """The seconds of a 429's Retry-After header (RFC 9110, delay-seconds), else None."""
    if not isinstance(error, SlackApiError) or error.response.status_code != 429:
        return None
    headers = {str(k).lower(): v for k, v in (error.response.headers or {}).items()}
    value = headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(0.0, float(str(value)))
    except ValueError:
        return None


class ResilientSocketModeClient(SocketModeClient):
    """slack_sdk's aiohttp SocketModeClient whose connections are opened, watched and
    replaced as the module says. Build it inside the running event loop."""

    def __init__(
        self,
        app_token: str,
        *,
        web_client: AsyncWebClient,
        logger: logging.Logger | None = None,
        timings: SocketTimings | None = None,
        connection: ConnectionState | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.timings = timings or TIMINGS
        super().__init__(
            app_token=app_token,
            logger=logger or log,
            web_client=web_client,
            ping_interval=self.timings.ping_interval,
        )
        self.connection = connection or ConnectionState()
        self.metrics = metrics or Metrics()
        #: True once Slack said `link_disabled`: nothing reconnects after that.
        self.link_disabled = False
        self._replacing = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_frame: dict[int, float] = {}
        self._readers: dict[int, asyncio.Task[None]] = {}
        self._draining: set[ClientWebSocketResponse] = set()
        self._opened = 0
        #: When Slack said hello on each open connection (time.monotonic()).
        self._hello_at: dict[int, float] = {}
        #: Connections in a row that ended before `timings.healthy_after`.
        self._flaps = 0
        #: The connection Slack asked to go whose replacement is under way, if any.
        self._leaving: ClientWebSocketResponse | None = None
        self._token_refused = False
        #: The state once Slack said hello: "sandbox" when the connection state was set so
        #: before this client was made (the sandbox's fake Slack), else "connected".
        self._serving: State = "sandbox" if self.connection.state == "sandbox" else "connected"

    # slack_sdk's entry points

    async def connect(self) -> None:
        """Open a connection (instead of the current one, if any), retrying until it opens
        (or the client is closed or disconnected, or Slack disabled the link)."""
        if not self.link_disabled:
            self.auto_reconnect_enabled = self.default_auto_reconnect_enabled
        stale = self.current_session
        reason = "starting" if stale is None else "asked to connect"
        await self._replace(stale, reason, overlap=False)

    async def connect_to_new_endpoint(self, force: bool = False) -> None:
        """Replace the current connection (the old one is read until it closes)."""
        await self._replace(self.current_session, "asked to reconnect", overlap=True)

    async def monitor_current_session(self) -> None:
        """Not used: `_watch` watches each connection."""

    async def receive_messages(self) -> None:
        """Not used: `_read` reads each connection."""

    async def disconnect(self) -> None:
        """Close every connection and open no new one until `connect` (envelopes stop
        coming; acknowledgements can no longer be sent)."""
        self.auto_reconnect_enabled = False
        for session in [*self._draining, self.current_session]:
            if session is not None:
                await self._close_quietly(session)

    async def close(self) -> None:
        self.closed = True
        self.auto_reconnect_enabled = False
        for task in list(self._tasks):
            task.cancel()
        await super().close()  # type: ignore[no-untyped-call]  # calls disconnect()

    # opening and replacing

    @property
    def _may_connect(self) -> bool:
        """Not closed, not disconnected (`disconnect`), and Slack did not disable the link."""
        return not self.closed and not self.link_disabled and self.auto_reconnect_enabled

    async def _replace(
        self, stale: ClientWebSocketResponse | None, reason: str, *, overlap: bool
    ) -> None:
        """Open a new connection instead of `stale` (None: the first one), unless another
        task replaced it meanwhile. `overlap`: keep reading `stale` until Slack closes it
        (for at most `timings.drain`); otherwise close it at once."""
        async with self._replacing:
            if not self._may_connect or stale is not self.current_session:
                return
            attempt = 0
            if stale is not None:
                self.connection.set("reconnecting", reason)
                attempt = self._count_flaps(stale)
                if attempt:
                    await self._wait_after_flap(reason, attempt)
            session = await self._open_with_backoff(reason, attempt)
            if session is None:
                return
            if not self._may_connect:  # closed, disconnected or disabled while it opened
                await self._close_quietly(session)
                return
            self.current_session = session
            self.stale = False
            self.last_ping_pong_time = time.time()
            self._last_frame[id(session)] = time.monotonic()
            self._opened += 1
            if self._opened > 1:
                self.metrics.socket_mode_reconnects.inc()
            self._readers[id(session)] = self._spawn(self._read(session))
            self._spawn(self._watch(session))
            if stale is not None:
                self._spawn(self._drain(stale) if overlap else self._close_quietly(stale))

    def _count_flaps(self, stale: ClientWebSocketResponse) -> int:
        """How many connections in a row (`stale` the last) ended before they had been up
        `timings.healthy_after` since Slack's hello; 0 when `stale` lasted that long."""
        hello_at = self._hello_at.pop(id(stale), None)
        if hello_at is not None and time.monotonic() - hello_at >= self.timings.healthy_after:
            self._flaps = 0
        else:
            self._flaps += 1
        return self._flaps

    async def _wait_after_flap(self, reason: str, flaps: int) -> None:
        """Wait the backoff of retry `flaps - 1` before replacing a connection that ended
        early, saying so once at WARNING (the drop's own line goes at INFO meanwhile)."""
        delay = backoff_delay(flaps - 1, self.timings)
        log.warning(
            "The Socket Mode connection ended (%s) less than %gs after Slack's hello (%d in a "
            "row); waiting %.2fs before opening the next, as after a failed open",
            reason,
            self.timings.healthy_after,
            flaps,
            delay,
        )
        await asyncio.sleep(delay)

    async def _open_with_backoff(
        self, reason: str, first: int = 0
    ) -> ClientWebSocketResponse | None:
        """A new websocket (after `apps.connections.open`), retried with backoff from retry
        number `first` on (see `_count_flaps`); None when the client was closed or the link
        disabled meanwhile."""
        attempt = first
        while self._may_connect:
            started = time.monotonic()
            try:
                session = await self._open()
            except Exception as error:  # every failure is retried; the log says which
                delay, what = self._retry_delay(error, attempt)
                if self.connection.state != "starting":
                    self.connection.set("reconnecting", f"{reason}; then {what}")
                await asyncio.sleep(delay)
                attempt += 1
                continue
            if self._token_refused:
                log.info("Slack took the app-level token again")
                self._token_refused = False
            log.info(
                "Socket Mode connection open (%s; %.2fs, %d retries)",
                reason,
                time.monotonic() - started,
                attempt - first,
            )
            return session
        return None

    async def _open(self) -> ClientWebSocketResponse:
        """apps.connections.open, then the websocket handshake, each within open_timeout."""
        timeout = self.timings.open_timeout
        opened = await asyncio.wait_for(
            self.web_client.apps_connections_open(app_token=self.app_token), timeout
        )
        url = opened["url"]
        if not isinstance(url, str):
            raise ValueError("apps.connections.open answered without a url")
        return await asyncio.wait_for(
            self.aiohttp_client_session.ws_connect(
                url,
                autoping=False,
                heartbeat=None,
                proxy=self.proxy,
                ssl=self.web_client.ssl if self.web_client.ssl is not None else True,
                timeout=ClientWSTimeout(ws_receive=None, ws_close=self.timings.close_timeout),
            ),
            timeout,
        )

    def _retry_delay(self, error: Exception, attempt: int) -> tuple[float, str]:
        """How long to wait after `error`, and what it was (logged without secrets)."""
        delay = backoff_delay(attempt, self.timings)
        waited = retry_after(error)
        if waited is not None:
            delay = max(delay, waited)
            what = f"rate limited (HTTP 429, Retry-After {waited:g}s)"
        elif isinstance(error, SlackApiError):
            code = error.response.get("error") if isinstance(error.response.data, dict) else None
            what = f"HTTP {error.response.status_code}, {code or 'no error code'}"
            if code in TOKEN_ERRORS:
                if not self._token_refused:
                    log.error(
                        "Slack refused the app-level token (%s) when opening a Socket Mode "
                        "connection: check SLACK_APP_TOKEN (an xapp- token with the "
                        "connections:write scope, from the app's Basic Information page at "
                        "https://api.slack.com/apps); retrying with backoff",
                        code,
                    )
                self._token_refused = True
        elif isinstance(error, TimeoutError):
            what = f"no answer within {self.timings.open_timeout:g}s"
        else:
            what = type(error).__name__
        log.warning(
            "Could not open a Socket Mode connection (%s); retry %d in %.2fs",
            what,
            attempt + 1,
            delay,
        )
        return delay, what

    # reading and watching one connection

    async def _read(self, session: ClientWebSocketResponse) -> None:
        """Read `session` until it closes: envelopes to slack_sdk's queue, `hello` and
        `disconnect` handled here (so that slack_sdk never sees a disconnect), any frame
        noted as a sign of life. When it closes while it is the current connection, it is
        replaced."""
        key = id(session)
        current = asyncio.current_task()
        try:
            while True:
                try:
                    message = await session.receive()
                except Exception as error:  # a broken transport ends the connection
                    log.info("Socket Mode connection failed: %s", type(error).__name__)
                    break
                self._last_frame[key] = time.monotonic()
                if message.type == WSMsgType.TEXT:
                    data = message.data
                    if isinstance(data, str) and await self._control(session, data):
                        continue
                    await self.enqueue_message(data)
                    for listener in self.on_message_listeners:
                        await listener(message)
                elif message.type == WSMsgType.PING:
                    with contextlib.suppress(Exception):
                        await session.pong(message.data)
                elif message.type == WSMsgType.PONG:
                    if session is self.current_session:
                        self.last_ping_pong_time = time.time()
                elif message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                    break
                elif message.type == WSMsgType.ERROR:
                    log.info("Socket Mode connection error: %s", type(message.data).__name__)
                    break
        finally:
            self._last_frame.pop(key, None)
            if session is not self.current_session:
                self._hello_at.pop(key, None)
            if self._readers.get(key) is current:
                del self._readers[key]
        if session is self.current_session and self._may_connect:
            # While it flaps, `_wait_after_flap` says so at WARNING, once per retry.
            level = logging.INFO if self._flaps else logging.WARNING
            log.log(level, "The Socket Mode connection closed; opening a new one")
            await self._replace(session, "the connection closed", overlap=False)

    async def _control(self, session: ClientWebSocketResponse, data: str) -> bool:
        """Handle `hello` and `disconnect`; True when `data` was one of them."""
        if '"hello"' not in data and '"disconnect"' not in data:
            return False
        try:
            message = json.loads(data)
        except ValueError:
            return False
        if not isinstance(message, dict) or "envelope_id" in message:
            return False
        kind = message.get("type")
        if kind == "hello":
            self._hello_at.setdefault(id(session), time.monotonic())
            if session is self.current_session and self._may_connect:
                self.connection.set(self._serving, "Slack said hello")
            return False  # slack_sdk's listeners may see it too
        if kind != "disconnect":
            return False
        reason = str(message.get("reason") or "unknown")[:40]
        if reason == "link_disabled":
            await self._stop_for_link_disabled()
        elif session is self._leaving:
            log.debug("Slack asked again for a new Socket Mode connection (%s)", reason)
        elif session is self.current_session and self._may_connect:
            log.info("Slack asked for a new Socket Mode connection (%s); opening it", reason)
            self._leaving = session
            self._spawn(self._leave(session, reason))
        return True

    async def _leave(self, session: ClientWebSocketResponse, reason: str) -> None:
        try:
            await self._replace(session, f"Slack said disconnect ({reason})", overlap=True)
        finally:
            if self._leaving is session:
                self._leaving = None

    async def _stop_for_link_disabled(self) -> None:
        if self.link_disabled:
            return
        self.link_disabled = True
        self.auto_reconnect_enabled = False
        self.connection.set("link_disabled", "Slack said disconnect (link_disabled)")
        log.error(LINK_DISABLED_ADVICE)
        sessions = [*self._draining, self.current_session]
        for session in sessions:
            if session is not None:
                self._spawn(self._close_quietly(session))

    async def _watch(self, session: ClientWebSocketResponse) -> None:
        """Ping `session` every ping_interval; replace it when it closed or nothing came
        back within receive_timeout."""
        while self._may_connect and session is self.current_session:
            await asyncio.sleep(self.timings.ping_interval)
            if not self._may_connect or session is not self.current_session:
                return
            if session.closed:
                await self._replace(session, "the connection closed", overlap=False)
                return
            silent = time.monotonic() - self._last_frame.get(id(session), time.monotonic())
            if silent > self.timings.receive_timeout:
                log.warning(
                    "Nothing came from Slack for %.1fs, not even a pong: the Socket Mode "
                    "connection is half-open; replacing it",
                    silent,
                )
                await self._replace(session, "no pong (half-open)", overlap=False)
                return
            try:
                await asyncio.wait_for(
                    session.ping(b"account-binding"),
                    self.timings.close_timeout,
                )
            except Exception as error:  # a failed ping shows as silence or a close
                log.debug("ping failed: %s", type(error).__name__)

    # closing old connections

    async def _drain(self, session: ClientWebSocketResponse) -> None:
        """Keep reading `session` (its `_read` task runs on) until Slack closes it, for
        timings.drain at most; then close it."""
        self._draining.add(session)
        reader = self._readers.get(id(session))
        try:
            if reader is not None:
                await asyncio.wait({reader}, timeout=self.timings.drain)
        finally:
            self._draining.discard(session)
        await self._close_quietly(session)

    async def _close_quietly(self, session: ClientWebSocketResponse) -> None:
        """Close `session`, waiting at most close_timeout (twice: aiohttp's own wait for the
        close frame, bounded by ws_close, and this deadline around it)."""
        if session.closed:
            return
        try:
            await asyncio.wait_for(session.close(), 2 * self.timings.close_timeout)
        except (TimeoutError, aiohttp.ClientError, OSError, RuntimeError) as error:
            log.debug("closing an old connection: %s", type(error).__name__)

    def _spawn(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
