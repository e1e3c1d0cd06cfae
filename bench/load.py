"""The load generator: slash commands through the fake Slack's Socket Mode websocket.

It runs in the benchmark's own process, beside the fake Slack (`fake_slack.FakeSlack`), and
drives whichever app is connected to it (a baseline or the product, each a process of its
own). Each command goes out as a `slash_commands` envelope over the real websocket
(`FakeSlack.send_command_timed`); its acknowledgement comes back on the same socket, and a
bound command's answer arrives later as a post to its response_url, which the fake Slack
reports (`FakeSlack.watch_response_urls`).

Two ways to load the app:
- closed loop (`closed_loop`): `concurrency` workers, each sending its next command as soon
  as the previous one finished (acknowledged; for a bound command, answered);
- open loop (`open_loop`): commands sent at a fixed rate whatever the acknowledgements do,
  each waited for on its own, so that a slow app meets a growing queue, as in an incident.

Times are `time.perf_counter()` seconds; every run reports its figures as a `RunStats`.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from fake_slack import FakeSlack
from fake_slack.server import ACK_TIMEOUT_SECONDS

#: Seconds a bound command's answer (the response_url post) is waited for after its ack.
ANSWER_TIMEOUT_SECONDS = 10.0
#: How many times its planned length a closed loop's window may stretch to let a slow app
#: finish enough commands to measure.
CLOSED_LOOP_STRETCH = 10
#: Seconds between the open loop's looks at the clock (it then sends what is due).
OPEN_LOOP_TICK_SECONDS = 0.001

#: (user ID, text) of the next command to send.
NextCommand = Callable[[], tuple[str, str]]


@dataclass(slots=True)
class Sample:
    """One command: when it was sent, seconds to its ack (None: none within 3 s) and, for a
    command answered through its response_url, seconds from sending to the answer (None:
    none came within ANSWER_TIMEOUT_SECONDS, or none was waited for)."""

    sent_at: float
    ack: float | None
    answer: float | None = None
    #: For an answered command, whether its acknowledgement held no answer (only something
    #: like "One moment…"), so that the answer came later through the response_url.
    deferred: bool = False


@dataclass
class RunStats:
    """A run's figures. Rates are per second over the measured window; latencies in
    milliseconds over the commands sent in it (None when there were none)."""

    mode: str  # "closed" or "open"
    concurrency: int | None
    rate: float | None  # the open loop's rate, commands/s
    seconds: float  # the measured window
    sent: int
    acked: int
    ack_timeouts: int
    acks_per_second: float
    ack_p50_ms: float | None
    ack_p99_ms: float | None
    ack_max_ms: float | None
    answered: int | None = None
    answers_per_second: float | None = None
    answer_p50_ms: float | None = None
    answer_p99_ms: float | None = None
    #: Answered commands whose acknowledgement held no answer (see `Sample.deferred`).
    deferred: int | None = None
    #: The open loop's worst lateness in sending a command, ms (the generator's own lag).
    send_lag_max_ms: float | None = None
    #: Commands sent in the whole run, warm-up included.
    total_sent: int = 0
    #: The app process's CPU time (user + system) per command of the whole run, ms.
    app_cpu_ms_per_command: float | None = None
    #: This process's (the load generator's and the fake Slack's) CPU time per command, ms:
    #: near 1000 / acks_per_second, the generator, not the app, set the pace.
    generator_cpu_ms_per_command: float | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Driver:
    """Sends commands through `fake` and pairs each response_url post with its command.

    Make it before `fake.start()` (it installs the fake Slack's response_url watch).
    """

    fake: FakeSlack
    #: For answered commands: whether an acknowledgement's payload is itself the answer
    #: (the unbound path's link comes in the acknowledgement unless the app deferred it);
    #: None: the answer always comes through the response_url.
    answer_in_ack: Callable[[Any], bool] | None = None
    _waiting: dict[str, asyncio.Future[float]] = field(default_factory=dict)
    _early: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fake.watch_response_urls(self._posted)

    def _posted(self, response_url: str, at: float) -> None:
        waiter = self._waiting.pop(response_url, None)
        if waiter is None:
            self._early[response_url] = at  # before its command's ack was read
        elif not waiter.done():
            waiter.set_result(at)

    def forget(self) -> None:
        """Drop what earlier runs left (call it between runs, with nothing in flight):
        answers nobody waited for, the messages and calls the fake Slack recorded, and its
        response_urls, which a long run would otherwise pile up in this process."""
        self._early.clear()
        self.fake.state.messages.clear()
        self.fake.state.api_calls.clear()
        self.fake.forget_response_urls()

    async def command(self, user_id: str, text: str, *, answered: bool) -> Sample:
        """Send one command; with `answered`, also wait for its response_url post."""
        timed = await self.fake.send_command_timed(user_id, text)
        sample = Sample(timed.sent_at, timed.ack_seconds)
        if not answered or timed.ack_seconds is None:
            return sample
        if self.answer_in_ack is not None:
            if self.answer_in_ack(timed.ack_payload):
                sample.answer = timed.ack_seconds
                return sample
            sample.deferred = True
        at = self._early.pop(timed.response_url, None)
        if at is None:
            waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            self._waiting[timed.response_url] = waiter
            try:
                at = await asyncio.wait_for(waiter, ANSWER_TIMEOUT_SECONDS)
            except TimeoutError:
                self._waiting.pop(timed.response_url, None)
                return sample
        sample.answer = at - timed.sent_at
        return sample


async def closed_loop(
    driver: Driver,
    next_command: NextCommand,
    *,
    concurrency: int,
    seconds: float,
    warmup: float,
    answered: bool,
    at_least: int = 0,
) -> RunStats:
    """`concurrency` workers send commands back to back for `warmup` + `seconds`; the
    figures count the last `seconds` only. When fewer than `at_least` commands finished in
    that window (a slow app), the window stretches until they have, up to
    CLOSED_LOOP_STRETCH times `seconds`."""
    samples: list[Sample] = []
    start = time.perf_counter()
    measure_from = start + warmup
    end = measure_from + seconds
    latest_end = measure_from + seconds * CLOSED_LOOP_STRETCH
    finished_in_window = 0
    stop_at: float | None = None

    async def worker() -> None:
        nonlocal finished_in_window, stop_at
        while stop_at is None:
            user_id, text = next_command()
            sample = await driver.command(user_id, text, answered=answered)
            samples.append(sample)
            now = time.perf_counter()
            if stop_at is None and now >= measure_from:
                finished_in_window += 1
            if (
                stop_at is None
                and now >= end
                and (finished_in_window >= at_least or now >= latest_end)
            ):
                stop_at = now

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    assert stop_at is not None
    return _stats(
        "closed", samples, measure_from, stop_at, answered, concurrency=concurrency, rate=None
    )


async def open_loop(
    driver: Driver,
    next_command: NextCommand,
    *,
    rate: float,
    seconds: float,
    warmup: float,
    answered: bool,
) -> RunStats:
    """Send `rate` commands a second for `warmup` + `seconds`, each on its own task, and
    wait for every one (its ack, and with `answered` its answer); the figures count the
    commands sent in the last `seconds`."""
    if rate <= 0:
        raise ValueError("the open loop's rate must be positive")
    samples: list[Sample] = []
    tasks: set[asyncio.Task[None]] = set()
    lag = 0.0
    start = time.perf_counter()
    measure_from = start + warmup
    end = measure_from + seconds
    sent = 0

    async def one(user_id: str, text: str) -> None:
        samples.append(await driver.command(user_id, text, answered=answered))

    while (now := time.perf_counter()) < end:
        due = math.floor((now - start) * rate) + 1
        while sent < due:
            lag = max(lag, now - (start + sent / rate))
            user_id, text = next_command()
            task = asyncio.create_task(one(user_id, text))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
        await asyncio.sleep(OPEN_LOOP_TICK_SECONDS)
    if tasks:
        await asyncio.gather(*tasks)
    stats = _stats("open", samples, measure_from, end, answered, concurrency=None, rate=rate)
    stats.send_lag_max_ms = round(lag * 1000, 2)
    return stats


def _stats(
    mode: str,
    samples: list[Sample],
    measure_from: float,
    end: float,
    answered: bool,
    *,
    concurrency: int | None,
    rate: float | None,
) -> RunStats:
    """The figures over the window [measure_from, end). A closed loop counts the commands
    that finished in it (acknowledged, or for `answered` runs answered, or given up on); an
    open loop, those sent in it. A command without an ack (or answer) counts in the
    percentiles as taking its whole time-out, so a p99 at the time-out means "at least"."""
    seconds = end - measure_from
    ack_limit, answer_limit = ACK_TIMEOUT_SECONDS, ANSWER_TIMEOUT_SECONDS

    def finished(s: Sample) -> float:
        if s.ack is None:
            return s.sent_at + ack_limit
        if answered:
            return s.sent_at + (s.answer if s.answer is not None else s.ack + answer_limit)
        return s.sent_at + s.ack

    if mode == "open":
        window = [s for s in samples if measure_from <= s.sent_at < end]
    else:
        window = [s for s in samples if measure_from <= finished(s) < end]
    acks = sorted(ack_limit if s.ack is None else s.ack for s in window)
    # Throughput counts what finished inside the window, wherever it was sent from.
    acked_in = sum(
        1 for s in samples if s.ack is not None and measure_from <= s.sent_at + s.ack < end
    )
    timeouts = sum(1 for s in window if s.ack is None)
    stats = RunStats(
        mode=mode,
        concurrency=concurrency,
        rate=rate,
        seconds=round(seconds, 3),
        sent=len(window),
        acked=len(window) - timeouts,
        ack_timeouts=timeouts,
        acks_per_second=round(acked_in / seconds, 1),
        ack_p50_ms=_ms(percentile(acks, 0.50)),
        ack_p99_ms=_ms(percentile(acks, 0.99)),
        ack_max_ms=_ms(acks[-1] if acks else None),
        total_sent=len(samples),
    )
    if answered:
        # A command with no ack got no answer either: it counts as the whole wait too.
        answers = sorted(s.answer if s.answer is not None else answer_limit for s in window)
        answered_in = sum(
            1
            for s in samples
            if s.answer is not None and measure_from <= s.sent_at + s.answer < end
        )
        stats.answered = sum(1 for s in window if s.answer is not None)
        stats.deferred = sum(1 for s in window if s.deferred)
        stats.answers_per_second = round(answered_in / seconds, 1)
        stats.answer_p50_ms = _ms(percentile(answers, 0.50))
        stats.answer_p99_ms = _ms(percentile(answers, 0.99))
    return stats


def percentile(ordered: list[float], q: float) -> float | None:
    """The nearest-rank `q` quantile (0 < q <= 1) of `ordered` (sorted), None when empty."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)
