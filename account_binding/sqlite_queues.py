"""The calls queued for the SQLite store's two threads (issue 12): the writer's, committed
together (group commit), and the reader's, run in turn.

Every call used to be a thread hand-off of its own (`run_in_executor`: a submit, a wake-up
of the thread, a wake-up of the loop). Here the caller appends to a queue; the thread, woken
once, runs everything queued by then, and hands the outcomes back to each loop in one call.

Group commit.

Under `synchronous = FULL` every commit waits for the disk (an fsync of the WAL), and each
write used to be a thread hand-off and a transaction of its own. When writes come faster than
the disk commits, they wait in line anyway; `WriteQueue` lets the writer thread take every
write waiting at that moment (at most MAX_GROUP) and run them in one transaction: BEGIN
IMMEDIATE once, each write in a SAVEPOINT of its own (its `write_transaction` becomes
SAVEPOINT / RELEASE, and ROLLBACK TO when it raises, so one write's failure undoes only that
write), one COMMIT, one fsync. A write alone in the queue runs exactly as before, in its own
transaction. A write whose caller stopped waiting (cancelled) before the thread reached it
is not run. An error after which SQLite rolls the whole transaction back (SQLITE_FULL, an
I/O error) fails the write that met it; the group's earlier writes, undone with it, run
again in a new transaction, so a write's function must touch nothing but the database.

What a caller sees does not change: its result (or its exception) reaches it only after the
COMMIT that made its write durable returns, so a link is stored before anyone is told of it,
and a write whose group failed to commit raises that failure. Each write keeps its own
deadline (BUSY_TIMEOUT_SECONDS from when it was queued): the group waits for another
process's lock no longer than its most pressed write can, and writes whose deadline passed
raise StoreBusy while the others try again. This is the technique PostgreSQL calls
`commit_delay`, without the delay: a group is whatever queued while the last one committed
(https://www.postgresql.org/docs/current/wal-configuration.html).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlite_utils import Database

from .errors import StoreBusy

T = TypeVar("T")

#: Writes committed in one transaction, at most.
MAX_GROUP = 256

_group = threading.local()  # `.conn`: the connection whose writer thread is in a group
_names = itertools.count()


def in_group(conn: sqlite3.Connection) -> bool:
    """Whether `conn` is inside a group's transaction in this thread (then a write is a
    savepoint of it)."""
    return getattr(_group, "conn", None) is conn


@contextlib.contextmanager
def savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    """One write inside a group's transaction: released when it ends, rolled back to (and
    released) when it raises, so that the group's other writes are kept."""
    name = f"write_{next(_names)}"
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        if conn.in_transaction:  # an error SQLite ended the transaction for has no savepoint
            conn.execute(f"ROLLBACK TO {name}")
            conn.execute(f"RELEASE {name}")
        raise
    conn.execute(f"RELEASE {name}")


@dataclass
class _Write(Generic[T]):
    fn: Callable[[Database], T]
    deadline: float  # time.monotonic()
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[T]
    result: Any = None
    error: BaseException | None = None
    done: bool = field(default=False)
    queued_at: float = field(default_factory=time.monotonic)

    def fail(self, error: BaseException) -> None:
        self.result, self.error, self.done = None, error, True


class _Queue:
    """Calls waiting for one thread (`executor`, of one worker), run by it in groups of at
    most MAX_GROUP: `_process(group)` settles each call of a group."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._queue: deque[_Write[Any]] = deque()
        self._lock = threading.Lock()
        self._draining = False

    async def _queued(self, fn: Callable[[Database], T], deadline: float) -> T:
        loop = asyncio.get_running_loop()
        call: _Write[T] = _Write(fn, deadline, loop, loop.create_future())
        with self._lock:
            self._queue.append(call)
            start, self._draining = not self._draining, True
        if start:
            try:
                self._executor.submit(self._drain)
            except BaseException:
                with self._lock:
                    self._draining = False
                    self._queue.remove(call)
                raise
        return await call.future

    # In the thread from here on

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._draining = False
                    return
                group = [self._queue.popleft() for _ in range(min(len(self._queue), MAX_GROUP))]
            try:
                self._process(group)
            except BaseException as error:  # never lose a caller: the drain must go on
                for call in group:
                    if not call.done:
                        call.fail(error)
            _settle(group)

    def _process(self, group: list[_Write[Any]]) -> None:
        raise NotImplementedError


class ReadQueue(_Queue):
    """The reads waiting for the reader thread, each run on its own on the connection
    `connect()` gives, through `run_one(fn, db)` (which maps "locked" to StoreBusy)."""

    def __init__(
        self,
        executor: Executor,
        connect: Callable[[], Database],
        run_one: Callable[[Callable[[Database], Any], Database], Any],
    ) -> None:
        super().__init__(executor)
        self._connect = connect
        self._run_one = run_one

    async def run(self, fn: Callable[[Database], T]) -> T:
        """`fn(db)` on the reader's connection; raises what `fn` raised."""
        return await self._queued(fn, 0.0)

    def _process(self, group: list[_Write[Any]]) -> None:
        db = self._connect()
        for call in group:
            try:
                call.result, call.done = self._run_one(call.fn, db), True
            except BaseException as error:
                call.fail(error)


class WriteQueue(_Queue):
    """The writes waiting for the writer thread, run by it in groups on the connection
    `connect()` gives (made there on first use).

    `run_one(fn, db, deadline)` runs a write alone, in the caller's terms (setting the busy
    timeout, mapping "locked" to StoreBusy); `is_busy(error)` says whether an sqlite3 error
    means another connection holds the lock.
    """

    def __init__(
        self,
        executor: Executor,
        connect: Callable[[], Database],
        run_one: Callable[[Callable[[Database], Any], Database, float], Any],
        is_busy: Callable[[sqlite3.Error], bool],
    ) -> None:
        super().__init__(executor)
        self._connect = connect
        self._run_one = run_one
        self._is_busy = is_busy

    async def run(self, fn: Callable[[Database], T], deadline: float) -> T:
        """`fn(db)` on the writer's connection, committed (alone or in a group) before this
        returns; raises what `fn` raised, StoreBusy past `deadline`, or the commit's error."""
        return await self._queued(fn, deadline)

    def _process(self, group: list[_Write[Any]]) -> None:
        self._write(group)

    def _write(self, group: list[_Write[Any]]) -> None:
        try:
            db = self._connect()
        except BaseException as error:
            for write in group:
                write.fail(error)
            return
        waiting = group
        while waiting:
            now = time.monotonic()
            for write in waiting:
                if write.future.cancelled():
                    # Its caller stopped waiting before it ran: it is not run, as a cancelled
                    # `run_in_executor` call never starts (a Slack event noted as handled by
                    # a listener cut off at shutdown would drop Slack's retry of it).
                    write.fail(asyncio.CancelledError())
                elif write.deadline <= now:
                    write.fail(StoreBusy())
            waiting = [write for write in waiting if not write.done]
            if len(waiting) == 1:
                write = waiting[0]
                try:
                    write.result, write.done = self._run_one(write.fn, db, write.deadline), True
                except BaseException as error:
                    write.fail(error)
                return
            if not waiting:
                return
            if self._grouped(db, waiting):
                return
            # The lock was busy until the most pressed write's deadline: those past theirs
            # fail at the top of the loop, the others try again.

    def _grouped(self, db: Database, group: list[_Write[Any]]) -> bool:
        """Run `group` in one transaction. False when BEGIN IMMEDIATE found the lock busy
        until the earliest deadline (nothing ran); True otherwise, every write settled."""
        conn = db.conn
        remaining = min(write.deadline for write in group) - time.monotonic()
        conn.execute(f"PRAGMA busy_timeout = {max(1, int(remaining * 1000))}")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if self._is_busy(error):
                return False
            raise
        done: list[_Write[Any]] = []
        pending = deque(group)
        _group.conn = conn
        try:
            while pending:
                write = pending.popleft()
                try:
                    write.result, write.done = write.fn(db), True
                    done.append(write)
                except sqlite3.OperationalError as error:
                    write.fail(StoreBusy() if self._is_busy(error) else error)
                except BaseException as error:
                    write.fail(error)
                if not conn.in_transaction:
                    # SQLite ended the whole transaction (a full disk, an I/O error): this
                    # write fails, and the writes before it, undone with it through no fault
                    # of their own, run again in a new transaction (review of issue 12).
                    # Each time, one write fails for good, so this ends.
                    if write.error is None:  # it ended the transaction without raising
                        done.remove(write)
                        write.fail(sqlite3.OperationalError("its transaction was rolled back"))
                    for undone in reversed(done):
                        undone.result, undone.done = None, False
                        pending.appendleft(undone)
                    done = []
                    conn.execute("BEGIN IMMEDIATE")
            conn.commit()
        except BaseException as error:
            # BEGIN or COMMIT failed: nothing of the group is kept, and each caller hears so.
            with contextlib.suppress(sqlite3.Error):
                conn.rollback()
            busy = isinstance(error, sqlite3.Error) and self._is_busy(error)
            for write in done:
                write.fail(StoreBusy() if busy else error)
            for write in group:
                if not write.done:
                    write.fail(StoreBusy() if busy else error)
        finally:
            _group.conn = None
        return True


def _settle(group: list[_Write[Any]]) -> None:
    """Hand each write's outcome to its caller's loop, one call per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Write[Any]]] = {}
    for write in group:
        by_loop.setdefault(write.loop, []).append(write)
    for loop, writes in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(_set_outcomes, writes)


def _set_outcomes(writes: list[_Write[Any]]) -> None:
    for write in writes:
        if write.future.done():  # the caller stopped waiting (cancelled)
            continue
        if write.error is not None:
            write.future.set_exception(write.error)
        else:
            write.future.set_result(write.result)
