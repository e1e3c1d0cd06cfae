"""Growth (issue 12, item 4): link issue, bind and lookup as the tables grow.

In the benchmark's own process, against a SQLite file of its own. At each size the database
holds that many bound people (each with their own account, the link they bound through and
a personal token) and that many pending links, with their audit entries; then `samples` of
each operation are timed, one at a time, through the product's services (`BindingService`
over `SQLiteStore`, opened as the app opens it), exactly as the app calls them:

- issue: `issue_link` for a Slack person never seen (the rate limit counted, older links
  voided, the link stored, its audit entry written);
- bind: `confirm` of a fresh link by a fresh account (the link consumed, the token issued
  and encrypted, the binding and its DM's outbox row written, the audit entry);
- lookup: `bound_account` of a bound person picked at random (what every command does
  first: the binding, its account and token read, the token decrypted);
- account: `Store.create_user` of a new account (what `account-binding user add` and a
  first single sign-on login do; its account is the one `bind` then binds);
- disconnect: `unbind_binding` of a binding `bind` made (Slack's Disconnect button: the
  binding found by its public ID and removed, its token revoked, the DM's outbox row and
  the audit entry written).

How the rows are made: written in bulk (`bench.bulk_rows`: the rows the services would
write, many thousands to a transaction), not through the services, which sync every one of
their five transactions a binding to disk and took hours for a million. Between sizes
nothing else runs; the timed operations' own rows stay (a few thousand, beside the sizes).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.stores import store_at

from .bulk_rows import BulkPeople
from .load import percentile
from .people import People

if TYPE_CHECKING:
    from account_binding.audit import Actor


def _bound_id(n: int) -> str:
    return f"GB{n:09d}"


def _pending_id(n: int) -> str:
    return f"GP{n:09d}"


def _username(n: int) -> str:
    return f"growth-{n:09d}"


async def _timed(samples: int, operation: Callable[[int], Awaitable[None]]) -> dict[str, Any]:
    times = []
    for k in range(samples):
        began = time.perf_counter()
        await operation(k)
        times.append(time.perf_counter() - began)
    times.sort()
    p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
    return {
        "samples": samples,
        "p50_ms": None if p50 is None else round(p50 * 1000, 3),
        "p99_ms": None if p99 is None else round(p99 * 1000, 3),
    }


async def _operations(
    people: People, size: int, samples: int, chooser: random.Random
) -> dict[str, Any]:
    """`samples` of each operation, timed one at a time, on a database of `size` rows."""
    tag = f"{size:09d}"

    async def account(k: int) -> None:
        actors.append(await people.add_account(f"growth-bind-{tag}-{k:05d}"))

    async def issue(k: int) -> None:
        await people.issue_link(f"GI{tag}{k:05d}")

    async def bind(k: int) -> None:
        nonce, actor = links[k]
        assert actor.user is not None
        await people.bindings.confirm(nonce, actor.user, actor)

    async def lookup(k: int) -> None:
        identity = people.identity(_bound_id(chooser.randrange(size)))
        if await people.bindings.bound_account(identity) is None:
            raise RuntimeError(f"{identity.user_id} should be bound")

    async def disconnect(k: int) -> None:
        identity, public_id, actor = made[k]
        if await people.bindings.unbind_binding(identity, public_id, actor) is None:
            raise RuntimeError(f"{identity.user_id} should have been disconnected")

    actors: list[Actor] = []
    timed = {"account": await _timed(samples, account)}
    links = [(await people.issue_link(f"GN{tag}{k:05d}"), actors[k]) for k in range(samples)]
    timed["issue"] = await _timed(samples, issue)
    timed["bind"] = await _timed(samples, bind)
    timed["lookup"] = await _timed(samples, lookup)
    made = []
    for k in range(samples):
        identity = people.identity(f"GN{tag}{k:05d}")
        connection = await people.bindings.connection_of(identity)
        assert connection is not None and connection.binding.public_id is not None
        made.append((identity, connection.binding.public_id, actors[k]))
    timed["disconnect"] = await _timed(samples, disconnect)
    return timed


async def measure(
    workdir: Path,
    secret_key: str,
    team_id: str,
    sizes: tuple[int, ...],
    samples: int,
    *,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Latencies at each size, by str(size): {"account", "issue", "bind", "lookup",
    "disconnect"} each
    with p50_ms and p99_ms, and "grow_seconds", the time it took to write the rows from the
    previous size to this one."""
    database = workdir / "growth.sqlite3"
    for suffix in ("", "-wal", "-shm"):  # a previous run's, in a kept --workdir
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    store = store_at(database)
    results: dict[str, Any] = {}
    chooser = random.Random(12)  # noqa: S311 - which bound person to look up, not a secret
    try:
        await store.open()
        people = People(store, secret_key, team_id)
        bulk = BulkPeople(
            database,
            secret_key,
            team_id,
            bound=_bound_id,
            pending=_pending_id,
            username=_username,
        )
        await people.add_account("growth-first")  # its password hash, made once, untimed
        rows = 0
        for size in sizes:
            started = time.monotonic()
            await asyncio.to_thread(bulk.write, rows, size, log)
            grow_seconds = time.monotonic() - started
            rows = size
            results[str(size)] = {
                "grow_seconds": round(grow_seconds, 1),
                **await _operations(people, size, samples, chooser),
            }
            log(f"    {size} rows: {results[str(size)]}")
    finally:
        await store.close()
    return results
