"""The Slack side of a graceful stop (issue 11, shutdown): stop taking envelopes, answer every
envelope already received, close the Socket Mode connection, let the work in flight finish
within SHUTDOWN_TIMEOUT, and cut off (and log) what is left at the deadline.

The order, from `Draining.begin` (SIGTERM or SIGINT, through `launcher.stopping`):

1. The handler takes no new envelope (`InFlight.stop_taking`); the connection's state is
   "stopped", so `/readyz` answers not ready.
2. Every envelope the handler took before is acknowledged first: the websocket stays open
   until each one's `handle` has returned and slack_sdk's queue of received messages is
   empty, then it closes without reconnecting. From then on Slack delivers to the app's other
   connections, if any; with none, it retries events later and shows a slash command's
   sender that the app did not answer.
3. An envelope that arrives in between is never handed to Bolt, so nothing is done half-way
   (`refuse`): a slash command is acknowledged with an ephemeral "the app is restarting,
   nothing was done, try again in a minute"; an event or an interaction is left
   unacknowledged, so that Slack delivers the event again later (to this app once it is back,
   where it is acted on once) and marks the button or form the person used as not answered.
4. `Draining.finish` waits for the work after the acknowledgements (the listeners' tasks, the
   plugin runner's jobs they wait for, the DMs they started) until the deadline; whatever is
   still running then is cancelled and logged with its count, naming SHUTDOWN_TIMEOUT.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from slack_bolt.async_app import AsyncApp
from slack_bolt.listener.async_listener_start_handler import AsyncListenerStartHandler
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from monitoring.connection import ConnectionState

from . import messages
from .in_flight import InFlight, describe

log = logging.getLogger(__name__)

#: What a slash command that arrives while the app is stopping is answered.
RESTARTING = (
    "The app is restarting, so this was not done. Try again in a minute; if it keeps "
    "failing, tell your administrator."
)
#: Seconds the websocket's close may take (beyond the deadline, when it comes that late).
CLOSE_SECONDS = 2.0
#: Seconds the tasks cut off at the deadline are given to end.
CUT_OFF_SECONDS = 1.0
#: How often the queue of messages slack_sdk received is looked at while it empties.
QUEUE_POLL_SECONDS = 0.01


class _Counting(Protocol):
    in_flight: InFlight

    def refused(self, req: SocketModeRequest) -> None:
        """`req` was refused while stopping: forget whatever its arrival noted."""


H = TypeVar("H", bound=_Counting)
P = ParamSpec("P")
Handle = Callable[Concatenate[H, SocketModeClient, SocketModeRequest, P], Awaitable[None]]


def counted_envelope(handle: Handle[H, P]) -> Handle[H, P]:
    """The Socket Mode handler's `handle`, counted in `self.in_flight` while it runs, and
    replaced by `refuse` (then `self.refused(req)`) once a stop has begun."""

    @functools.wraps(handle)
    async def counting(
        self: H,
        client: SocketModeClient,
        req: SocketModeRequest,
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> None:
        in_flight = self.in_flight
        if not in_flight.taking:
            with in_flight.envelope("refused"):
                self.refused(req)
                await refuse(client, req)
            return
        with in_flight.envelope(req.type):
            await handle(self, client, req, *args, **kwargs)

    return counting


async def refuse(client: SocketModeClient, req: SocketModeRequest) -> None:
    """An envelope that arrived after the stop began: not handed to Bolt (see the module)."""
    if req.type != "slash_commands":
        log.info(
            "An envelope of type %s arrived while the app is stopping: left it unacknowledged, "
            "so that Slack delivers it again later",
            req.type,
        )
        return
    reply = messages.error_reply(RESTARTING)
    answer = {"response_type": "ephemeral", "text": reply.text, "blocks": reply.blocks}
    try:
        await client.send_socket_mode_response(
            SocketModeResponse(envelope_id=req.envelope_id, payload=answer)
        )
    except Exception as error:  # the connection went meanwhile: Slack tells the person
        log.warning("Could not refuse a slash command while stopping: %s", type(error).__name__)
        return
    log.info(
        "A slash command arrived while the app is stopping: answered that the app is "
        "restarting and did nothing"
    )


class _AdoptingStartHandler(AsyncListenerStartHandler):
    """Bolt's listener start hook, which runs first in the task Bolt runs each listener in:
    counts that task as its envelope's work (`InFlight.adopt_current_task`), then calls the
    hook it replaced."""

    def __init__(self, inner: AsyncListenerStartHandler, in_flight: InFlight) -> None:
        self.inner = inner
        self.in_flight = in_flight

    async def handle(self, request: AsyncBoltRequest, response: BoltResponse | None) -> None:
        self.in_flight.adopt_current_task()
        await self.inner.handle(request, response)


def count_listeners(app: AsyncApp, in_flight: InFlight) -> None:
    """Count each of `app`'s listener runs in `in_flight` until it ends.

    Bolt (`AsyncioListenerRunner`, with `process_before_response` off as here) runs a
    listener in a task of its own and returns the acknowledgement as soon as the listener
    calls `ack()`; the rest of the listener (the internal API, `respond()`) runs on in that
    task, which nothing else would wait for. The task's first step is the start hook, which
    asyncio runs before the handler's `handle` resumes (the task was scheduled before the
    Bolt run that made it ended), so an envelope never looks finished in between.
    """
    runner = app.listener_runner
    runner.listener_start_handler = _AdoptingStartHandler(runner.listener_start_handler, in_flight)


class _Closable(Protocol):
    client: SocketModeClient

    async def close_async(self) -> Any: ...


class Draining:
    """One site's Slack side as it stops: `begin` once the stop is asked for, `finish` at the
    lifespan's end (see the module for the order)."""

    def __init__(
        self,
        handler: _Closable,
        in_flight: InFlight,
        connection: ConnectionState,
        *,
        timeout_seconds: float,
    ) -> None:
        self.handler = handler
        self.in_flight = in_flight
        self.connection = connection
        #: SHUTDOWN_TIMEOUT, for the log.
        self.timeout_seconds = timeout_seconds
        self.reason = ""
        self._deadline = 0.0
        self._closing: asyncio.Future[None] | None = None

    @property
    def began(self) -> bool:
        return self._closing is not None

    def begin(self, reason: str, seconds_left: float) -> None:
        """Stop taking envelopes now and close the websocket once every envelope taken is
        acknowledged; everything ends within `seconds_left` (what is left of SHUTDOWN_TIMEOUT)
        from now. `reason`: why, for the log and `/readyz` ("SIGTERM"). Again: nothing more.
        Runs on the event loop."""
        if self._closing is not None:
            return
        self.reason = reason
        self._deadline = time.monotonic() + seconds_left
        self.in_flight.stop_taking()
        self.connection.set("stopped", f"stopping ({reason})")
        self._closing = asyncio.ensure_future(self._close_socket())

    def _left(self) -> float:
        return max(0.0, self._deadline - time.monotonic())

    async def _close_socket(self) -> None:
        try:
            await self.in_flight.wait(handled_only=True, timeout_seconds=self._left())
            queue = self.handler.client.message_queue
            # Messages slack_sdk received but has not handed over yet are answered too; its
            # asyncio.Queue offers nothing to await for "empty" (join() needs task_done()).
            while not queue.empty() and self._left() > 0:  # noqa: ASYNC110
                await asyncio.sleep(QUEUE_POLL_SECONDS)
            answered = await self.in_flight.wait(handled_only=True, timeout_seconds=self._left())
            if not answered:
                log.warning(
                    "Closing the Socket Mode connection with %d envelopes not yet acknowledged "
                    "(SHUTDOWN_TIMEOUT ran out)",
                    self.in_flight.handling,
                )
            await asyncio.wait_for(self.handler.close_async(), self._left() + CLOSE_SECONDS)
            log.info("Closed the Socket Mode connection: Slack sends this app nothing more")
        except TimeoutError:
            log.warning("The Socket Mode connection did not close within %ss", CLOSE_SECONDS)
        except Exception:  # the stop goes on; the cause is in the log
            log.exception("Closing the Socket Mode connection failed")
        finally:
            self.connection.set("stopped", f"stopped ({self.reason})")

    async def finish(self) -> None:
        """After `begin`: wait for the websocket's close and for the work in flight until the
        deadline; cancel what is left then, logging how much of what was cut off."""
        if self._closing is None:
            raise RuntimeError("Draining.finish before begin")
        await self._closing
        left = self._left()
        if not self.in_flight.outstanding():
            return
        log.info(
            "Waiting up to %.1fs (what is left of SHUTDOWN_TIMEOUT) for %s in flight",
            left,
            describe(self.in_flight.outstanding()),
        )
        if await self.in_flight.wait(handled_only=False, timeout_seconds=left):
            log.info("The Slack work in flight has finished")
            return
        cut = await self.in_flight.cut_off(CUT_OFF_SECONDS)
        log.warning(
            "SHUTDOWN_TIMEOUT (%gs) ran out: cut off %s still in flight (their senders may "
            "get no answer); raise SHUTDOWN_TIMEOUT to let such work finish",
            self.timeout_seconds,
            describe(cut),
        )
