"""`python -m bench`: every benchmark of issue 12 in one run, printed as a table and kept as
JSON.

One process (this one) holds the fake Slack and the load generator; each system under test
runs as a process of its own, one after another, against that same fake Slack, and the
internal API runs in a process of its own for the product and baseline C alike:

1. baseline A (starter-template Bolt), then baseline B (AsyncApp, ack only): closed loop
   at 1 and 50, and B in open loop at half its own rate at 50;
2. baseline C (B plus the bound path's work after the ack, pooled sessions): closed loop
   at 1 and 50, answers awaited, and open loop at its own completion rate;
3. the product (`account-binding run`, a real SQLite file): the unbound path (a new Slack
   person per command: a link issued, stored and replied), then the bound path (people
   bound beforehand through the product's own services: lookup, ack, the internal API
   call and the answer through the response_url), the same runs as its baselines (the
   unbound open loop at half of B's rate, the bound one at the product's own completion
   rate); then its memory over many commands, and its site;
4. growth: the product's link issue, bind and lookup at growing numbers of rows, in this
   process against a database of its own.

`--quick` makes every run last about a second and every size small: it proves the harness
end to end (tests/test_bench_smoke.py), and its figures are indicative only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from bolt_app.redelivery import MAX_REMEMBERED
from fake_slack import FakeSlack

from . import commands, growth, report, site
from .commands import Durations, bound_people, has_link, suite, unbound_people
from .load import Driver, RunStats
from .people import bind_people
from .processes import ROOT, Child, stop_left
from .stores import remove_database
from .systems import (
    APP_TOKEN,
    BOT_TOKEN,
    SECRET_KEY,
    Product,
    start_baseline,
    start_internal_api,
    start_product,
    stopped,
)

T = TypeVar("T")

#: Seconds between the cancellations of a stopped run (see `_until_stopped`).
STOP_RETRY_SECONDS = 0.2

#: Where a full run's results go, and a run of some parts' (`--only`), which therefore
#: never replaces the last full run's.
DEFAULT_JSON = ROOT / "bench" / "results" / "latest.json"
#: The file in a --workdir that says a run made it (a run may delete its own files there).
WORKDIR_MARK = ".bench-workdir"


PARTS = report.PARTS


class Plan:
    """What one run measures, and for how long."""

    def __init__(self, quick: bool, parts: tuple[str, ...] = PARTS) -> None:
        self.quick = quick
        self.parts = parts
        self.durations = Durations(warmup=0.2, seconds=0.8) if quick else Durations(2.0, 10.0)
        #: Slack people bound before the product starts (the bound path's).
        self.bound_people = 100 if quick else 500
        #: Commands between the two RSS readings.
        self.memory_commands = 200 if quick else 100_000
        #: Commands before the first RSS reading: twice what the envelope-ID memory holds.
        self.memory_warmup = 100 if quick else 2 * MAX_REMEMBERED
        self.site = site.SitePlan.quick() if quick else site.SitePlan.full()
        self.growth_sizes = (1_000, 2_000) if quick else (1_000, 100_000, 1_000_000)
        self.growth_samples = 30 if quick else 500

    def as_json(self) -> dict[str, Any]:
        return {
            "quick": self.quick,
            "parts": list(self.parts),
            "warmup_seconds": self.durations.warmup,
            "measured_seconds": self.durations.seconds,
            "bound_people": self.bound_people,
            "memory_commands": self.memory_commands,
            "memory_warmup": self.memory_warmup,
            "site": self.site.as_json(),
            "growth_sizes": list(self.growth_sizes),
            "growth_samples": self.growth_samples,
        }


def machine() -> dict[str, Any]:
    """The machine the figures were measured on."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_average_at_start": load,
    }


def default_json(parts: tuple[str, ...]) -> Path:
    """Where the results of a run of `parts` go when no --json is given: a full run's to
    DEFAULT_JSON, a run of some parts' to a file named after them."""
    if set(parts) == set(PARTS):
        return DEFAULT_JSON
    return DEFAULT_JSON.with_name(f"only-{'-'.join(p for p in PARTS if p in parts)}.json")


def commit() -> str | None:
    """The checkout's commit (short), with "+changes" when its tracked files differ from
    it; None outside a git checkout."""
    git = shutil.which("git")
    if git is None:
        return None

    def output(*arguments: str) -> str:
        return subprocess.run(  # noqa: S603 - git from PATH, fixed arguments
            [git, *arguments], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        head = output("rev-parse", "--short", "HEAD")
        changed = output("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+changes" if changed else "") if head else None


def _runs(runs: dict[str, RunStats]) -> dict[str, Any]:
    return {key: stats.as_json() for key, stats in runs.items()}


async def run(plan: Plan, workdir: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    """The benchmarks of `plan.parts`; the results as report.rows and the JSON file read them."""
    results: dict[str, Any] = {
        "machine": machine(),
        "plan": plan.as_json(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": commit(),
    }
    fake = FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN)
    driver = Driver(fake)
    await fake.start()
    children: list[Child] = []
    try:
        api, api_url = await start_internal_api(workdir)
        children.append(api)
        if "commands" in plan.parts:
            results.update(await _baselines(plan, fake, driver, workdir, api_url, children, log))
        if {"commands", "memory", "site"} & set(plan.parts):
            half_b = results.get("baseline_b", {}).get("c50", {}).get("acks_per_second")
            results.update(
                await _product(plan, fake, driver, workdir, api_url, children, half_b, log)
            )
        if "growth" in plan.parts:
            log("growth")
            results["growth"] = await growth.measure(
                workdir,
                SECRET_KEY,
                fake.workspace.team_id,
                plan.growth_sizes,
                plan.growth_samples,
                log=log,
            )
    finally:
        for child in reversed(children):
            await child.stop()
        await fake.stop()
    results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return results


async def _baselines(
    plan: Plan,
    fake: FakeSlack,
    driver: Driver,
    workdir: Path,
    api_url: str,
    children: list[Child],
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Baselines A, B and C, one after another."""

    async def baseline(
        which: str,
        prefix: str,
        *,
        answered: bool,
        open_rate: Callable[[RunStats], float | None] | None = None,
    ) -> dict[str, Any]:
        log(f"baseline {which.upper()}")
        child = await start_baseline(which, fake, workdir, api_url)
        children.append(child)
        try:
            runs = await suite(
                driver,
                child,
                unbound_people(prefix),
                plan.durations,
                answered=answered,
                open_rate=open_rate,
                log=log,
            )
        finally:
            await child.stop()
            children.remove(child)
            await stopped(fake)
        return _runs(runs)

    return {
        "baseline_a": await baseline("a", "UA", answered=False),
        "baseline_b": await baseline(
            "b", "UB", answered=False, open_rate=lambda c50: c50.acks_per_second / 2 or None
        ),
        "baseline_c": await baseline(
            "c", "UC", answered=True, open_rate=lambda c50: c50.answers_per_second or None
        ),
    }


async def _product(
    plan: Plan,
    fake: FakeSlack,
    driver: Driver,
    workdir: Path,
    api_url: str,
    children: list[Child],
    b_at_50: float | None,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """The product's command paths, its memory and its site, on one process."""
    results: dict[str, Any] = {}
    log("the product")
    database = workdir / "product.sqlite3"
    remove_database(database)
    known = [f"UK{n:08d}" for n in range(1, plan.bound_people + 1)]
    started = time.monotonic()
    await bind_people(database, SECRET_KEY, fake.workspace.team_id, known)
    log(f"  bound {len(known)} people in {time.monotonic() - started:.1f} s")
    product = await start_product(fake, workdir, database, api_url)
    children.append(product.child)

    running: Product | None = product

    async def stop_product() -> None:
        nonlocal running
        if running is not None:
            stopping, running = running, None
            await stopping.child.stop()
            children.remove(stopping.child)
            await stopped(fake)

    async def restart() -> None:
        nonlocal product, running
        await stop_product()
        product = await start_product(fake, workdir, database, api_url, "product-memory")
        children.append(product.child)
        running = product

    try:
        if "commands" in plan.parts:
            log("  unbound path")
            # Its answer is the link: in the acknowledgement, or after a "One moment…" one
            # (bolt_app.bursts) through the response_url; a command ends when the link came.
            driver.answer_in_ack = has_link
            try:
                unbound = await suite(
                    driver,
                    product.child,
                    unbound_people("UN"),
                    plan.durations,
                    answered=True,
                    open_rate=lambda c50: b_at_50 / 2 if b_at_50 else None,
                    log=log,
                )
            finally:
                driver.answer_in_ack = None
            results["product_unbound"] = _runs(unbound)
            log("  bound path")
            bound = await suite(
                driver,
                product.child,
                bound_people(known),
                plan.durations,
                answered=True,
                open_rate=lambda c50: c50.answers_per_second or None,
                log=log,
            )
            results["product_bound"] = _runs(bound)
        if "memory" in plan.parts:
            if "commands" in plan.parts:
                # The memory is measured from a process as it starts, as `--only memory`
                # does, not after the command runs (whose backlog it would still be
                # shedding).
                await restart()
            log(f"  memory over {plan.memory_commands} commands")
            results["memory"] = await memory(
                driver,
                product.child,
                known,
                plan.memory_commands,
                log,
                warmup=plan.memory_warmup,
            )
            log(f"    {results['memory']}")
        if "site" in plan.parts:
            log("  site")
            results["site"] = await site.measure(
                fake, product.base_url, database, SECRET_KEY, workdir, plan.site, log=log
            )
    finally:
        await stop_product()
    return results


async def memory(
    driver: Driver,
    child: Child,
    known: list[str],
    count: int,
    log: Callable[[str], None] = print,
    *,
    warmup: int = 0,
) -> dict[str, Any]:
    """The product's RSS at rest (settled, as started), then after
    `warmup` commands, then after `count` more; commands 50 at a time, half from new people
    (a link each) and half from bound people (an internal API call each).

    "rss_growth_mb" is over the `count` commands after the warm-up: what a process that has
    served for a while gains, where a leak shows. The warm-up fills what is bounded (the
    envelope-ID memory holds MAX_REMEMBERED envelopes, the plugin workers and their pooled
    clients start as commands come, SQLite's page caches fill); "rss_warmup_mb" is what that
    took, so that the process's ceiling is rss_after_mb."""
    unbound = unbound_people("UM")
    bound = bound_people(known)

    async def send(how_many: int) -> float:
        sent = 0
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal sent
            while sent < how_many:
                sent += 1
                user_id, text = (bound if sent % 2 else unbound)()
                await driver.command(user_id, text, answered=sent % 2 == 1)

        await asyncio.gather(*(worker() for _ in range(commands.MANY_AT_A_TIME)))
        await commands.settle(child, log)
        driver.forget()
        return time.perf_counter() - started

    await commands.settle(child, log)
    driver.forget()
    at_rest = child.rss_bytes()
    await send(warmup)
    before = child.rss_bytes()
    seconds = await send(count)
    after = child.rss_bytes()
    return {
        "commands": count,
        "warmup_commands": warmup,
        "seconds": round(seconds, 1),
        "rss_at_rest_mb": _mb(at_rest),
        "rss_before_mb": _mb(before),
        "rss_after_mb": _mb(after),
        "rss_warmup_mb": _difference(before, at_rest),
        "rss_growth_mb": _difference(after, before),
    }


def _difference(later: int | None, earlier: int | None) -> float | None:
    return _mb(later - earlier) if later is not None and earlier is not None else None


def _mb(value: int | None) -> float | None:
    return None if value is None else round(value / 1_000_000, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run every benchmark of issue 12 against a fake Slack on loopback; print "
        "the table and write the results as JSON.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="about a second per run and small sizes: proves the harness, figures indicative only",
    )
    parser.add_argument(
        "--json",
        type=Path,
        metavar="PATH",
        help=f"where to write the results (default {DEFAULT_JSON.relative_to(ROOT)}, or "
        f"for --only only-PARTS.json beside it)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=PARTS,
        metavar="PART",
        help=f"run only this part ({', '.join(PARTS)}); may be repeated. Default: all",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        help="keep the databases and the processes' logs in DIR (default: a temporary "
        "directory, removed after)",
    )
    arguments = parser.parse_args(argv)
    only = tuple(p for p in PARTS if p in (arguments.only or PARTS))
    # Resolved: a link's target, whose folder the run may have to make, is where they go.
    arguments.json = (arguments.json or default_json(only)).resolve()
    problem = _unusable_json(arguments.json) or (
        arguments.workdir is not None and _unusable_workdir(arguments.workdir)
    )
    if problem:
        parser.error(problem)
    for name in (
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "https_proxy",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        os.environ.pop(name, None)  # slack_sdk and httpx would send loopback traffic there
    logging.basicConfig(level=logging.ERROR, format="%(name)s: %(message)s")
    plan = Plan(arguments.quick, only)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    with contextlib.ExitStack() as stack:
        workdir = arguments.workdir
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        stopped = False
        try:
            results = asyncio.run(_until_stopped(run(plan, workdir.resolve(), log=log)))
        except RuntimeError as error:
            print(f"bench: {error}", file=sys.stderr)
            return 1
        except (KeyboardInterrupt, asyncio.CancelledError):
            stopped = True
        finally:
            stop_left(log=log)
        if stopped:
            log("bench: stopped; every process it started has ended; no results written")
            return 130
    results["rows"] = [row.as_json() for row in report.rows(results)]
    print(report.table(results))
    text = json.dumps(results, indent=2) + "\n"
    try:
        arguments.json.parent.mkdir(parents=True, exist_ok=True)
        arguments.json.write_text(text)
    except OSError as error:  # made unusable during the run: the results are kept anyway
        kept = Path(tempfile.mkstemp(prefix="bench-", suffix=".json")[1])
        kept.write_text(text)
        log(f"bench: cannot write {arguments.json} ({error.strerror}); results written to {kept}")
        return 1
    log(f"results written to {arguments.json}")
    return 0


async def _until_stopped(work: Coroutine[Any, Any, T]) -> T:
    """`work`, cancelled on SIGTERM and on Ctrl-C (SIGINT); raises CancelledError when
    stopped, and leaves those signals ignored for the sweep that follows. The cancellation
    is repeated until `work` ends: asyncio.wait_for in Python 3.11
    can swallow one that lands as its awaitable completes (python/cpython#86296), which
    would let the run go on. What its clean-up did not stop, `processes.stop_left` does."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    stopping = False

    def stop() -> None:
        nonlocal stopping
        stopping = True
        if not task.done():
            task.cancel()
            loop.call_later(STOP_RETRY_SECONDS, stop)

    signals = (signal.SIGTERM, signal.SIGINT)
    for number in signals:
        with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals here
            loop.add_signal_handler(number, stop)
    try:
        result = await task
    finally:
        for number in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(number)
                if stopping:  # a second Ctrl-C or SIGTERM cannot cut the sweep short
                    signal.signal(number, signal.SIG_IGN)
    if stopping:
        raise asyncio.CancelledError
    return result


def _unusable_json(path: Path) -> str | None:
    """Why the results could not be written to `path` (checked before the run, which can
    take many minutes, by making a file where they go; nothing is left made), or None."""
    if path.is_dir():
        return f"--json {path}: is a directory; give a file name"
    if path.exists() and not path.is_file():
        return f"--json {path}: not a regular file"
    folder = path.parent
    while not folder.exists():  # made by the run
        folder = folder.parent
    if not folder.is_dir():
        return f"--json {path}: a file, {folder}, stands where its folder would be"
    try:
        if path.exists():
            with path.open("a"):
                pass
        else:
            with tempfile.TemporaryFile(dir=folder):
                pass
    except OSError as error:
        return f"--json {path}: cannot write there ({error.strerror})"
    return None


def _unusable_workdir(path: Path) -> str | None:
    """Why `path` cannot be the work directory, or None. It is made when missing; one that
    holds files of something else is refused, since a run deletes and overwrites its own
    files there (databases, logs): it must be empty, or one an earlier run used."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return f"--workdir {path}: exists and is not a directory"
    except OSError as error:
        return f"--workdir {path}: cannot make it ({error.strerror})"
    mark = path / WORKDIR_MARK
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
        if not mark.exists() and any(path.iterdir()):
            return (
                f"--workdir {path}: holds other files, which a run could overwrite; give an "
                "empty or new directory, or one an earlier run used"
            )
        mark.write_text("A work directory of python -m bench: its runs replace their files here.\n")
    except OSError as error:
        return f"--workdir {path}: cannot write there ({error.strerror})"
    return None
