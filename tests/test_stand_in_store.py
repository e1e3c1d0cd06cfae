"""The stand-in's to-do store: its own migrations in the domain's file, scoping, the lock."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from conftest import write_lock_held
from sqlite_utils import Database

import account_binding.sqlite_store as sqlite_store
from account_binding.errors import StoreBusy
from account_binding.migrations import migrations as domain_migrations
from account_binding.sqlite_store import SQLiteStore, open_database
from stand_in.migrations import migrations as stand_in_migrations
from stand_in.store import SQLiteTodoStore
from stand_in.todos import InvalidTodo, TodoService


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {name for (name,) in db.execute("SELECT name FROM sqlite_master")}


async def two_users(path: Path) -> tuple[int, int]:
    store = SQLiteStore(path)
    try:
        ada = await store.create_user("ada", "ada@example.com", "x", 1)
        grace = await store.create_user("grace", "grace@example.com", "x", 1)
    finally:
        await store.close()
    return ada.id, grace.id


async def test_the_domain_alone_makes_no_to_do_table_and_the_stand_in_makes_its_own(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite3"
    open_database(path).close()
    assert "todos" not in tables(path)
    store = SQLiteTodoStore(path)
    await store.open()
    await store.close()
    assert "todos" in tables(path)
    db = open_database(path, also_migrate=[stand_in_migrations])
    try:  # its migrations are a set of their own, applied once
        assert [m.name for m in stand_in_migrations.applied(db)] == ["m001_todos"]
        assert not stand_in_migrations.pending(db) and not domain_migrations.pending(db)
    finally:
        db.close()


async def test_a_database_from_before_keeps_its_to_do_items(tmp_path: Path) -> None:
    """A file whose `todos` the domain's first migration made, holding items: the domain's
    later migration leaves it, and the stand-in adopts it as it is."""
    path = tmp_path / "db.sqlite3"
    old = Database(path)
    domain_migrations.apply(old, stop_before="m005_todos_leave_for_the_stand_in")
    old.execute(
        "INSERT INTO users (id, username, email, password_hash, created_at) "
        "VALUES (1, 'ada', 'ada@example.com', 'x', 1)"
    )
    old.execute(
        "INSERT INTO todos (user_id, title, done, created_at) VALUES (1, 'Water the plants', 0, 5)"
    )
    old.conn.commit()
    old.close()
    store = SQLiteTodoStore(path)
    try:
        [item] = await store.list_todos(1)
        assert (item.title, item.done, item.created_at) == ("Water the plants", False, 5)
        added = await store.add_todo(1, "Feed the cat", 6)
        assert added.id == item.id + 1
    finally:
        await store.close()


async def test_an_empty_to_do_table_from_before_is_dropped_and_made_again_by_the_stand_in(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite3"
    old = Database(path)
    domain_migrations.apply(old, stop_before="m005_todos_leave_for_the_stand_in")
    old.close()
    assert "todos" in tables(path)
    open_database(path).close()
    assert "todos" not in tables(path)


async def test_items_belong_to_their_user(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    ada, grace = await two_users(path)
    store = SQLiteTodoStore(path)
    try:
        item = await store.add_todo(ada, "Ship it", 10)
        assert await store.list_todos(grace) == []
        assert await store.complete_todo(grace, item.id) is None
        assert (await store.list_todos(ada))[0].done is False
        done = await store.complete_todo(ada, item.id)
        assert done is not None and done.done and done.title == "Ship it"
        assert await store.complete_todo(ada, item.id + 1) is None
    finally:
        await store.close()


async def test_titles_are_cleaned_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    ada, _ = await two_users(path)
    store = SQLiteTodoStore(path)
    todos = TodoService(store, clock=lambda: 42)
    try:
        item = await todos.add(ada, "  Ship \t  it \n")
        assert (item.title, item.created_at) == ("Ship it", 42)
        for title, message in (
            ("   ", "needs a title"),
            ("x" * 201, "at most 200"),
            ("a\x00b", "control characters"),
            ("\ud800", "broken Unicode"),
        ):
            with pytest.raises(InvalidTodo, match=message):
                await todos.add(ada, title)
        assert [t.title for t in await todos.list(ada)] == ["Ship it"]
    finally:
        await store.close()


async def test_a_to_do_write_that_cannot_take_the_lock_in_time_is_store_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_SECONDS", 0.3)
    path = tmp_path / "db.sqlite3"
    ada, _ = await two_users(path)
    store = SQLiteTodoStore(path)
    await store.open()
    try:
        with write_lock_held(path):
            with pytest.raises(StoreBusy):
                await store.add_todo(ada, "Water the plants", 1)
            with pytest.raises(StoreBusy):
                await store.complete_todo(ada, 1)
        assert await store.list_todos(ada) == []
        await store.add_todo(ada, "Water the plants", 1)  # and works once the lock is gone
    finally:
        await store.close()


async def test_to_do_reads_do_not_queue_behind_a_write_waiting_for_the_lock(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite3"
    ada, _ = await two_users(path)
    store = SQLiteTodoStore(path)
    await store.open()
    try:
        with write_lock_held(path):
            write = asyncio.ensure_future(store.add_todo(ada, "Later", 1))
            await asyncio.sleep(0.2)  # the write is now waiting for the lock
            assert not write.done()
            assert await store.list_todos(ada) == []  # the event loop and reads go on
            assert not write.done()
        assert (await write).title == "Later"
    finally:
        await store.close()
