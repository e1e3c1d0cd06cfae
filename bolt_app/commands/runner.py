"""Where plugin handlers run: each on an event loop of its own, in a thread of its own.

The slash command's acknowledgement and every other listener run on the main event loop. A
handler runs elsewhere, after the acknowledgement, so one that blocks (a synchronous HTTP
call, a long computation) stalls only itself: never an acknowledgement, never another
person's command. One that does not finish within its deadline (COMMAND_TIMEOUT) is
abandoned and cancelled; its thread is a daemon, so a handler stuck in a blocking call cannot
keep the process from exiting. At most MAX_RUNNING_HANDLERS run at once; waiting for a slot
counts toward the deadline.

Issue 12: the threads and their loops are kept and used again, one handler at a time each
(a worker), rather than made for every command; what lives on a worker's loop between
handlers (the internal API client's pooled connections, `bolt_app.internal_api`) is closed
there by the `on_loop_end` callbacks when the worker ends. Whatever a handler leaves running
on the loop is cancelled when it returns, as before, so the next handler starts clean; a
worker whose loop a handler broke (stopped or closed it) is not used again.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import queue
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

#: Handlers running at once (each holds a worker until it returns, even when abandoned).
MAX_RUNNING_HANDLERS = 32
#: Seconds `stop` waits for cancelled handlers to finish.
STOP_TIMEOUT_SECONDS = 5.0
#: Seconds each `on_loop_end` callback may take when a worker ends.
LOOP_END_SECONDS = 1.0

Report = Callable[[object, BaseException | None, bool], None]
_Tasks = weakref.WeakSet[asyncio.Task[Any]]


class HandlerTimeout(Exception):
    """The handler did not finish within its deadline; it was cancelled."""


class HandlerExit(Exception):
    """The handler raised SystemExit or KeyboardInterrupt (sys.exit() in a plugin)."""


class _Run(Generic[T]):
    """One handler's run on a worker's loop."""

    def __init__(self, work: Callable[[], Awaitable[T]]) -> None:
        self._work = work
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[T] | None = None
        self._cancelled = False

    async def _call(self) -> T:
        try:
            return await self._work()
        except (SystemExit, KeyboardInterrupt) as error:
            # Left alone, these would end the handler's thread unreported, and on the main
            # loop the whole app: a handler's exit is its failure, like any exception.
            raise HandlerExit(f"the handler raised {type(error).__name__}") from error

    def serve(self, loop: asyncio.AbstractEventLoop, tasks: _Tasks, report: Report) -> bool:
        """Run the handler on `loop` (the worker's, current in this thread), tidy the loop,
        then `report(result, error, usable)`; `usable`, returned too: whether the loop can
        run the next handler."""
        result: T | None = None
        error: BaseException | None = None
        task: asyncio.Task[T] | None = None
        try:
            with self._lock:
                self._loop = loop
                self._task = task = loop.create_task(self._call())
                if self._cancelled:
                    task.cancel()
            result = loop.run_until_complete(task)
        except BaseException as raised:  # reported to the caller, CancelledError included
            error = raised
        finally:
            with self._lock:
                self._loop = None
            usable = task is not None and task.done() and _tidy(loop, tasks)
            report(result, error, usable)
        return usable

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._loop is not None and self._task is not None:
                self._loop.call_soon_threadsafe(self._task.cancel)


class _Worker:
    """A daemon thread with an event loop of its own that runs the handlers it is given, one
    at a time, until it is given None."""

    def __init__(self, on_loop_end: Sequence[Callable[[], Awaitable[None]]]) -> None:
        self._on_loop_end = on_loop_end
        self.jobs: queue.SimpleQueue[tuple[_Run[object], Report] | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._serve, name="command-handler", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        tasks: _Tasks = weakref.WeakSet()

        def recorded(
            loop: asyncio.AbstractEventLoop,
            coro: Coroutine[Any, Any, Any],
            context: contextvars.Context | None = None,
        ) -> asyncio.Task[Any]:
            task = asyncio.Task(coro, loop=loop, context=context)
            tasks.add(task)
            return task

        # The tasks made on this loop, so that what a handler leaves is found without
        # asyncio.all_tasks, which goes through every loop's tasks (the main loop's too).
        loop.set_task_factory(recorded)  # type: ignore[arg-type]
        try:
            while (job := self.jobs.get()) is not None:
                run, report = job
                if not run.serve(loop, tasks, report):
                    return  # the loop is broken: this worker ends; the runner makes another
        finally:
            _close(loop, tasks, self._on_loop_end)


class PluginRunner:
    """Runs handlers, each on a loop and thread of its own (kept for the next handler).
    `start()` on the main loop before use; `stop()` at shutdown cancels what still runs.
    `on_loop_end`: coroutine functions run on each worker's loop before it closes (for what
    lives there between handlers, such as pooled HTTP clients)."""

    def __init__(
        self,
        max_running: int = MAX_RUNNING_HANDLERS,
        *,
        on_loop_end: Sequence[Callable[[], Awaitable[None]]] = (),
    ) -> None:
        self._max_running = max_running
        self._on_loop_end = tuple(on_loop_end)
        self._slots: asyncio.Semaphore | None = None
        self._runs: set[_Run[object]] = set()
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()
        self._stopped = False

    async def start(self) -> None:
        self._slots = asyncio.Semaphore(self._max_running)
        self._stopped = False

    def _worker(self) -> _Worker:
        if self._idle:
            return self._idle.pop()
        worker = _Worker(self._on_loop_end)
        self._workers.add(worker)
        return worker

    def _free(self, worker: _Worker, usable: bool) -> None:
        """`worker` finished its handler (on the main loop): kept for the next, or ended."""
        if usable and not self._stopped:
            self._idle.append(worker)
            return
        self._workers.discard(worker)
        if usable:
            worker.jobs.put(None)

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
        worker = self._worker()

        def settle(result: object, error: BaseException | None, usable: bool) -> None:
            slots.release()
            self._runs.discard(run)
            self._free(worker, usable)
            if finished.done():  # abandoned at its deadline: its end is nobody's news
                return
            if error is not None:
                finished.set_exception(error)
            else:
                finished.set_result(result)  # type: ignore[arg-type]  # what `work` returned

        def report(result: object, error: BaseException | None, usable: bool) -> None:
            with contextlib.suppress(RuntimeError):  # the main loop closed: the app stopped
                main.call_soon_threadsafe(settle, result, error, usable)

        self._runs.add(run)  # type: ignore[arg-type]
        worker.jobs.put((run, report))  # type: ignore[arg-type]
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
        """Cancel what still runs, end the workers and wait for their threads, at most
        `timeout_seconds` in all (issue 11, shutdown: a graceful stop gives it a second at
        most)."""
        self._stopped = True
        for run in list(self._runs):
            run.cancel()
        workers = list(self._workers)
        self._workers.clear()
        self._idle.clear()
        for worker in workers:
            worker.jobs.put(None)  # a busy worker ends after its handler
        threads = [worker.thread for worker in workers]

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


def _tidy(loop: asyncio.AbstractEventLoop, tasks: _Tasks) -> bool:
    """Cancel what the handler left running on `loop` (`tasks`: those made on it); whether
    the loop can run the next handler (a handler may have closed it)."""
    if loop.is_closed():
        return False
    try:
        left = [t for t in list(tasks) if not t.done()]
        for task in left:
            task.cancel()
        if left:
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
    except Exception:
        log.exception("Tidying a command handler's loop failed")
        return False
    return not loop.is_closed()


def _close(
    loop: asyncio.AbstractEventLoop,
    tasks: _Tasks,
    on_loop_end: Sequence[Callable[[], Awaitable[None]]],
) -> None:
    """Run `on_loop_end`, cancel what is left on the loop, then close it."""
    try:
        if not loop.is_closed():
            for end in on_loop_end:
                try:
                    loop.run_until_complete(asyncio.wait_for(end(), LOOP_END_SECONDS))
                except Exception:
                    log.exception("Closing what a command handlers' loop held failed")
            _tidy(loop, tasks)
            loop.run_until_complete(loop.shutdown_asyncgens())
    except Exception:
        log.exception("Closing a command handler's loop failed")
    finally:
        if not loop.is_closed():
            loop.close()
