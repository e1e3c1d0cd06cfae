"""The plugin runner (issue 12): handlers run side by side on a few kept loops, each in a
thread of its own, off the app's loop; a blocked loop gets no new handler; what a handler
leaves running is cancelled when it returns; no handler can stop the others."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bolt_app.commands import runner as runner_module
from bolt_app.commands.runner import HandlerTimeout, PluginRunner


@pytest.fixture
async def runner() -> PluginRunner:
    runner = PluginRunner(max_running=4)
    await runner.start()
    return runner


async def test_handlers_spread_over_the_loops_then_share_them_side_by_side(
    runner: PluginRunner,
) -> None:
    both_in = threading.Barrier(2, timeout=10)

    async def blocking() -> int:
        both_in.wait()  # a synchronous wait: only possible on two loops and threads
        return threading.get_ident()

    first, second = await asyncio.gather(runner.run(blocking, 10), runner.run(blocking, 10))
    assert first != second
    running = peak = 0

    async def side_by_side() -> int:
        nonlocal running, peak
        running += 1  # each loop's handlers run in its one thread: no lock needed per loop
        peak = max(peak, running)
        await asyncio.sleep(0.3)
        running -= 1
        return threading.get_ident()

    threads = set(await asyncio.gather(*(runner.run(side_by_side, 10) for _ in range(4))))
    assert threads <= {first, second}  # the kept loops, no new thread per handler
    assert peak >= 2  # handlers shared a loop at once
    await runner.stop(5)


async def test_a_blocked_loop_gets_no_new_handler(runner: PluginRunner) -> None:
    """A handler that blocks its thread holds up only the handlers on its loop: once its
    heartbeat is late, the next handlers go to other loops, a new one if all are blocked."""
    release = threading.Event()
    blocked_threads: list[int] = []

    async def blocks() -> None:
        blocked_threads.append(threading.get_ident())
        release.wait(10)

    async def where() -> int:
        return threading.get_ident()

    try:
        held = [asyncio.ensure_future(runner.run(blocks, 20)) for _ in range(2)]
        while len(blocked_threads) < 2:  # noqa: ASYNC110 - set on the handlers' threads
            await asyncio.sleep(0.05)
        await asyncio.sleep(runner_module.STALL_SECONDS + 0.3)  # both heartbeats late
        elsewhere = await asyncio.wait_for(runner.run(where, 10), 5)
        assert elsewhere not in blocked_threads
    finally:
        release.set()
    await asyncio.gather(*held)
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


async def test_a_handler_that_stops_its_loop_stops_nobodys_work(runner: PluginRunner) -> None:
    async def stops_its_loop() -> str:
        asyncio.get_running_loop().stop()
        await asyncio.sleep(0.05)
        return "stopped"

    async def fine() -> str:
        await asyncio.sleep(0.1)
        return "fine"

    assert await asyncio.gather(
        runner.run(stops_its_loop, 10), runner.run(fine, 10), runner.run(fine, 10)
    ) == ["stopped", "fine", "fine"]
    assert [await runner.run(fine, 10) for _ in range(3)] == ["fine"] * 3
    await runner.stop(5)


async def test_an_abandoned_handler_is_cancelled_and_its_slot_serves_again() -> None:
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


async def test_stop_ends_every_loop_after_what_lives_on_it_is_closed() -> None:
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
    # (by name: an ended thread's ident may be reused, by asyncio.to_thread's, say)
    alive = [t for t in threading.enumerate() if t.name == "command-handlers" and t.is_alive()]
    assert not alive, alive
