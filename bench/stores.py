"""The benchmark's stores, opened the way the app opens its own (`launcher.compose.store_for`)."""

from __future__ import annotations

from pathlib import Path

from account_binding.settings import load_settings
from account_binding.sqlite_store import SQLiteStore
from launcher.compose import store_for


def store_at(database: Path) -> SQLiteStore:
    """The store DATABASE=`database` names, not opened yet."""
    return store_for(load_settings({"DATABASE": str(database)}, env_file=None))


def remove_database(database: Path) -> None:
    """Remove `database` with its write-ahead log and shared-memory index, when there (a
    previous run's, in a kept --workdir), so that a run starts from an empty store."""
    for suffix in ("", "-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
