"""Where plugin handlers run: each on an event loop of its own, in a thread of its own.

The slash command's acknowledgement and every other listener run on the main event loop. A
handler runs elsewhere, after the acknowledgement, so one that blocks (a synchronous HTTP
call, a long computation) stalls only itself: never an acknowledgement, never another
person's command. One that does not finish within its deadline (COMMAND_TIMEOUT) is
abandoned and cancelled; its thread is a daemon, so a handler stuck in a blocking call cannot
keep the process from exiting. At most MAX_RUNNING_HANDLERS run at once; waiting for a slot
counts toward the deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

#: Handlers running at once (each holds a thread until it returns, even when abandoned).
MAX_RUNNING_HANDLERS = 32
#: Seconds `stop` waits for cancelled handlers to finish.
STOP_TIMEOUT_SECONDS = 5.0


class HandlerTimeout(Exception):
    """The handler did not finish within its deadline; it was cancelled."""


class HandlerExit(Exception):
    """The handler raised SystemExit or KeyboardInterrupt (sys.exit() in a plugin)."""


class _Run(Generic[T]):
    """One handler's run on its own loop and thread."""

    def __init__(self, work: Callable[[], Awaitable[T]]) -> None:
        self._work = work
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[T] | None = None
        self._cancelled = False
        self.thread: threading.Thread | None = None

    async def _call(self) -> T:
        try:
            return await self._work()
        except (SystemExit, KeyboardInterrupt) as error:
            # Left alone, these would end the handler's thread unreported, and on the main
            # loop the whole app: a handler's exit is its failure, like any exception.
            raise HandlerExit(f"the handler raised {type(error).__name__}") from error

    def serve(self, report: Callable[[T | None, BaseException | None], None]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        result: T | None = None
        error: BaseException | None = None
        try:
            with self._lock:
                self._loop = loop
                self._task = loop.create_task(self._call())
                if self._cancelled:
                    self._task.cancel()
            result = loop.run_until_complete(self._task)
        except BaseException as raised:  # reported to the caller, CancelledError included
            error = raised
        finally:
            with self._lock:
                self._loop = None
            _close(loop)
            report(result, error)

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._loop is not None and self._task is not None:
                self._loop.call_soon_threadsafe(self._task.cancel)


class PluginRunner:
    """Runs handlers, each on a loop and thread of its own. `start()` on the main loop before
    use; `stop()` at shutdown cancels what still runs."""

    def __init__(self, max_running: int = MAX_RUNNING_HANDLERS) -> None:
        self._max_running = max_running
        self._slots: asyncio.Semaphore | None = None
        self._runs: set[_Run[object]] = set()

    async def start(self) -> None:
        self._slots = asyncio.Semaphore(self._max_running)

    async def run(
        self,
        work: Callable[[], Awaitable[T]],
        deadline_seconds: float,
        *,
        abandon: Callable[[], None] | None = None,
    ) -> T:
        """`work()` run on a loop and thread of its own, its result or exception; HandlerTimeout
        (the work cancelled) when it takes longer than `deadline_seconds`, waiting for a slot
        included. A SystemExit or KeyboardInterrupt in `work` is HandlerExit. `abandon` is
        called on this loop at the deadline, before the work is cancelled (so that what the
        work does once it sees its cancellation finds it already called)."""
        slots = self._slots
        if slots is None:
            raise RuntimeError("the plugin runner is not started")
        main = asyncio.get_running_loop()
        deadline = main.time() + deadline_seconds
        try:
            await asyncio.wait_for(slots.acquire(), deadline_seconds)
        except TimeoutError:
            raise HandlerTimeout from None
        finished: asyncio.Future[T] = main.create_future()
        run: _Run[T] = _Run(work)

        def settle(result: T | None, error: BaseException | None) -> None:
            slots.release()
            self._runs.discard(run)
            if finished.done():  # abandoned at its deadline: its end is nobody's news
                return
            if error is not None:
                finished.set_exception(error)
            else:
                finished.set_result(result)  # type: ignore[arg-type]

        def report(result: T | None, error: BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # the main loop closed: the app stopped
                main.call_soon_threadsafe(settle, result, error)

        run.thread = threading.Thread(
            target=run.serve, args=(report,), name="command-handler", daemon=True
        )
        self._runs.add(run)  # type: ignore[arg-type]
        run.thread.start()
        try:
            done, _ = await asyncio.wait({finished}, timeout=max(0.0, deadline - main.time()))
        except asyncio.CancelledError:
            # Issue 11, shutdown: whoever awaited it was cut off; so is the handler (abandoned
            # first, as at its deadline), and its end (the CancelledError it reports) is
            # nobody's news.
            finished.cancel()
            if abandon is not None:
                abandon()
            run.cancel()
            raise
        if not done:
            finished.cancel()  # so a late result or error is dropped, not left unretrieved
            if abandon is not None:
                abandon()
            run.cancel()  # reaches the handler as CancelledError when its loop is free
            raise HandlerTimeout
        return finished.result()

    async def stop(self, timeout_seconds: float = STOP_TIMEOUT_SECONDS) -> None:
        """Cancel what still runs and wait for the threads, at most `timeout_seconds` in all
        (issue 11, shutdown: a graceful stop gives it a second at most)."""
        runs = list(self._runs)
        for run in runs:
            run.cancel()
        threads = [run.thread for run in runs if run.thread is not None]

        def join() -> bool:
            until = time.monotonic() + timeout_seconds
            for thread in threads:
                thread.join(max(0.0, until - time.monotonic()))
            return all(not thread.is_alive() for thread in threads)

        if threads and not await asyncio.to_thread(join):
            log.warning(
                "Some command handlers did not stop within %gs (one is blocking its thread)",
                timeout_seconds,
            )


def _close(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what the handler left running on its loop, then close the loop."""
    try:
        left = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in left:
            task.cancel()
        if left:
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
    except Exception:
        log.exception("Closing a command handler's loop failed")
    finally:
        loop.close()
