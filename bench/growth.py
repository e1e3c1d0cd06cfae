"""Growth (issue 12, item 4): link issue, bind and lookup as the tables grow.

In the benchmark's own process, against a SQLite file of its own, through the product's
services (`BindingService` over `SQLiteStore`, as the app uses them). At each size the
database holds that many bindings (each with its own account and personal token, made
through a link) and that many pending links; then `samples` of each operation are timed:

- issue: `issue_link` for a Slack person never seen (a link stored, older ones voided);
- bind: `confirm` of a fresh link by a fresh account (the link consumed, the token issued
  and encrypted, the binding written);
- lookup: `bound_account` of a bound person (what every command does first).

The database grows through the same services between sizes, several writers at a time.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.stores import store_at

from .load import percentile
from .people import People

#: Writers at once while the database grows (the store serialises them; this overlaps the
#: Python work with SQLite's).
GROW_CONCURRENCY = 8


def _bound_id(n: int) -> str:
    return f"GB{n:09d}"


async def _grow(people: People, start: int, end: int, log: Callable[[str], None]) -> None:
    """Bindings and pending links number `start` to `end` (exclusive)."""
    numbers = iter(range(start, end))
    started = time.monotonic()
    done = 0

    async def worker() -> None:
        nonlocal done
        for n in numbers:
            await people.bind(f"growth-{n:09d}", _bound_id(n))
            await people.issue_link(f"GP{n:09d}")
            done += 1
            if done % 50_000 == 0:
                rate = done / (time.monotonic() - started)
                log(f"    {start + done} rows ({rate:.0f} bindings and links a second)")

    await asyncio.gather(*(worker() for _ in range(GROW_CONCURRENCY)))


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


async def measure(
    workdir: Path,
    secret_key: str,
    team_id: str,
    sizes: tuple[int, ...],
    samples: int,
    *,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Latencies at each size, by str(size): {"issue", "bind", "lookup"} each with p50_ms
    and p99_ms, and "grow_seconds", the time it took to grow to that size."""
    store = store_at(workdir / "growth.sqlite3")
    results: dict[str, Any] = {}
    chooser = random.Random(12)  # noqa: S311 - which bound person to look up, not a secret
    try:
        await store.open()
        people = People(store, secret_key, team_id)
        rows = 0
        for size in sizes:
            started = time.monotonic()
            await _grow(people, rows, size, log)
            grow_seconds = time.monotonic() - started
            rows = size
            tag = f"{size:09d}"

            async def issue(k: int, tag: str = tag) -> None:
                await people.issue_link(f"GI{tag}{k:05d}")

            links: list[tuple[str, Any]] = []
            for k in range(samples):
                actor = await people.add_account(f"growth-bind-{tag}-{k:05d}")
                links.append((await people.issue_link(f"GN{tag}{k:05d}"), actor))

            async def bind(k: int, links: list[tuple[str, Any]] = links) -> None:
                nonce, actor = links[k]
                await people.bindings.confirm(nonce, actor.user, actor)

            async def lookup(k: int, size: int = size) -> None:
                identity = people.identity(_bound_id(chooser.randrange(size)))
                if await people.bindings.bound_account(identity) is None:
                    raise RuntimeError(f"{identity.user_id} should be bound")

            results[str(size)] = {
                "grow_seconds": round(grow_seconds, 1),
                "issue": await _timed(samples, issue),
                "bind": await _timed(samples, bind),
                "lookup": await _timed(samples, lookup),
            }
            log(f"    {size} rows: {results[str(size)]}")
    finally:
        await store.close()
    return results
