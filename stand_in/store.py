"""The stand-in's to-do items on the domain's SQLite file.

It opens the file through `account_binding.sqlite_store` (private files, WAL, migrations
under the write lock) with its own migrations added, and runs every call on that module's
worker threads: no SQLite call blocks the event loop, a read never queues behind a write,
and a write that cannot take the lock within the busy timeout raises StoreBusy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlite_utils import Database

from account_binding.sqlite_store import SQLiteDatabase, write_transaction

from .migrations import migrations
from .todos import Todo


class SQLiteTodoStore(SQLiteDatabase):
    """`stand_in.todos.TodoStore` on the SQLite file at `path` (made when `create`)."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        super().__init__(path, create=create, also_migrate=[migrations])

    async def list_todos(self, user_id: int) -> list[Todo]:
        rows = await self._read(
            lambda db: list(
                db.query("SELECT * FROM todos WHERE user_id = ? ORDER BY id", [user_id])
            )
        )
        return [_todo(row) for row in rows]

    async def add_todo(self, user_id: int, title: str, now: int) -> Todo:
        def add(db: Database) -> Todo:
            with write_transaction(db):
                [row] = db.query(
                    "INSERT INTO todos (user_id, title, done, created_at) VALUES (?, ?, 0, ?) "
                    "RETURNING *",
                    [user_id, title, now],
                )
            return _todo(row)

        return await self._run(add)

    async def complete_todo(self, user_id: int, todo_id: int) -> Todo | None:
        def complete(db: Database) -> Todo | None:
            with write_transaction(db):
                rows = list(
                    db.query(
                        "UPDATE todos SET done = 1 WHERE id = ? AND user_id = ? RETURNING *",
                        [todo_id, user_id],
                    )
                )
            return _todo(rows[0]) if rows else None

        return await self._run(complete)


def _todo(row: dict[str, Any]) -> Todo:
    return Todo(
        id=row["id"],
        user_id=row["user_id"],
        title=row["title"],
        done=bool(row["done"]),
        created_at=row["created_at"],
    )
