"""The plugin runner's workers (issue 12): kept for the next handler, yet each handler still
has its loop and thread to itself while it runs, starts on a clean loop, and cannot break the
handlers after it."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bolt_app.commands.runner import HandlerTimeout, PluginRunner


@pytest.fixture
async def runner() -> PluginRunner:
    runner = PluginRunner(max_running=4)
    await runner.start()
    return runner


async def test_a_worker_runs_the_next_handler_but_never_two_at_once(runner: PluginRunner) -> None:
    both_in = threading.Barrier(2, timeout=10)

    async def blocking() -> int:
        both_in.wait()  # a synchronous wait: only possible if each has a thread of its own
        return threading.get_ident()

    first, second = await asyncio.gather(runner.run(blocking, 10), runner.run(blocking, 10))
    assert first != second

    async def where() -> int:
        return threading.get_ident()

    assert await runner.run(where, 10) in (first, second)  # a kept worker
    await runner.stop(5)


async def test_what_a_handler_leaves_running_is_cancelled_before_the_next_starts(
    runner: PluginRunner,
) -> None:
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def leaves_a_task() -> None:
        asyncio.get_running_loop().create_task(forever())
        await asyncio.sleep(0)

    async def others() -> int:
        return len(asyncio.all_tasks()) - 1  # besides itself

    await runner.run(leaves_a_task, 10)
    assert cancelled.is_set()
    assert await runner.run(others, 10) == 0
    await runner.stop(5)


async def test_a_handler_that_breaks_its_loop_does_not_break_the_next(runner: PluginRunner) -> None:
    async def stops_its_loop() -> None:
        asyncio.get_running_loop().stop()
        await asyncio.sleep(0.05)

    async def fine() -> str:
        return "fine"

    with pytest.raises(RuntimeError):
        await runner.run(stops_its_loop, 10)
    assert [await runner.run(fine, 10) for _ in range(3)] == ["fine"] * 3
    await runner.stop(5)


async def test_an_abandoned_handler_is_cancelled_and_its_worker_serves_again() -> None:
    runner = PluginRunner(max_running=1)
    await runner.start()
    abandoned = threading.Event()

    async def hangs() -> None:
        await asyncio.sleep(3600)

    async def fine() -> str:
        return "fine"

    with pytest.raises(HandlerTimeout):
        await runner.run(hangs, 0.2, abandon=abandoned.set)
    assert abandoned.is_set()
    assert await runner.run(fine, 10) == "fine"  # the one slot came back
    await runner.stop(5)


async def test_stop_ends_every_worker_after_what_lives_on_its_loop_is_closed() -> None:
    closed: list[int] = []

    async def close_here() -> None:
        closed.append(threading.get_ident())

    runner = PluginRunner(max_running=4, on_loop_end=[close_here])
    await runner.start()
    both_in = threading.Barrier(2, timeout=10)

    async def blocking() -> int:
        both_in.wait()
        return threading.get_ident()

    used = set(await asyncio.gather(runner.run(blocking, 10), runner.run(blocking, 10)))
    await runner.stop(5)
    assert set(closed) == used and len(closed) == 2
    assert not any(t.ident in used and t.is_alive() for t in threading.enumerate())
