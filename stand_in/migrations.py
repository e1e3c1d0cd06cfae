"""The stand-in's own tables, in the domain's SQLite file, as sqlite-utils migrations of the
set "stand_in" (recorded apart from the domain's "account_binding" set).

Add a new function at the end to change the schema; never edit one that has shipped.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.db import Table
from sqlite_utils.migrations import Migrations

migrations = Migrations("stand_in")


@migrations()
def m001_todos(db: Database) -> None:
    # Databases made before the stand-in had a package of its own hold `todos` (the domain's
    # m001 made it, and its m004 leaves it when it holds items): adopt it as it is. Otherwise
    # make it, with the same shape.
    todos = _table(db, "todos")
    if not todos.exists():
        todos.create(
            {"id": int, "user_id": int, "title": str, "done": int, "created_at": int},
            pk="id",
            not_null={"user_id", "title", "done", "created_at"},
            defaults={"done": 0},
            foreign_keys=[("user_id", "users", "id")],
        )
    todos.create_index(["user_id"], if_not_exists=True)


def _table(db: Database, name: str) -> Table:
    return db.table(name)
