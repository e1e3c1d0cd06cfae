"""The issue-12 review's attacks on group commit (account_binding/sqlite_queues.py), kept as
regression tests:

- a write whose caller stopped waiting (cancelled) before the writer thread reached it is not
  run, as with the `run_in_executor` it replaced (a cancelled work item never starts): a
  Slack event noted as handled by a listener cut off at shutdown would make Slack's retry
  be dropped as a repeat, and the event never acted on;
- a write that fills the database (SQLITE_FULL, which ends the whole transaction) fails
  alone: the writes of other people before it in the same group, undone with it through no
  fault of their own, are run again and committed, as they would have been without a group.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from test_group_commit import Held, _committed

from account_binding.sqlite_store import SQLiteStore, write_transaction


def _make_table(db: Database) -> None:
    with write_transaction(db):
        db.execute("CREATE TABLE notes (n INTEGER PRIMARY KEY, body BLOB)")


def _note(n: int, body: bytes = b"") -> Callable[[Database], int]:
    def write(db: Database) -> int:
        with write_transaction(db):
            db.execute("INSERT INTO notes (n, body) VALUES (?, ?)", [n, body])
        return n

    return write


async def _held(store: SQLiteStore) -> tuple[Held, asyncio.Future[None]]:
    held = Held()
    first = asyncio.ensure_future(store._run(held))
    await asyncio.to_thread(held.running.wait, 10)
    return held, first


async def test_a_write_whose_caller_was_cancelled_before_it_ran_is_not_run(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite3"
    store = SQLiteStore(path)
    await store._run(_make_table)
    try:
        # In a group
        held, first = await _held(store)
        kept = [asyncio.ensure_future(store._run(_note(n))) for n in (1, 3)]
        dropped = asyncio.ensure_future(store._run(_note(2)))
        await asyncio.sleep(0)  # every write is in the queue
        dropped.cancel()
        held.release.set()
        await first
        assert await asyncio.gather(*kept) == [1, 3]
        # Alone
        held, first = await _held(store)
        alone = asyncio.ensure_future(store._run(_note(4)))
        await asyncio.sleep(0)
        alone.cancel()
        held.release.set()
        await first
        await store._run(lambda db: None)  # whatever was queued before has been handled
        assert _committed(path) == [1, 3]
    finally:
        await store.close()


async def test_a_write_that_fills_the_database_fails_alone(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = SQLiteStore(path)
    await store._run(_make_table)
    try:
        # A database that can grow by a few pages only: a small note fits, a megabyte not.
        pages = await store._run(lambda db: db.execute("PRAGMA page_count").fetchone()[0])
        await store._run(lambda db: db.execute(f"PRAGMA max_page_count = {pages + 8}").fetchone())
        assert await store._run(_note(1)) == 1  # alone, a small write is committed

        held, first = await _held(store)
        writes: list[Callable[[Database], Any]] = [
            _note(2),
            _note(3),
            _note(4, b"x" * 1_000_000),  # SQLITE_FULL: SQLite rolls the transaction back
            _note(5),
        ]
        queued = [asyncio.ensure_future(store._run(fn)) for fn in writes]
        await asyncio.sleep(0)
        held.release.set()
        await first
        outcomes = await asyncio.gather(*queued, return_exceptions=True)
        assert outcomes[:2] == [2, 3] and outcomes[3] == 5, outcomes
        assert isinstance(outcomes[2], sqlite3.OperationalError)
        assert "full" in str(outcomes[2])
        assert _committed(path) == [1, 2, 3, 5]
    finally:
        await store.close()
