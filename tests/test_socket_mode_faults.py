"""Socket Mode keeps working through Slack's disconnect messages and the network's faults.

Each fault is injected through the fake Slack (its "Socket Mode faults"): `disconnect` with
reason `warning`, `refresh_requested` or `link_disabled`; a connection dropped abruptly; a
half-open connection; `apps.connections.open` answering 429 or 5xx for a while. The app runs
with short timings (`bolt_app.socket_connection.TIMINGS`), so each test takes seconds.
Reconnect times are printed (`pytest -s`): from the fault to the new websocket's opening.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import RunningApp, find_link, run_app
from slack_sdk.web.async_client import AsyncWebClient

from bolt_app import socket_connection
from bolt_app.socket_connection import ResilientSocketModeClient, SocketTimings, backoff_delay
from fake_slack import FakeSlack
from fake_slack.server import CommandOutcome
from monitoring.connection import ConnectionState, State
from monitoring.metrics import Metrics
from web.services import WebServices

#: Short enough for tests of seconds, long enough that a busy machine stalling the event loop
#: for a moment is not taken for a half-open connection.
FAST = SocketTimings(
    ping_interval=0.2,
    receive_timeout=1.5,
    backoff_base=0.05,
    backoff_cap=0.4,
    open_timeout=3.0,
    close_timeout=0.3,
    drain=3.0,
)


@pytest.fixture
async def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunningApp]:
    monkeypatch.setattr(socket_connection, "TIMINGS", FAST)
    async with run_app(tmp_path) as running:
        await running.command("U0ALAN", "help")  # Bolt has met Slack (auth.test)
        yield running


def services(app: RunningApp) -> WebServices:
    assert app.site is not None
    services: WebServices = app.site.state.services
    return services


def connection(app: RunningApp) -> ConnectionState:
    return services(app).connection


def metrics(app: RunningApp) -> Metrics:
    return services(app).metrics


def reconnects(app: RunningApp) -> float | None:
    registry = metrics(app).registry
    return registry.get_sample_value("account_binding_socket_mode_reconnects_total")


def acks_timed(app: RunningApp, kind: str) -> float | None:
    registry = metrics(app).registry
    return registry.get_sample_value("account_binding_ack_seconds_count", {"type": kind})


async def state_is(app: RunningApp, wanted: State, seconds: float = 10.0) -> None:
    reached = asyncio.Event()
    connection(app).on_change(lambda state: reached.set() if state == wanted else None)
    await asyncio.wait_for(reached.wait(), seconds)


def history(app: RunningApp) -> list[State]:
    states: list[State] = []
    connection(app).on_change(states.append)
    return states


async def reconnected(app: RunningApp, sockets_before: int, fault_at: float, fault: str) -> float:
    """Wait for the next websocket and Slack's hello on it; the seconds since the fault."""
    opened = await app.fake.wait_for_socket(sockets_before + 1)
    await state_is(app, "connected")
    seconds = opened.opened - fault_at
    print(f"\nreconnect after {fault}: {seconds * 1000:.0f} ms")
    return seconds


PEOPLE = ("U0ADA", "U0GRACE", "U0ALAN")


async def burst(app: RunningApp, commands: int = 6, events: int = 2) -> list[CommandOutcome]:
    """`help` commands and `app_home_opened` events delivered at once; each outcome (every
    command answered in its acknowledgement)."""
    fake = app.fake
    sending = [fake.send_slash_command(PEOPLE[n % 3], "help") for n in range(commands)]
    sending += [fake.send_event(fake.app_home_opened_event(PEOPLE[n % 3])) for n in range(events)]
    outcomes = list(await asyncio.gather(*sending))
    for outcome in outcomes[:commands]:
        assert outcome.ack_payload and "whoami" in outcome.ack_payload["text"], outcome
    return outcomes


def each_acknowledged_once(fake: FakeSlack, outcomes: list[CommandOutcome]) -> None:
    acks = Counter(fake.state.acks)
    twice = [envelope for envelope, times in acks.items() if times > 1]
    assert not twice, f"acknowledged more than once: {twice}"
    lost = [o.envelope_id for o in outcomes if not o.acked or acks[o.envelope_id] != 1]
    assert not lost, f"not acknowledged: {lost}"


async def serves_the_next_command(app: RunningApp) -> None:
    assert find_link(await app.command("U0GRACE", "link"))
    timed = acks_timed(app, "slash_commands") or 0
    each_acknowledged_once(app.fake, await burst(app))
    assert acks_timed(app, "slash_commands") == timed + 6  # each ack's latency recorded


async def test_a_disconnect_warning_opens_the_new_connection_before_the_old_one_closes(
    app: RunningApp,
) -> None:
    fake = app.fake
    old = fake.socket_serials[0]
    before = len(fake.state.sockets)
    states = history(app)
    warned_at = time.monotonic()
    await fake.send_disconnect("warning", close_after=None)  # Slack closes it ~10 s later
    await reconnected(app, before, warned_at, "disconnect warning")
    assert fake.state.sockets[old - 1].closed is None, "the old connection went first"
    assert states[-2:] == ["reconnecting", "connected"]
    # Slack may still deliver on the old connection: read, handled, acknowledged once.
    with fake.delivering_on(old):
        on_old = await burst(app, commands=3, events=1)
        messages = await app.command("U0ADA", "help")
    assert "whoami" in messages[0].text
    each_acknowledged_once(fake, on_old)
    # Slack never closed it: the app does, once `drain` has passed.
    await fake.wait_for_socket_closed(old)
    assert fake.socket_serials == [before + 1]
    await serves_the_next_command(app)
    assert reconnects(app) == 1


async def test_envelopes_during_the_switch_are_each_acknowledged_once(app: RunningApp) -> None:
    """Commands keep coming while the app replaces its connection (Slack spreads them over
    both): none is lost, none acknowledged twice."""
    fake = app.fake
    before = len(fake.state.sockets)
    warned_at = time.monotonic()
    await fake.send_disconnect("warning", close_after=0.5)
    during = await burst(app, commands=8, events=2)
    await reconnected(app, before, warned_at, "disconnect warning, commands meanwhile")
    during += await burst(app, commands=8, events=2)
    await fake.wait_for_socket_closed(before)
    during += await burst(app, commands=8, events=2)
    each_acknowledged_once(fake, during)


async def test_refresh_requested_reconnects_and_serves_the_next_command(app: RunningApp) -> None:
    fake = app.fake
    before = len(fake.state.sockets)
    asked_at = time.monotonic()
    await fake.send_disconnect("refresh_requested", close_after=0.0)
    await reconnected(app, before, asked_at, "refresh_requested")
    await serves_the_next_command(app)
    assert fake.open_connections == 1
    assert reconnects(app) == 1


async def test_an_abrupt_drop_reconnects_and_serves_the_next_command(
    app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    fake = app.fake
    before = len(fake.state.sockets)
    states = history(app)
    dropped_at = time.monotonic()
    fake.drop_connections()
    await reconnected(app, before, dropped_at, "abrupt drop")
    assert "reconnecting" in states
    assert "The Socket Mode connection closed; opening a new one" in caplog.text
    await serves_the_next_command(app)
    assert reconnects(app) == 1


async def test_a_half_open_connection_is_noticed_and_replaced(
    app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    """The socket stays open, but no pong, no acknowledgement comes through: the app's
    pings go unanswered, and past `receive_timeout` it replaces the connection."""
    fake = app.fake
    before = len(fake.state.sockets)
    silent_at = time.monotonic()
    fake.go_half_open()
    seconds = await reconnected(app, before, silent_at, "half-open connection")
    # Noticed by the missing pongs, not a close: the last pong came at most a ping before.
    assert seconds >= FAST.receive_timeout - FAST.ping_interval
    assert "the Socket Mode connection is half-open; replacing it" in caplog.text
    await serves_the_next_command(app)
    await fake.wait_for_socket_closed(before)  # the app gave up on the silent one
    assert reconnects(app) == 1


async def test_a_rate_limited_apps_connections_open_is_retried_after_retry_after(
    app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    fake = app.fake
    fake.fail("apps.connections.open", "ratelimited", times=2, retry_after=1)
    calls_before = len(opens(fake))
    before = len(fake.state.sockets)
    dropped_at = time.monotonic()
    fake.drop_connections()
    await reconnected(app, before, dropped_at, "drop, then 429 twice (Retry-After 1)")
    calls = opens(fake)[calls_before:]
    assert len(calls) == 3
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert all(gap >= 0.95 for gap in gaps), gaps  # Retry-After waited out, not the backoff
    assert "rate limited (HTTP 429, Retry-After 1s)" in caplog.text
    await serves_the_next_command(app)


async def test_an_outage_of_apps_connections_open_is_retried_with_growing_backoff(
    app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    fake = app.fake
    fake.fail("apps.connections.open", "internal_error", times=2, status=500)
    fake.fail("apps.connections.open", "service_unavailable", times=2, status=503)
    calls_before = len(opens(fake))
    before = len(fake.state.sockets)
    states = history(app)
    dropped_at = time.monotonic()
    fake.drop_connections()
    await reconnected(app, before, dropped_at, "drop, then 5xx four times")
    calls = opens(fake)[calls_before:]
    assert len(calls) == 5
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    # Equal jitter: retry n waits at least half of base * 2**n.
    floors = [FAST.backoff_base * 2**n / 2 for n in range(4)]
    assert all(gap >= floor for gap, floor in zip(gaps, floors, strict=True)), gaps
    assert "Could not open a Socket Mode connection (HTTP 503, service_unavailable)" in caplog.text
    assert states.count("connected") == 2 and "reconnecting" in states
    await serves_the_next_command(app)
    assert reconnects(app) == 1


async def test_link_disabled_stops_reconnecting_says_what_to_do_and_stays_up(
    app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    fake = app.fake
    calls_before = len(opens(fake))
    await fake.send_disconnect("link_disabled", close_after=0.0)
    await state_is(app, "link_disabled")
    assert not connection(app).serving
    # Several backoff periods later, still no new connection asked for.
    await asyncio.sleep(10 * FAST.backoff_cap)
    assert len(opens(fake)) == calls_before
    assert fake.open_connections == 0
    assert connection(app).state == "link_disabled"
    said = [r for r in caplog.records if r.levelno == logging.ERROR and "link_disabled" in r.msg]
    assert len(said) == 1
    assert "https://api.slack.com/apps" in said[0].msg and "SLACK_APP_TOKEN" in said[0].msg
    # The process is up: the site answers.
    assert (await app.http.get("/healthz")).status_code == 200


async def test_a_fault_at_start_is_retried_until_slack_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """apps.connections.open failing when the app starts: it keeps trying, with backoff."""
    monkeypatch.setattr(socket_connection, "TIMINGS", FAST)
    original = FakeSlack.start

    async def failing_start(fake: FakeSlack) -> None:
        await original(fake)
        fake.fail("apps.connections.open", "ratelimited", retry_after=1)
        fake.fail("apps.connections.open", "internal_error", status=502)

    monkeypatch.setattr(FakeSlack, "start", failing_start)
    async with run_app(tmp_path) as app:
        assert len(opens(app.fake)) == 3
        await state_is(app, "connected")
        assert reconnects(app) == 0
        messages = await app.command("U0ADA", "help")
        assert "whoami" in messages[0].text


def test_backoff_is_capped_exponential_with_jitter() -> None:
    timings = SocketTimings(backoff_base=1.0, backoff_cap=60.0)
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (3, 8.0), (6, 60.0), (100, 60.0)]:
        delays = [backoff_delay(attempt, timings) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 100  # spread, so that many processes do not retry in step


def opens(fake: FakeSlack) -> list[float]:
    """When each apps.connections.open arrived."""
    return [call.at for call in fake.state.api_calls if call.method == "apps.connections.open"]


async def test_disconnect_closes_the_connection_and_opens_no_other_until_connect() -> None:
    """What a graceful stop uses: envelopes stop coming, and nothing reconnects."""
    fake = FakeSlack(app_token="xapp-1")
    await fake.start()
    states = ConnectionState()
    client = ResilientSocketModeClient(
        "xapp-1",
        web_client=AsyncWebClient(base_url=fake.api_url),
        timings=FAST,
        connection=states,
    )
    try:
        await client.connect()
        await fake.wait_for_socket(1)
        await client.disconnect()
        await fake.wait_for_socket_closed(1)
        await asyncio.sleep(10 * FAST.backoff_cap)  # no reconnect meanwhile
        assert len(fake.state.sockets) == 1 and fake.open_connections == 0
        await client.connect()
        await fake.wait_for_socket(2)
    finally:
        await client.close()
        await fake.stop()
    assert fake.open_connections == 0


# A flapping connection: Slack or the network ends each connection right after its hello.

#: Each connection counts as flapping (`healthy_after` outlasts the test); backoff small
#: enough for a test of seconds.
FLAPPING = SocketTimings(
    ping_interval=0.2,
    receive_timeout=1.5,
    backoff_base=0.2,
    backoff_cap=0.8,
    open_timeout=3.0,
    close_timeout=0.3,
    drain=0.3,
    healthy_after=60.0,
)


def most_opens(timings: SocketTimings, window: float) -> int:
    """The most apps.connections.open calls `window` seconds can hold when retry n waits at
    least its backoff floor, half of min(cap, base * 2**n) (`backoff_delay`), the first
    retry included: a bound from the backoff, not from how fast the app is."""
    waited = 0.0
    for n in itertools.count():  # n retries fit before retry n's wait ends past the window
        waited += min(timings.backoff_cap, timings.backoff_base * 2**n) / 2
        if waited > window:
            return n
    raise AssertionError("unreachable")


async def flap(fake: FakeSlack, how: str) -> None:
    """End every open connection as `how` says (Slack's `warning` leaves it open)."""
    if how == "drop":
        fake.drop_connections()
    elif how == "refresh_requested":
        await fake.send_disconnect("refresh_requested", close_after=0.0)
    else:
        await fake.send_disconnect("warning", close_after=None)


@pytest.mark.parametrize("how", ["drop", "refresh_requested", "warning"])
async def test_a_connection_ending_right_after_hello_is_replaced_with_backoff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    """Each new connection ended at once, for a while: the app opens the next ones no more
    often than the backoff allows (not a storm of apps.connections.open against Slack's rate
    limits), says so about once per retry at WARNING, and serves once it stops."""
    monkeypatch.setattr(socket_connection, "TIMINGS", FLAPPING)
    window = 2.5
    async with run_app(tmp_path) as app:
        fake = app.fake
        calls_before = len(opens(fake))
        caplog.clear()
        started = time.monotonic()
        while time.monotonic() < started + window:
            await flap(fake, how)
            await asyncio.sleep(0.01)  # the pace of the faults, not a wait for the app
        calls = [at for at in opens(fake)[calls_before:] if at <= started + window]
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        print(f"\n{how} every 10 ms for {window}s: {len(calls)} apps.connections.open")
        bound = most_opens(FLAPPING, window)
        assert 1 <= len(calls) <= bound, f"{len(calls)} opens in {window}s; backoff allows {bound}"
        assert len(warnings) <= bound + 1, [r.getMessage() for r in warnings]
        assert "less than 60s after Slack's hello" in caplog.text
        await state_is(app, "connected")
        messages = await app.command("U0ADA", "help")
        assert "whoami" in messages[0].text


async def test_a_refresh_after_a_healthy_connection_is_at_once_and_starts_the_count_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A few refreshes right after hello back off (2, then 3 in a row); once a connection
    stayed up `healthy_after`, Slack's `warning` is handled at once again, with overlap."""
    timings = SocketTimings(**{**FLAPPING.__dict__, "healthy_after": 3.0, "drain": 3.0})
    monkeypatch.setattr(socket_connection, "TIMINGS", timings)
    async with run_app(tmp_path) as app:
        fake = app.fake
        for _ in range(3):
            before = len(fake.state.sockets)
            await fake.send_disconnect("refresh_requested", close_after=0.0)
            await fake.wait_for_socket(before + 1)
            await state_is(app, "connected")
        assert "(3 in a row)" in caplog.text or "(2 in a row)" in caplog.text
        await asyncio.sleep(timings.healthy_after + 0.5)  # the connection stays up: healthy
        caplog.clear()
        old = fake.socket_serials[0]
        before = len(fake.state.sockets)
        await fake.send_disconnect("warning", close_after=None)
        await fake.wait_for_socket(before + 1)
        assert fake.state.sockets[old - 1].closed is None, "the old connection went first"
        assert "after Slack's hello" not in caplog.text, "a healthy connection was held back"
        await state_is(app, "connected")
        messages = await app.command("U0ADA", "help")
        assert "whoami" in messages[0].text
