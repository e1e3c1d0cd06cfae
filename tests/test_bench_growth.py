"""The growth benchmark's bulk rows (bench/bulk_rows.py, issue 12) are the rows the product's
services write: a bound person and a pending link made each way, on a real SQLite file,
hold the same columns, filled alike (what differs is only what is random or a time), and
the services read and use the bulk-made binding as their own.

Nothing here measures a speed.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from account_binding.tokens import digest
from bench.bulk_rows import BulkPeople
from bench.people import People
from bench.stores import store_at

SECRET_KEY = "a secret key for the growth benchmark's test, long enough"
TEAM = "T0GROWTH"

#: Columns whose values are random, counters or times: compared by type (or NULL) only.
VARYING = {
    "id",
    "user_id",
    "api_token_id",
    "binding_id",
    "token_hash",
    "nonce_hash",
    "password_hash",
    "api_token_ciphertext",
    "public_id",
    "created_at",
    "at",
    "expires_at",
    "used_at",
}

#: Where each table's rows of one Slack person (or their account) are found.
ROWS_OF = {
    "users": "SELECT * FROM users WHERE username = :username",
    "api_tokens": "SELECT api_tokens.* FROM api_tokens JOIN users ON users.id = user_id "
    "WHERE username = :username",
    "binding_requests": "SELECT * FROM binding_requests WHERE slack_user_id IN (:bound, :pending) "
    "ORDER BY slack_user_id = :pending",
    "bindings": "SELECT * FROM bindings WHERE slack_user_id = :bound",
    "audit_events": "SELECT * FROM audit_events WHERE slack_user_id IN (:bound, :pending) "
    "ORDER BY event, slack_user_id = :pending",
}


def _shapes(database: Path, username: str, bound: str, pending: str) -> dict[str, Any]:
    names = {"username": username, "bound": bound, "pending": pending}

    def shape(value: Any, column: str) -> Any:
        if value is None or column in VARYING:
            return None if value is None else type(value).__name__
        if isinstance(value, str):
            for name, real in names.items():
                value = value.replace(real, f"<{name}>").replace(real.lower(), f"<{name} lower>")
        return value

    conn = sqlite3.connect(database)
    conn.row_factory = sqlite3.Row
    try:
        return {
            table: [
                {column: shape(row[column], column) for column in row.keys()}  # noqa: SIM118
                for row in conn.execute(sql, names)
            ]
            for table, sql in ROWS_OF.items()
        }
    finally:
        conn.close()


async def test_a_person_written_in_bulk_is_the_one_the_services_make(tmp_path: Path) -> None:
    database = tmp_path / "growth.sqlite3"
    store = store_at(database)
    await store.open()
    try:
        people = People(store, SECRET_KEY, TEAM)
        await people.bind("made-by-services", "UBOUNDSVC")
        await people.issue_link("UPENDSVC")

        BulkPeople(
            database,
            SECRET_KEY,
            TEAM,
            bound=lambda n: f"UBOUNDBULK{n}",
            pending=lambda n: f"UPENDBULK{n}",
            username=lambda n: f"made-in-bulk-{n}",
        ).write(0, 2, log=lambda line: None)

        by_services = _shapes(database, "made-by-services", "UBOUNDSVC", "UPENDSVC")
        in_bulk = _shapes(database, "made-in-bulk-1", "UBOUNDBULK1", "UPENDBULK1")
        assert all(by_services.values()), by_services
        assert in_bulk == by_services

        bulk_person = people.identity("UBOUNDBULK1")
        account = await people.bindings.bound_account(bulk_person)
        assert account is not None
        assert account.user.username == "made-in-bulk-1"
        assert account.api_token is not None
        assert account.binding.public_id  # the trigger gave it one
        token = await store.find_token(
            digest(account.api_token), int(time.time()), people.policy.tokens
        )
        assert token is not None and token.user.username == "made-in-bulk-1"
        link = await store.find_binding(people.identity("UPENDBULK1"))
        assert link is None  # pending, not bound
    finally:
        await store.close()
