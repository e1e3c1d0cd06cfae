"""Lookups (a binding, a link, a session, a token by an index) run at once on the event loop
that opened the store, and never wait there for a lock (issue 12,
`SQLiteDatabase._lookup`); elsewhere, and when SQLite answers "busy", they go to the reader's
thread as every other read."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import account_binding.sqlite_store as sqlite_store
from account_binding.models import SlackIdentity
from account_binding.sqlite_store import SQLiteStore

IDENTITY = SlackIdentity(scope_id="T0001", team_id="T0001", user_id="U0ADA", enterprise_id=None)


async def test_a_lookup_on_the_stores_loop_does_not_wait_for_the_reader_thread(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    await store.open()
    release = threading.Event()
    blocked = store._reader.submit(release.wait, 10)  # the reader's thread is busy
    try:
        assert await asyncio.wait_for(store.find_binding(IDENTITY), 5) is None
        assert await asyncio.wait_for(store.get_user(1), 5) is None
        # A plain read still goes to the reader's thread, and waits for it.
        listing = asyncio.ensure_future(store.list_users())
        await asyncio.sleep(0.2)
        assert not listing.done()
    finally:
        release.set()
    assert blocked.result(5) is True
    assert await listing == []
    await store.close()


async def test_a_lookup_from_another_thread_goes_to_the_reader(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    await store.open()
    try:
        release = threading.Event()
        blocked = store._reader.submit(release.wait, 10)

        def elsewhere() -> None:
            async def look() -> None:
                await store.find_binding(IDENTITY)

            asyncio.run(look())

        other = threading.Thread(target=elsewhere)
        other.start()
        await asyncio.sleep(0.3)
        assert other.is_alive(), "the other thread's lookup did not wait for the reader"
        release.set()
        await asyncio.to_thread(other.join, 10)
        assert not other.is_alive()
        assert blocked.result(5) is True
    finally:
        await store.close()


async def test_the_loops_own_connection_never_waits_for_a_lock(tmp_path: Path) -> None:
    """Its busy timeout is 0: a lock SQLite reports makes it answer "busy" at once (and the
    lookup go to the reader's thread, which waits up to the busy timeout), never stall the
    loop. The reader's and writer's connections wait, as before."""
    store = SQLiteStore(tmp_path / "db.sqlite3")
    await store.open()
    try:
        await store.find_binding(IDENTITY)
        inline = store._inline_reader()
        assert inline is not None
        assert inline.execute("PRAGMA busy_timeout").fetchone() == (0,)
        waits = await store._read(lambda db: db.execute("PRAGMA busy_timeout").fetchone())
        assert waits == (sqlite_store.BUSY_TIMEOUT_SECONDS * 1000,)
    finally:
        await store.close()
