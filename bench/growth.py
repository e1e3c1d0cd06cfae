"""Growth (issue 12, item 4): link issue, bind and lookup as the tables grow.

In the benchmark's own process, against a SQLite file for each size, holding that many
bound people (each with their own account, the link they bound through and a personal
token) and that many pending links, with their audit entries. Then `samples` of each
operation are timed on each file, one at a time, through the product's services
(`BindingService` over `SQLiteStore`, opened as the app opens it), exactly as the app calls
them:

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
write, many thousands to a transaction, then checkpointed and synced), not through the
services, which sync every one of their five transactions a binding to disk and took hours
for a million. The timed operations' own rows stay (a few thousand, beside the sizes).

The samples are taken in ROUNDS rounds, each size's share after another's, so that the
sizes meet the same moments of a shared, noisy machine. Timed one size after another, link
issue (two synced commits, under a millisecond) came out 1.55, 1.74 and 1.97 times slower at
a million rows than at a thousand in three runs, binding 1.26 to 1.79 times; taken in
turns, on the same machine, 1.02 and 1.08 times.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from account_binding.audit import Actor
from bench.stores import remove_database, store_at

from .bulk_rows import BulkPeople
from .load import percentile
from .people import People


def _bound_id(n: int) -> str:
    return f"GB{n:09d}"


def _pending_id(n: int) -> str:
    return f"GP{n:09d}"


def _username(n: int) -> str:
    return f"growth-{n:09d}"


#: Rounds the samples are taken in, each size's share of a round after another's.
ROUNDS = 10

#: The timed operations, in the order a round runs them.
OPERATIONS = ("account", "issue", "bind", "lookup", "disconnect")


class _Size:
    """The database of one size, its services, and the times its operations took."""

    def __init__(self, size: int, database: Path, people: People, bulk: BulkPeople) -> None:
        self.size = size
        self.database = database
        self.people = people
        self.bulk = bulk
        self.grow_seconds = 0.0
        self.times: dict[str, list[float]] = {name: [] for name in OPERATIONS}
        self._chooser = random.Random(size)  # noqa: S311 - whom to look up, not a secret
        self._next = 0

    async def round(self, count: int) -> None:
        """`count` of each operation, timed one at a time."""
        people, tag = self.people, f"{self.size:09d}"
        numbers = range(self._next, self._next + count)
        self._next += count
        actors: dict[int, Actor] = {}
        links: dict[int, str] = {}
        made: dict[int, str] = {}

        async def account(k: int) -> None:
            actors[k] = await people.add_account(f"growth-bind-{tag}-{k:05d}")

        async def issue(k: int) -> None:
            await people.issue_link(f"GI{tag}{k:05d}")

        async def bind(k: int) -> None:
            user = actors[k].user
            assert user is not None
            await people.bindings.confirm(links[k], user, actors[k])

        async def lookup(k: int) -> None:
            identity = people.identity(_bound_id(self._chooser.randrange(self.size)))
            if await people.bindings.bound_account(identity) is None:
                raise RuntimeError(f"{identity.user_id} should be bound")

        async def disconnect(k: int) -> None:
            identity = people.identity(f"GN{tag}{k:05d}")
            if await people.bindings.unbind_binding(identity, made[k], actors[k]) is None:
                raise RuntimeError(f"{identity.user_id} should have been disconnected")

        await self._timed("account", numbers, account)
        for k in numbers:  # untimed: the links `bind` confirms
            links[k] = await people.issue_link(f"GN{tag}{k:05d}")
        await self._timed("issue", numbers, issue)
        await self._timed("bind", numbers, bind)
        await self._timed("lookup", numbers, lookup)
        for k in numbers:  # untimed: the public IDs the Disconnect button carries
            connection = await people.bindings.connection_of(people.identity(f"GN{tag}{k:05d}"))
            assert connection is not None and connection.binding.public_id is not None
            made[k] = connection.binding.public_id
        await self._timed("disconnect", numbers, disconnect)

    async def _timed(
        self, name: str, numbers: range, operation: Callable[[int], Awaitable[None]]
    ) -> None:
        for k in numbers:
            began = time.perf_counter()
            await operation(k)
            self.times[name].append(time.perf_counter() - began)

    def as_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {"grow_seconds": round(self.grow_seconds, 1)}
        for name, times in self.times.items():
            ordered = sorted(times)
            p50, p99 = percentile(ordered, 0.5), percentile(ordered, 0.99)
            result[name] = {
                "samples": len(ordered),
                "p50_ms": None if p50 is None else round(p50 * 1000, 3),
                "p99_ms": None if p99 is None else round(p99 * 1000, 3),
            }
        return result


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
    "disconnect"}, each with samples, p50_ms and p99_ms, and "grow_seconds", the time it
    took to write that database's rows. `samples` is rounded down to a multiple of ROUNDS
    (at least one a round)."""
    each = max(1, samples // ROUNDS)
    opened: list[_Size] = []
    try:
        for size in sizes:
            database = workdir / f"growth-{size}.sqlite3"
            remove_database(database)
            store = store_at(database)
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
            opened.append(_Size(size, database, people, bulk))
            await people.add_account("growth-first")  # its password hash, made once, untimed
            started = time.monotonic()
            stop = threading.Event()  # a stopped run does not wait for the whole write
            try:
                await asyncio.to_thread(bulk.write, 0, size, log, stop)
            finally:
                stop.set()
            opened[-1].grow_seconds = time.monotonic() - started
        for number in range(ROUNDS):
            # Each size in turn, in a turning order: a noisy moment is shared out.
            turn = number % len(opened)
            for one in opened[turn:] + opened[:turn]:
                await one.round(each)
            log(f"    round {number + 1} of {ROUNDS} done")
    finally:
        for one in opened:
            await one.people.store.close()
    results = {str(one.size): one.as_json() for one in opened}
    for rows, figures in results.items():
        log(f"    {rows} rows: {figures}")
    return results
