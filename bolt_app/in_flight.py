"""What the Slack side is doing right now, counted so that a graceful stop can wait for it.

Issue 11, shutdown. One `InFlight` per site (`launcher.compose.build_site` makes it). It
counts two things:

- **envelopes being handled**: from the moment the Socket Mode handler takes an envelope
  (`envelope`) until its `handle` returns, which is after the envelope is acknowledged (and
  after a late answer, if any, is posted to its response_url);
- **work after the acknowledgement**: the task Bolt runs each listener in (Bolt acknowledges
  as soon as the listener calls `ack()` and lets the rest run in that task: the internal API
  call, the plugin runner's job, `respond()`), adopted by `adopt_current_task` from the
  listener runner's start hook (`bolt_app.draining.count_listeners`), and background tasks
  the listeners spawn (`track`).

An envelope stays in flight while its `handle` runs or any task adopted for it runs; the
tasks inherit the envelope through a context variable (asyncio copies the context into every
task it creates). The counts by kind ("slash_commands", "interactive", "events_api", or the
name `track` was given) are what a stop that ran out of time reports as cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

#: How people read each kind in the log.
KIND_NAMES = {
    "slash_commands": ("slash command", "slash commands"),
    "interactive": ("interaction", "interactions"),
    "events_api": ("event", "events"),
    "refused": ("refused envelope", "refused envelopes"),
    "DM": ("DM", "DMs"),
}


@dataclass(eq=False)
class _Work:
    """One envelope (or one tracked background task) and the tasks still doing its work."""

    kind: str
    #: True while the Socket Mode handler's `handle` runs for it (not yet acknowledged, or
    #: posting a late answer).
    handling: bool = False
    tasks: set[asyncio.Task[object]] = field(default_factory=set)


#: The envelope whose handling the current task belongs to (None outside any).
_current: ContextVar[_Work | None] = ContextVar("account_binding_envelope", default=None)


class InFlight:
    """Envelopes being handled and the work after their acknowledgement (see the module).

    Every method runs on the event loop the Socket Mode handler runs on.
    """

    def __init__(self) -> None:
        self._work: set[_Work] = set()
        self._taking = True
        self._changed = asyncio.Event()

    # taking envelopes

    @property
    def taking(self) -> bool:
        """False once `stop_taking` was called: a graceful stop has begun."""
        return self._taking

    def stop_taking(self) -> None:
        """From now on the Socket Mode handler refuses new envelopes (bolt_app.draining)."""
        self._taking = False

    # counting

    @contextlib.contextmanager
    def envelope(self, kind: str) -> Iterator[None]:
        """Counts the block as the handling of one envelope of type `kind`; tasks created in
        it (Bolt's listener tasks) belong to the envelope when they `adopt_current_task`."""
        work = _Work(kind, handling=True)
        task = asyncio.current_task()
        if task is not None:
            work.tasks.add(task)  # so that a stop out of time can cut it off
        self._work.add(work)
        token = _current.set(work)
        try:
            yield
        finally:
            _current.reset(token)
            work.handling = False
            if task is not None:
                work.tasks.discard(task)
            self._settle(work)

    def adopt_current_task(self) -> None:
        """Counts the running task as work of the envelope it was created for (a listener's
        task, after its acknowledgement), until the task ends. Outside an envelope (a task
        not started by the Socket Mode handler), it is counted on its own."""
        task = asyncio.current_task()
        if task is None:
            return
        work = _current.get()
        if work is None or work not in self._work:
            work = _Work("other")
            self._work.add(work)
        self._add(work, task)

    def track(self, task: asyncio.Task[object], kind: str) -> None:
        """Counts `task`, a background task a listener spawned (a DM), as work of its own
        named `kind` until it ends."""
        work = _Work(kind)
        self._work.add(work)
        self._add(work, task)

    def _add(self, work: _Work, task: asyncio.Task[object]) -> None:
        work.tasks.add(task)

        def ended(done: asyncio.Task[object]) -> None:
            work.tasks.discard(done)
            self._settle(work)

        task.add_done_callback(ended)

    def _settle(self, work: _Work) -> None:
        if not work.handling and not work.tasks:
            self._work.discard(work)
        self._changed.set()

    # what is in flight

    @property
    def handling(self) -> int:
        """How many envelopes the handler has not finished handling (acknowledging)."""
        return sum(1 for work in self._work if work.handling)

    def outstanding(self) -> Counter[str]:
        """What is in flight, by kind: {"slash_commands": 2, "DM": 1}."""
        return Counter(work.kind for work in self._work)

    async def wait(self, *, handled_only: bool, timeout_seconds: float) -> bool:
        """Wait until no envelope is being handled (`handled_only`) or nothing at all is in
        flight, at most `timeout_seconds`; whether that came."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout_seconds)
        while self.handling if handled_only else self._work:
            self._changed.clear()
            left = deadline - loop.time()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):  # not wait_for: see OutboxSender.run
                async with asyncio.timeout(left):
                    await self._changed.wait()
        return True

    async def cut_off(self, timeout_seconds: float) -> Counter[str]:
        """Cancel every task still in flight and wait for them (at most `timeout_seconds`);
        what was cut off, by kind."""
        cut = self.outstanding()
        tasks = {task for work in self._work for task in work.tasks if not task.done()}
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=max(0.001, timeout_seconds))
        return cut


def describe(counts: Counter[str]) -> str:
    """ "1 slash command, 2 events" for the log ("nothing" when empty)."""
    parts = []
    for kind, count in sorted(counts.items()):
        one, many = KIND_NAMES.get(kind, (kind, kind))
        parts.append(f"{count} {one if count == 1 else many}")
    return ", ".join(parts) or "nothing"
