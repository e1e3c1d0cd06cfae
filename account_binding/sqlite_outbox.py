"""The `outbox` table's SQL (migration m008), for `SQLiteStore`.

`enqueue` runs inside the write transaction of the change it reports (complete_binding,
remove_binding_by_public_id, disable_user, delete_user, rekey_to_organisation), so the row
commits with the change or not at all. The other functions each run in a transaction of
their own: `claim` under the write lock (BEGIN IMMEDIATE), so that of two senders, in one
process or several, only one leases a row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlite_utils import Database

from .models import Binding, SlackIdentity
from .outbox import Fact, NoticeKind, OutboxEntry

Row = dict[str, Any]


def enqueue(
    db: Database, kind: NoticeKind, binding: Binding, facts: Mapping[str, Fact], now: float
) -> None:
    """Within the change's transaction: the row telling `binding`'s Slack person about
    `kind`, due at once."""
    identity = binding.identity
    db.execute(
        "INSERT INTO outbox (kind, binding_id, scope_id, slack_user_id, team_id, "
        "enterprise_id, facts, created_at, attempts, next_attempt_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
        [
            kind.value,
            binding.id,
            identity.scope_id,
            identity.user_id,
            identity.team_id,
            identity.enterprise_id,
            json.dumps(dict(facts), separators=(",", ":")),
            now,
            now,
        ],
    )


def username_of(db: Database, user_id: int) -> str | None:
    """The user name of the account `user_id`, None when it no longer exists."""
    row = db.execute("SELECT username FROM users WHERE id = ?", [user_id]).fetchone()
    return str(row[0]) if row else None


def claim(
    db: Database,
    now: float,
    lease_until: float,
    owner: str,
    kinds: Sequence[str],
    limit: int,
) -> list[OutboxEntry]:
    """Within a write transaction: lease the due, unleased rows (see OutboxStore)."""
    cursor = db.execute(
        "UPDATE outbox SET lease_until = ?, lease_owner = ?, attempts = attempts + 1 "
        "WHERE id IN (SELECT id FROM outbox WHERE next_attempt_at <= ? "
        "AND (lease_until IS NULL OR lease_until <= ?) "
        "AND kind IN (SELECT value FROM json_each(?)) "
        "ORDER BY next_attempt_at, id LIMIT ?) RETURNING *",
        [lease_until, owner, now, now, json.dumps(list(kinds)), limit],
    )
    names = [column[0] for column in cursor.description]
    rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    rows.sort(key=lambda row: (row["next_attempt_at"], row["id"]))
    return [_entry(row) for row in rows]


def done(db: Database, entry_id: int, owner: str) -> bool:
    cursor = db.execute("DELETE FROM outbox WHERE id = ? AND lease_owner = ?", [entry_id, owner])
    return bool(cursor.rowcount)


def retry(db: Database, entry_id: int, owner: str, next_attempt_at: float, error: str) -> None:
    db.execute(
        "UPDATE outbox SET next_attempt_at = ?, last_error = ?, lease_until = NULL, "
        "lease_owner = NULL WHERE id = ? AND lease_owner = ?",
        [next_attempt_at, error[:100], entry_id, owner],
    )


def release(db: Database, owner: str) -> None:
    db.execute(
        "UPDATE outbox SET lease_until = NULL, lease_owner = NULL WHERE lease_owner = ?", [owner]
    )


def depth(db: Database) -> int:
    return int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])


def next_due(db: Database, kinds: Sequence[str]) -> float | None:
    row = db.execute(
        "SELECT min(max(next_attempt_at, coalesce(lease_until, 0))) FROM outbox "
        "WHERE kind IN (SELECT value FROM json_each(?))",
        [json.dumps(list(kinds))],
    ).fetchone()
    return float(row[0]) if row and row[0] is not None else None


def _entry(row: Row) -> OutboxEntry:
    try:
        facts = json.loads(row["facts"])
    except ValueError:
        facts = {}
    return OutboxEntry(
        id=row["id"],
        kind=row["kind"],
        binding_id=row["binding_id"],
        identity=SlackIdentity(
            scope_id=row["scope_id"],
            user_id=row["slack_user_id"],
            team_id=row["team_id"],
            enterprise_id=row["enterprise_id"],
        ),
        facts=facts if isinstance(facts, dict) else {},
        created_at=float(row["created_at"]),
        attempts=int(row["attempts"]),
        last_error=row["last_error"],
        owner=str(row["lease_owner"]),
    )
