"""Where plugin handlers run: on event loops of their own, in threads of their own, off the
app's loop.

The slash command's acknowledgement and every other listener run on the main event loop. A
handler runs elsewhere, after the acknowledgement, on one of a few handler loops, each in a
daemon thread, where handlers run side by side as tasks, as the best asyncio code runs its
work (issue 12: a thread and loop per handler made each command cost twice the CPU, most of
it handing work between threads that took turns at the GIL).

A handler that blocks its thread (a synchronous HTTP call, a long computation) cannot delay
an acknowledgement, which is on the main loop. It holds up the handlers that share its loop
for as long as it blocks (each is still answered at its deadline), and no other: a loop
whose heartbeat is late by STALL_SECONDS gets no new handler, and when every loop is late a
new one is made, so the next commands run elsewhere. Handlers spread over up to LOOPS loops
before any two share one.

One that does not finish within its deadline (COMMAND_TIMEOUT) is abandoned and cancelled;
the threads are daemons, so a handler stuck in a blocking call cannot keep the process from
exiting. At most MAX_RUNNING_HANDLERS run at once; waiting for a slot counts toward the
deadline. Whatever a handler leaves running (tasks it made, and theirs) is cancelled when it
returns; a handler that stops its loop stops nobody's work (the loop runs again at once).
What lives on a loop between handlers (the internal API client's pooled connections,
`bolt_app.internal_api`) is closed there by the `on_loop_end` callbacks when the runner
stops.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

#: Handlers running at once (each holds a slot until it returns, even when abandoned).
MAX_RUNNING_HANDLERS = 32
#: Loops handlers spread over before two share one.
LOOPS = 2
#: Seconds a loop's heartbeat may be late before it gets no new handler (it is blocked).
STALL_SECONDS = 0.5
#: Seconds between a loop's heartbeats.
HEARTBEAT_SECONDS = 0.1
#: Seconds `stop` waits for cancelled handlers to finish.
STOP_TIMEOUT_SECONDS = 5.0
#: Seconds each `on_loop_end` callback may take when a loop ends.
LOOP_END_SECONDS = 1.0
#: Seconds a finished handler's leftover tasks get to end once cancelled.
TIDY_SECONDS = 1.0

Report = Callable[[object, BaseException | None], None]


class HandlerTimeout(Exception):
    """The handler did not finish within its deadline; it was cancelled."""


class HandlerExit(Exception):
    """The handler raised SystemExit or KeyboardInterrupt (sys.exit() in a plugin)."""


#: The run a task on a handler loop belongs to (tasks inherit it from whoever made them).
_running: contextvars.ContextVar[_Run[Any] | None] = contextvars.ContextVar(
    "account_binding_handler_run", default=None
)


class _Run(Generic[T]):
    """One handler's run on a handler loop."""

    def __init__(self, work: Callable[[], Awaitable[T]]) -> None:
        self._work = work
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Future[Any] | None = None
        self._cancelled = False
        #: The tasks made while it ran (its own included), to cancel what it leaves.
        self.tasks: set[asyncio.Task[Any]] = set()

    async def serve(self) -> T:
        """The handler, on its loop, as a task of its own; what it leaves running is
        cancelled when it returns."""
        _running.set(self)
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
            if self._cancelled and self._task is not None:
                self._task.cancel()
        try:
            return await self._work()
        except (SystemExit, KeyboardInterrupt) as error:
            # Left alone, these would end the handler loop's thread unreported, and on the
            # main loop the whole app: a handler's exit is its failure, like any exception.
            raise HandlerExit(f"the handler raised {type(error).__name__}") from error
        finally:
            with self._lock:
                self._loop = None
            await self._tidy()

    async def _tidy(self) -> None:
        me = asyncio.current_task()
        left = [task for task in self.tasks if task is not me and not task.done()]
        self.tasks.clear()
        for task in left:
            task.cancel()
        if left:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait(left, timeout=TIDY_SECONDS)

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._loop is not None and self._task is not None:
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    self._loop.call_soon_threadsafe(self._task.cancel)


class _HandlerLoop:
    """A daemon thread running an event loop for handlers, with a heartbeat that says
    whether something blocks it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.set_task_factory(_recorded)  # type: ignore[arg-type]
        self.running = 0  # handlers on it now (changed on the main loop)
        self.beat = time.monotonic()
        self._ending = False
        self.thread = threading.Thread(target=self._serve, name="command-handlers", daemon=True)
        self.thread.start()

    def stalled(self, now: float) -> bool:
        return now - self.beat > STALL_SECONDS or not self.thread.is_alive()

    def _heartbeat(self) -> None:
        self.beat = time.monotonic()
        self.loop.call_later(HEARTBEAT_SECONDS, self._heartbeat)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._heartbeat)
        try:
            while not self._ending:
                # A handler that stops the loop stops nobody's work: it runs again.
                self.loop.run_forever()
        finally:
            try:
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            except Exception:
                log.exception("Closing a command handlers' loop failed")
            finally:
                self.loop.close()

    async def end(self, on_loop_end: Sequence[Callable[[], Awaitable[None]]]) -> None:
        """Run `on_loop_end` here, cancel what is left, and let the thread end."""
        for close in on_loop_end:
            try:
                await asyncio.wait_for(close(), LOOP_END_SECONDS)
            except Exception:
                log.exception("Closing what a command handlers' loop held failed")
        me = asyncio.current_task()
        left = [t for t in asyncio.all_tasks() if t is not me]
        for task in left:
            task.cancel()
        if left:
            await asyncio.wait(left, timeout=LOOP_END_SECONDS)
        self._ending = True
        asyncio.get_running_loop().stop()


def _recorded(
    loop: asyncio.AbstractEventLoop,
    coro: Coroutine[Any, Any, Any],
    context: contextvars.Context | None = None,
) -> asyncio.Task[Any]:
    """The handler loops' task factory: each task made under a handler's run is recorded in
    that run, so that what the handler leaves is found and cancelled when it returns."""
    task = asyncio.Task(coro, loop=loop, context=context)
    run = (context or contextvars.copy_context()).get(_running)
    if run is not None:
        run.tasks.add(task)
    return task


class PluginRunner:
    """Runs handlers on the handler loops (see the module). `start()` on the main loop before
    use; `stop()` at shutdown cancels what still runs. `on_loop_end`: coroutine functions run
    on each handler loop before it closes (for what lives there between handlers, such as
    pooled HTTP clients)."""

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
        self._loops: list[_HandlerLoop] = []
        self._stopped = False

    async def start(self) -> None:
        self._slots = asyncio.Semaphore(self._max_running)
        self._stopped = False

    def _pick(self) -> _HandlerLoop:
        """An idle healthy loop, else a new one while there are fewer than LOOPS healthy,
        else the least busy healthy one; a new one when every loop is blocked."""
        now = time.monotonic()
        self._loops = [h for h in self._loops if h.thread.is_alive() or h.running]
        healthy = [h for h in self._loops if not h.stalled(now)]
        idle = [h for h in healthy if h.running == 0]
        if idle:
            return idle[0]
        if len(healthy) < LOOPS:
            return self._new_loop()
        if healthy:
            return min(healthy, key=lambda h: h.running)
        log.warning(
            "Every command handlers' loop is blocked (a plugin handler blocks its thread): "
            "starting another for the next commands"
        )
        return self._new_loop()

    def _new_loop(self) -> _HandlerLoop:
        handler_loop = _HandlerLoop()
        self._loops.append(handler_loop)
        return handler_loop

    async def run(
        self,
        work: Callable[[], Awaitable[T]],
        deadline_seconds: float,
        *,
        abandon: Callable[[], None] | None = None,
    ) -> T:
        """`work()` run on a handler loop, its result or exception; HandlerTimeout (the work
        cancelled) when it takes longer than `deadline_seconds`, waiting for a slot
        included. A SystemExit or KeyboardInterrupt in `work` is HandlerExit. `abandon` is
        called on this loop at the deadline, before the work is cancelled (so that what the
        work does once it sees its cancellation finds it already called)."""
        slots = self._slots
        if slots is None or self._stopped:
            raise RuntimeError("the plugin runner is not started")
        main = asyncio.get_running_loop()
        deadline = main.time() + deadline_seconds
        try:
            await asyncio.wait_for(slots.acquire(), deadline_seconds)
        except TimeoutError:
            raise HandlerTimeout from None
        finished: asyncio.Future[T] = main.create_future()
        run: _Run[T] = _Run(work)
        handler_loop = self._pick()
        handler_loop.running += 1

        def settle(result: object, error: BaseException | None) -> None:
            slots.release()
            handler_loop.running -= 1
            self._runs.discard(run)
            if finished.done():  # abandoned at its deadline: its end is nobody's news
                return
            if error is not None:
                finished.set_exception(error)
            else:
                finished.set_result(result)  # type: ignore[arg-type]  # what `work` returned

        def report(done: concurrent.futures.Future[T]) -> None:
            error: BaseException | None = None
            result: object = None
            try:
                result = done.result()
            except BaseException as raised:  # CancelledError included: reported to the caller
                error = raised
            with contextlib.suppress(RuntimeError):  # the main loop closed: the app stopped
                main.call_soon_threadsafe(settle, result, error)

        self._runs.add(run)  # type: ignore[arg-type]
        try:
            served = asyncio.run_coroutine_threadsafe(run.serve(), handler_loop.loop)
        except RuntimeError:  # its loop closed under it
            slots.release()
            handler_loop.running -= 1
            self._runs.discard(run)
            raise
        served.add_done_callback(report)
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
        """Cancel what still runs, end the loops (after `on_loop_end` on each) and wait for
        their threads, at most `timeout_seconds` in all (issue 11, shutdown: a graceful stop
        gives it a second at most)."""
        self._stopped = True
        for run in list(self._runs):
            run.cancel()
        loops, self._loops = self._loops, []
        for handler_loop in loops:
            with contextlib.suppress(RuntimeError):  # its loop closed already
                asyncio.run_coroutine_threadsafe(
                    handler_loop.end(self._on_loop_end), handler_loop.loop
                )
        threads = [handler_loop.thread for handler_loop in loops]

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
