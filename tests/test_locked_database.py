"""Another process holding the database's write lock: reads go on, and a write that cannot
take the lock in time is a 503 "try again", never a 500."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import run_app, write_lock_held

import account_binding.sqlite_store as sqlite_store
from account_binding.audit import AuditEvent
from account_binding.errors import StoreBusy
from account_binding.sqlite_store import SQLiteStore
from account_binding.store import AuditRecord


def record() -> AuditRecord:
    return AuditRecord(
        id=0,
        at=1,
        event=str(AuditEvent.LOGIN),
        user_id=None,
        username=None,
        scope_id=None,
        slack_user_id=None,
        client=None,
        detail=None,
    )


async def test_reads_do_not_queue_behind_a_write_waiting_for_the_lock(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    await store.open()
    try:
        with write_lock_held(tmp_path / "db.sqlite3"):
            write = asyncio.ensure_future(store.add_audit(record()))
            await asyncio.sleep(0.2)  # the write is now waiting for the lock
            assert not write.done()
            # Every kind of read answers while that write still waits.
            assert await store.list_users() == []
            assert await store.get_user(1) is None
            assert await store.get_session("x") is None
            assert not write.done()
        await write
    finally:
        await store.close()


async def test_a_write_that_cannot_take_the_lock_in_time_is_store_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_SECONDS", 0.3)
    store = SQLiteStore(tmp_path / "db.sqlite3")
    await store.open()
    try:
        with write_lock_held(tmp_path / "db.sqlite3"), pytest.raises(StoreBusy):
            await store.add_audit(record())
        await store.add_audit(record())  # and works again once the lock is gone
    finally:
        await store.close()


async def test_pages_answer_503_not_500_while_the_database_stays_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_SECONDS", 0.5)
    async with run_app(tmp_path) as app:
        await app.add_user("ada")
        with write_lock_held(app.settings.database):
            # A made-up link is refused and audited: the audit write cannot be made.
            page = await app.http.get("/bind/" + "A" * 43)
            assert page.status_code == 503, page.text
            assert "Try again in a minute" in page.text
            assert page.headers["retry-after"] == "60"
        page = await app.http.get("/bind/" + "A" * 43)
        assert page.status_code == 404


async def test_a_to_do_change_while_the_database_stays_locked_says_busy_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Slack side waits longer for the internal application (INTERNAL_API_TIMEOUT) than
    the stand-in waits for the lock, so the person reads "busy", never "not responding" about
    a change made later."""
    from account_binding.settings import Settings

    default = Settings.model_fields["internal_api_timeout"].default
    assert default > sqlite_store.BUSY_TIMEOUT_SECONDS
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_SECONDS", 0.5)
    async with run_app(tmp_path) as app:
        await app.bind("ada", "U0ADA")
        with write_lock_held(app.settings.database):
            messages = await app.command("U0ADA", "todo add Water the plants")
        assert "busy" in messages[-1].text and "not responding" not in messages[-1].text
        assert app.query("SELECT count(*) FROM todos") == [(0,)]


async def test_writes_queued_behind_a_lock_all_fail_at_their_own_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four writes waiting on another process's lock once failed at 10, 20, 30 and 40 s, one
    after another; the busy timeout is each write's whole deadline, queueing included."""
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_SECONDS", 0.5)
    store = SQLiteStore(tmp_path / "db.sqlite3")
    await store.open()
    try:
        with write_lock_held(tmp_path / "db.sqlite3"):
            writes = [asyncio.ensure_future(store.add_audit(record())) for _ in range(4)]
            # Queued one after another they would take 4 x 0.5 s; their deadlines end at 0.5 s.
            done, pending = await asyncio.wait(writes, timeout=1.5)
            assert not pending
            for write in done:
                assert isinstance(write.exception(), StoreBusy)
    finally:
        await store.close()
