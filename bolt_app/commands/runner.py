"""Where plugin handlers run: an event loop of their own, in a thread of its own.

The slash command's acknowledgement and every other listener run on the main event loop. A
handler runs here, after the acknowledgement, so one that blocks (a synchronous call, a long
computation) stalls only other handlers, never an acknowledgement; one that never returns is
abandoned at its deadline (COMMAND_TIMEOUT) and cancelled.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

#: Seconds `stop` waits for the handlers' loop to finish its clean-up.
STOP_TIMEOUT_SECONDS = 5.0


class HandlerTimeout(Exception):
    """The handler did not finish within its deadline; it was cancelled."""


class HandlerExit(Exception):
    """The handler raised SystemExit or KeyboardInterrupt (sys.exit() in a plugin)."""


class PluginRunner:
    """Runs coroutines on the handlers' loop. `start()` before use (the thread is a daemon, so
    a handler stuck in a blocking call cannot keep the process from exiting); `stop()` at
    shutdown. `on_start`/`on_stop` run on the handlers' loop (they open and close what
    handlers share, such as the HTTP connection pool)."""

    def __init__(
        self,
        on_start: Callable[[], Awaitable[None]] | None = None,
        on_stop: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._on_start = on_start
        self._on_stop = on_stop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    async def start(self) -> None:
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._serve, args=(ready,), name="command-handlers", daemon=True
        )
        self._thread.start()
        await asyncio.wrap_future(ready)

    def _serve(self, ready: concurrent.futures.Future[None]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            if self._on_start is not None:
                loop.run_until_complete(self._on_start())
        except BaseException as error:
            ready.set_exception(error)
            loop.close()
            return
        ready.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def run(self, work: Callable[[], Awaitable[T]], deadline_seconds: float) -> T:
        """`work()` run on the handlers' loop, its result or exception; HandlerTimeout (the
        work cancelled) when it takes longer than `deadline_seconds`."""
        loop = self._loop
        if loop is None or loop.is_closed():
            raise RuntimeError("the plugin runner is not started")

        async def call() -> T:
            try:
                return await work()
            except (SystemExit, KeyboardInterrupt) as error:
                # Left alone, these would stop the handlers' loop, and on the main loop the
                # whole app: a handler's exit is its failure, like any exception.
                raise HandlerExit(f"the handler raised {type(error).__name__}") from error

        future = asyncio.run_coroutine_threadsafe(call(), loop)
        waiting = asyncio.wrap_future(future)
        done, _ = await asyncio.wait({waiting}, timeout=deadline_seconds)
        if not done:
            future.cancel()  # reaches the handler as CancelledError when its loop is free
            waiting.cancel()
            raise HandlerTimeout
        return waiting.result()

    async def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or loop.is_closed():
            return

        async def wind_down() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._on_stop is not None:
                await self._on_stop()

        try:
            await asyncio.wait_for(
                asyncio.wrap_future(asyncio.run_coroutine_threadsafe(wind_down(), loop)),
                STOP_TIMEOUT_SECONDS,
            )
        except TimeoutError:
            log.warning(
                "Command handlers did not stop within %ss (one is blocking its thread)",
                STOP_TIMEOUT_SECONDS,
            )
        except Exception:
            log.exception("Stopping the command handlers failed")
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join, STOP_TIMEOUT_SECONDS)
