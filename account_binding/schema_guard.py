"""Refusing a database that a newer version of the app has migrated.

Migrations only go forward (`migrations.py`: a new function at the end, never an edited one),
and each version applies those it knows and has not applied. A version started on a database
that a newer one migrated finds nothing pending, yet the schema has tables, columns or
meanings it does not know: it could fail half-way through a binding or write rows the newer
version misreads. So opening refuses such a file, before anything is written, with one line
saying what to do (`sqlite_store._migrate` calls `refuse_newer_schema` for each migration
set). Versions older than this check do not have it: never start one on an upgraded file.
"""

from __future__ import annotations

import sqlite3

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations


class NewerSchema(sqlite3.DatabaseError):
    """The database holds migrations of `migration_set` that this version does not know.

    A `sqlite3.DatabaseError`, so that `open_database` closes the connection and reports it
    as any other unusable file: StoreUnavailable, "Cannot use DATABASE <path>: <this text>".
    """

    def __init__(self, set_name: str, unknown: list[str]) -> None:
        self.set_name = set_name
        self.unknown = unknown
        super().__init__(
            f"a newer version of account-binding has migrated it (its migration "
            f"{unknown[-1]} of the set {set_name!r} is unknown to this version); run that "
            "version or a later one, or restore the backup taken before the upgrade: a "
            "database is never migrated back"
        )


def known_migrations(migration_set: Migrations) -> list[str]:
    """The names of every migration this version declares in `migration_set`, in order
    (what a database with none applied has pending)."""
    empty = Database(memory=True)
    try:
        return [migration.name for migration in migration_set.pending(empty)]
    finally:
        empty.close()


def refuse_newer_schema(db: Database, migration_set: Migrations) -> None:
    """Raise NewerSchema when `db` records a migration of `migration_set` (sqlite-utils'
    `_sqlite_migrations` table) that this version does not declare. Only reads."""
    applied = [migration.name for migration in migration_set.applied(db)]
    if not applied:
        return
    known = set(known_migrations(migration_set))
    unknown = [name for name in applied if name not in known]
    if unknown:
        raise NewerSchema(migration_set.name, unknown)
