"""Slash-command scenarios: one system under test, loaded closed loop and open loop.

Each system gets the same suite: closed loop one at a time and 50 at a time, then (when
asked) an open loop at a fixed rate. Before each run the app is left to finish what an
earlier run queued (`settle`), and the app process's CPU time over the run is divided by
the commands sent (`RunStats.app_cpu_ms_per_command`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .load import Driver, NextCommand, RunStats, closed_loop, open_loop
from .processes import Child

#: The concurrencies of the closed loops.
ONE_AT_A_TIME = 1
MANY_AT_A_TIME = 50
#: The app counts as idle once it uses less than this share of a core over SETTLE_WINDOW.
IDLE_CPU_SHARE = 0.10
SETTLE_WINDOW_SECONDS = 0.2
#: An app overloaded by an open loop may have minutes of queued commands to get through.
SETTLE_TIMEOUT_SECONDS = 600.0

#: The text every command carries: the bound path's subcommand (bench.plugin), which a
#: person not yet connected is answered with a link for.
COMMAND_TEXT = "me"


@dataclass(frozen=True)
class Durations:
    """Seconds of each run: `warmup` unmeasured, then `seconds` measured."""

    warmup: float
    seconds: float


def has_link(ack_payload: Any) -> bool:
    """Whether an acknowledgement's payload holds a binding link (the unbound path's answer),
    rather than only "One moment…" (bolt_app.bursts), the link then following by the
    response_url."""
    return ack_payload is not None and "/bind/" in json.dumps(ack_payload)


def unbound_people(prefix: str) -> NextCommand:
    """A new Slack person for every command (`<prefix>00000001`, …): each is issued a link."""
    numbers = itertools.count(1)
    return lambda: (f"{prefix}{next(numbers):08d}", COMMAND_TEXT)


def bound_people(user_ids: list[str]) -> NextCommand:
    """The bound people in turn."""
    people = itertools.cycle(user_ids)
    return lambda: (next(people), COMMAND_TEXT)


async def settle(child: Child, log: Callable[[str], None] = print) -> None:
    """Wait until `child` is idle (under IDLE_CPU_SHARE of a core over SETTLE_WINDOW),
    SETTLE_TIMEOUT_SECONDS at most; at once where its CPU time cannot be read. Says so when
    that took long (an earlier run left the app a backlog) or never happened."""
    started = time.monotonic()
    while time.monotonic() - started < SETTLE_TIMEOUT_SECONDS:
        before = child.cpu_seconds()
        await asyncio.sleep(SETTLE_WINDOW_SECONDS)
        after = child.cpu_seconds()
        if before is None or after is None:
            return
        if after - before < IDLE_CPU_SHARE * SETTLE_WINDOW_SECONDS:
            waited = time.monotonic() - started
            if waited > 5:
                log(f"    (waited {waited:.0f} s for {child.name} to get through its backlog)")
            return
    log(f"    ({child.name} still busy after {SETTLE_TIMEOUT_SECONDS:.0f} s: measuring anyway)")


async def measure(
    driver: Driver,
    child: Child,
    next_command: NextCommand,
    durations: Durations,
    *,
    answered: bool,
    concurrency: int | None = None,
    rate: float | None = None,
    log: Callable[[str], None] = print,
) -> RunStats:
    """One run: closed loop at `concurrency`, or open loop at `rate` commands/s."""
    await settle(child, log)
    driver.forget()
    cpu_before, own_before = child.cpu_seconds(), time.process_time()
    if rate is not None:
        stats = await open_loop(
            driver,
            next_command,
            rate=rate,
            seconds=durations.seconds,
            warmup=durations.warmup,
            answered=answered,
        )
    else:
        assert concurrency is not None
        stats = await closed_loop(
            driver,
            next_command,
            concurrency=concurrency,
            seconds=durations.seconds,
            warmup=durations.warmup,
            answered=answered,
            at_least=2 * concurrency,
        )
    cpu_after, own_after = child.cpu_seconds(), time.process_time()
    if stats.total_sent:
        stats.generator_cpu_ms_per_command = round(
            (own_after - own_before) * 1000 / stats.total_sent, 3
        )
        if cpu_before is not None and cpu_after is not None:
            stats.app_cpu_ms_per_command = round(
                (cpu_after - cpu_before) * 1000 / stats.total_sent, 3
            )
    return stats


async def suite(
    driver: Driver,
    child: Child,
    next_command: NextCommand,
    durations: Durations,
    *,
    answered: bool,
    open_rate: Callable[[RunStats], float | None] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, RunStats]:
    """Closed loop at 1 and at 50, then an open loop at `open_rate(<the run at 50>)`
    commands/s (none when it is None or gives None). Keys "c1", "c50" and "open"."""
    runs: dict[str, RunStats] = {}
    for key, concurrency in (("c1", ONE_AT_A_TIME), ("c50", MANY_AT_A_TIME)):
        runs[key] = await measure(
            driver,
            child,
            next_command,
            durations,
            answered=answered,
            concurrency=concurrency,
            log=log,
        )
        log(f"    {key}: {summary(runs[key])}")
    rate = open_rate(runs["c50"]) if open_rate is not None else None
    if rate:
        runs["open"] = await measure(
            driver, child, next_command, durations, answered=answered, rate=rate, log=log
        )
        log(f"    open at {rate:.0f}/s: {summary(runs['open'])}")
    return runs


def summary(stats: RunStats) -> str:
    """One line of a run's main figures, for the progress log."""
    line = (
        f"{stats.acks_per_second:.0f} acks/s, ack p50 {stats.ack_p50_ms} ms, "
        f"p99 {stats.ack_p99_ms} ms"
    )
    if stats.answers_per_second is not None:
        line += (
            f", {stats.answers_per_second:.0f} answered/s (p50 {stats.answer_p50_ms} ms, "
            f"p99 {stats.answer_p99_ms} ms)"
        )
        if stats.deferred:
            line += f", {stats.deferred} answers deferred past the ack"
    if stats.ack_timeouts:
        line += f", {stats.ack_timeouts} without an ack"
    if stats.app_cpu_ms_per_command is not None:
        line += f", app CPU {stats.app_cpu_ms_per_command} ms/command"
    line += f", generator CPU {stats.generator_cpu_ms_per_command} ms/command"
    return line
