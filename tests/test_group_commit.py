"""Group commit (account_binding/sqlite_queues.py): writes queued while the writer is busy are
committed in one transaction, each still its own: one write's failure undoes only that write,
a failed COMMIT fails every write of the group, and no caller hears of success before its
write is committed."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from conftest import write_lock_held
from sqlite_utils import Database

import account_binding.sqlite_store as sqlite_store
from account_binding.errors import StoreBusy
from account_binding.sqlite_queues import in_group
from account_binding.sqlite_store import SQLiteStore, write_transaction

GROUP = 40


def _make_table(db: Database) -> None:
    with write_transaction(db):
        db.execute("CREATE TABLE IF NOT EXISTS notes (n INTEGER PRIMARY KEY, parent INTEGER)")
        db.execute("CREATE TABLE IF NOT EXISTS parents (n INTEGER PRIMARY KEY)")


def _committed(path: Path) -> list[int]:
    """The notes another connection sees (what is committed)."""
    conn = sqlite3.connect(path)
    try:
        return [n for (n,) in conn.execute("SELECT n FROM notes ORDER BY n")]
    finally:
        conn.close()


class Held:
    """A write that holds the writer thread until released: the writes queued meanwhile
    make one group."""

    def __init__(self) -> None:
        self.running = threading.Event()
        self.release = threading.Event()

    def __call__(self, db: Database) -> None:
        self.running.set()
        assert self.release.wait(10)


async def _queue_behind(store: SQLiteStore, writes: list, held: Held) -> list:  # type: ignore[type-arg]
    first = asyncio.ensure_future(store._run(held))
    await asyncio.to_thread(held.running.wait, 10)
    queued = [asyncio.ensure_future(store._run(fn)) for fn in writes]
    await asyncio.sleep(0)  # every write is in the queue
    held.release.set()
    await first
    return await asyncio.gather(*queued, return_exceptions=True)


def _note(n: int, *, fail: bool = False, seen: list[bool] | None = None):  # type: ignore[no-untyped-def]
    def write(db: Database) -> int:
        with write_transaction(db):
            if seen is not None:
                seen.append(in_group(db.conn))
            db.execute("INSERT INTO notes (n) VALUES (?)", [n])
            if fail:
                raise ValueError(f"write {n} fails after its insert")
        return n

    return write


async def test_queued_writes_commit_as_one_group_and_a_failing_one_undoes_only_itself(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    await store._run(_make_table)
    try:
        seen: list[bool] = []
        writes = [_note(n, fail=n % 7 == 3, seen=seen) for n in range(GROUP)]
        outcomes = await _queue_behind(store, writes, Held())
        assert len(seen) == GROUP and all(seen), "the queued writes did not run as a group"
        for n, outcome in enumerate(outcomes):
            if n % 7 == 3:
                assert isinstance(outcome, ValueError) and str(n) in str(outcome)
            else:
                assert outcome == n
        assert _committed(tmp_path / "db.sqlite3") == [n for n in range(GROUP) if n % 7 != 3]
    finally:
        await store.close()


async def test_a_group_whose_commit_fails_fails_every_write_in_it(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    await store._run(_make_table)
    try:
        await store._run(lambda db: db.execute("PRAGMA foreign_keys = ON"))

        def orphan(db: Database) -> str:
            # A deferred foreign key is checked at COMMIT: the group's COMMIT fails.
            with write_transaction(db):
                db.execute("PRAGMA defer_foreign_keys = ON")
                db.execute("CREATE TABLE IF NOT EXISTS kids (p INTEGER REFERENCES parents(n))")
                db.execute("INSERT INTO kids (p) VALUES (404)")
            return "orphan"

        outcomes = await _queue_behind(store, [_note(1), orphan, _note(2)], Held())
        assert all(isinstance(o, sqlite3.IntegrityError) for o in outcomes), outcomes
        assert _committed(tmp_path / "db.sqlite3") == []
        assert await store._run(_note(3)) == 3  # and the writer goes on
        assert _committed(tmp_path / "db.sqlite3") == [3]
    finally:
        await store.close()


async def test_no_caller_hears_of_its_write_before_the_groups_commit(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    await store._run(_make_table)
    path = tmp_path / "db.sqlite3"
    try:
        committed_when_told: list[list[int]] = []

        async def write_and_look(n: int) -> None:
            await store._run(_note(n))
            committed_when_told.append(_committed(path))

        held = Held()
        first = asyncio.ensure_future(store._run(held))
        await asyncio.to_thread(held.running.wait, 10)
        tasks = [asyncio.ensure_future(write_and_look(n)) for n in range(GROUP)]
        await asyncio.sleep(0)
        held.release.set()
        await first
        await asyncio.gather(*tasks)
        assert len(committed_when_told) == GROUP
        for n, seen in enumerate(committed_when_told):
            assert n in seen
    finally:
        await store.close()


async def test_a_group_waiting_for_anothers_lock_fails_busy_at_its_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_SECONDS", 0.5)
    store = SQLiteStore(tmp_path / "db.sqlite3")
    await store._run(_make_table)
    try:
        with write_lock_held(tmp_path / "db.sqlite3"):
            outcomes = await _queue_behind(store, [_note(n) for n in range(5)], Held())
        assert all(isinstance(o, StoreBusy) for o in outcomes), outcomes
        assert await store._run(_note(9)) == 9
        assert _committed(tmp_path / "db.sqlite3") == [9]
    finally:
        await store.close()
