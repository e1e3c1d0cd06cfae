"""The confirmation DMs' outbox (issue 11): written in the same transaction as the change,
sent by a background task at least once, retried while Slack refuses for a while, dropped
with a log line when Slack refuses for good or for longer than OUTBOX_MAX_AGE, sent after a
restart, and sent once by one of several senders sharing the database.

The real app against the fake Slack (faults injected there), or the real sender, store and
Slack client against the fake Slack, with the sender's clock moved on instead of waiting
where a test is about time passing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import RunningApp, hidden_fields, login, run_app

from account_binding.accounts import AccountService
from account_binding.errors import AlreadyBound, StoreBusy
from account_binding.models import Binding, SlackIdentity, SlackProfile
from account_binding.outbox import NoticeKind
from account_binding.sqlite_store import SQLiteStore
from account_binding.tokens import digest
from bolt_app.app import build_web_client
from bolt_app.outbox_sender import Backoff, OutboxSender, Outcome
from fake_slack import FakeSlack
from monitoring.metrics import Metrics

TOKEN = "xoxb-test-bot-token"
BOUND = "Your Slack account is now connected to Acme as ada."


class Clock:
    """The sender's clock (Unix seconds), moved on by the test. It starts a second ahead:
    the store stamps rows in whole seconds of the wall clock."""

    def __init__(self) -> None:
        self.now = time.time() + 1

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(bot_token=TOKEN, app_token="xapp-test-app-token")
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    await store.open()
    yield store
    await store.close()


def ada() -> SlackIdentity:
    return SlackIdentity.from_ids(team_id="T0SANDBOX", user_id="U0ADA", enterprise_id=None)


async def bind(store: SQLiteStore, nonce: str = "nonce") -> Binding:
    """Bind ada (made if need be) to U0ADA as `BindingService.confirm` does: the outbox row
    written by the binding's own transaction."""
    users = await store.list_users()
    user = next((u for u in users if u.username == "ada"), None)
    if user is None:
        user = await AccountService(store).add_user("ada", "ada@example.com", "a long password!")
    now = int(time.time())
    await store.add_binding_request(
        digest(nonce), ada(), SlackProfile("ada", "sandbox"), now, now + 600
    )
    return await store.complete_binding(
        digest(nonce), user.id, now, None, None, notice=NoticeKind.BOUND
    )


def sender_for(
    store: SQLiteStore,
    fake: FakeSlack,
    *,
    clock: Clock | None = None,
    metrics: Metrics | None = None,
    max_age: float = 3600.0,
    lease: float | None = None,
) -> OutboxSender:
    client = build_web_client(TOKEN, fake.api_url, timeout_seconds=2.0, metrics=metrics)
    return OutboxSender(
        store,
        client,
        "Acme",
        max_age_seconds=max_age,
        metrics=metrics,
        attempt_seconds=2.0,
        backoff=Backoff(first=10.0, cap=10.0),
        lease_seconds=lease,
        clock=clock or time.time,
    )


def outcomes(done: list[tuple[object, Outcome]]) -> list[Outcome]:
    return [outcome for _, outcome in done]


def rows(
    path: Path, sql: str = "SELECT kind, slack_user_id, facts FROM outbox"
) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


async def connect(app: RunningApp, username: str, slack_user: str) -> None:
    """Press Connect on `slack_user`'s link as `username` (made first), without waiting for
    what comes after."""
    await app.add_user(username)
    url = await app.link_for(slack_user)
    browser = app.browser()
    await browser.get(urlsplit(url).path)
    await login(browser, username, next_path="/bind")
    page = await browser.get("/bind")
    done = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
    assert done.status_code == 200, done.text


def bound_dms(fake: FakeSlack) -> list[str]:
    return [m.text for m in fake.dms("U0ADA") if "now connected" in m.text]


# written with the change, in its transaction


async def test_the_bind_writes_facts_not_a_message_and_the_sender_empties_the_outbox(
    running_app: RunningApp,
) -> None:
    app = running_app
    with sqlite3.connect(app.settings.database) as db:
        db.executescript(
            "CREATE TABLE seen AS SELECT * FROM outbox WHERE 0; CREATE TRIGGER keep AFTER "
            "INSERT ON outbox BEGIN INSERT INTO seen SELECT * FROM outbox WHERE id = NEW.id; END"
        )

    await app.bind("ada", "U0ADA")

    await app.fake.wait_until(lambda: bool(bound_dms(app.fake)))
    [(kind, user, facts)] = app.query("SELECT kind, slack_user_id, facts FROM seen")
    assert (kind, user, json.loads(str(facts))) == ("bound", "U0ADA", {"username": "ada"})
    await eventually(outbox_empty(app.settings.database), 5.0)  # deleted once Slack took it


async def test_a_bind_whose_transaction_fails_writes_no_outbox_row(store: SQLiteStore) -> None:
    """The row is written inside the binding's transaction: when that transaction fails after
    writing it (here the outbox insert itself fails, after the binding's insert), neither the
    binding nor the row remains, and the link is still unused; a refused bind (AlreadyBound)
    writes none either."""
    with sqlite3.connect(store.path) as db:
        db.execute(
            "CREATE TRIGGER fail AFTER INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'injected'); END"
        )
    with pytest.raises(sqlite3.IntegrityError):
        await bind(store)
    assert rows(store.path, "SELECT count(*) FROM bindings") == [(0,)]
    assert rows(store.path, "SELECT count(*) FROM outbox") == [(0,)]
    assert rows(store.path, "SELECT count(*) FROM binding_requests WHERE used_at IS NULL") == [(1,)]

    with sqlite3.connect(store.path) as db:
        db.execute("DROP TRIGGER fail")
    await bind(store, "another")
    assert rows(store.path, "SELECT count(*) FROM outbox") == [(1,)]
    with pytest.raises(AlreadyBound):
        await bind(store, "a third")
    assert rows(store.path, "SELECT count(*) FROM outbox") == [(1,)]


# sent at once, and again while Slack refuses for a while


async def test_a_rate_limited_dm_arrives_once_after_retry_after(running_app: RunningApp) -> None:
    app = running_app
    app.fake.fail("chat.postMessage", "ratelimited", retry_after=1)

    await connect(app, "ada", "U0ADA")

    await app.fake.wait_until(lambda: bool(bound_dms(app.fake)), 15.0)
    first, second = [c.at for c in app.fake.state.api_calls if c.method == "chat.postMessage"]
    assert second - first >= 1.0
    assert bound_dms(app.fake) == [BOUND]
    await eventually(outbox_empty(app.settings.database), 5.0)


async def test_a_dm_arrives_once_after_two_5xx(running_app: RunningApp) -> None:
    app = running_app
    app.fake.fail("chat.postMessage", "internal_error", times=2, status=500)

    await connect(app, "ada", "U0ADA")

    await app.fake.wait_until(lambda: bool(bound_dms(app.fake)), 15.0)
    assert len([c for c in app.fake.state.api_calls if c.method == "chat.postMessage"]) == 3
    assert bound_dms(app.fake) == [BOUND]
    assert app.site is not None  # the site's metrics counted each failed attempt
    metrics = app.site.state.services.metrics
    assert (
        metrics.registry.get_sample_value(
            "account_binding_slack_api_errors_total",
            {"method": "chat.postMessage", "error": "http_5xx"},
        )
        == 2
    )


async def test_a_dm_slower_than_slack_api_timeout_is_sent_again(tmp_path: Path) -> None:
    async with run_app(tmp_path, SLACK_API_TIMEOUT="1") as app:
        app.fake.slow("chat.postMessage", 3.0)

        await connect(app, "ada", "U0ADA")

        await app.fake.wait_until(lambda: bool(bound_dms(app.fake)), 15.0)
        assert len([c for c in app.fake.state.api_calls if c.method == "chat.postMessage"]) == 2
        assert bound_dms(app.fake) == [BOUND]


async def test_a_written_row_wakes_the_sender_at_once(store: SQLiteStore, fake: FakeSlack) -> None:
    """The store wakes the sender after the transaction: with its timer an hour off, the DM
    still leaves at once."""
    client = build_web_client(TOKEN, fake.api_url)
    sender = OutboxSender(store, client, "Acme", max_age_seconds=3600, poll_seconds=3600)
    store.watch_outbox(sender.wake)
    running = asyncio.create_task(sender.run())
    try:
        await eventually(lambda: sender.passes >= 1)  # idle now, with nothing due
        await bind(store)
        await fake.wait_until(lambda: bool(bound_dms(fake)), 10.0)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_a_retry_after_longer_than_an_attempt_is_waited_out_by_the_outbox(
    store: SQLiteStore, fake: FakeSlack
) -> None:
    """Slack asks to wait 30 s, longer than one attempt may: the client gives up at once,
    and the row is not tried again before Slack's Retry-After, whatever its backoff says."""
    clock = Clock()
    sender = sender_for(store, fake, clock=clock)
    fake.fail("chat.postMessage", "ratelimited", retry_after=30)
    await bind(store)

    assert outcomes(await sender.send_due()) == ["retrying"]
    clock.now += 20  # past the backoff (10 s, and at most a quarter more), not Retry-After
    assert outcomes(await sender.send_due()) == []
    clock.now += 11
    assert outcomes(await sender.send_due()) == ["sent"]
    assert bound_dms(fake) == [BOUND]


async def test_the_sender_backs_off_and_retries_until_slack_takes_it(
    store: SQLiteStore, fake: FakeSlack
) -> None:
    clock, metrics = Clock(), Metrics()
    sender = sender_for(store, fake, clock=clock, metrics=metrics)
    metrics.watch_outbox(lambda: sender.depth)
    fake.fail("chat.postMessage", "service_unavailable", times=3, status=503)
    await bind(store)

    assert outcomes(await sender.send_due()) == ["retrying"]  # two calls: the client retried
    assert metrics.registry.get_sample_value("account_binding_outbox_depth") == 1
    assert outcomes(await sender.send_due()) == []  # not due yet: the backoff
    clock.now += 13  # 10 s, and at most a quarter more

    assert outcomes(await sender.send_due()) == ["sent"]
    assert bound_dms(fake) == [BOUND]
    assert metrics.registry.get_sample_value("account_binding_outbox_depth") == 0


async def test_a_dm_slack_sits_on_holds_up_no_other(tmp_path: Path) -> None:
    """Head-of-line: while Slack sits on Ada's DM (its request answered only when the test
    lets it go; SLACK_API_TIMEOUT well past the wait), Grace binds, and her DM leaves at once in
    a free slot, not after Ada's attempt ends (OUTBOX_ATTEMPT_SECONDS, 30 s)."""
    async with run_app(tmp_path, SLACK_API_TIMEOUT="60") as app:
        await app.add_user("ada")
        browser, page = await app.open_link_as("ada", await app.link_for("U0ADA"))
        held = app.fake.hold("chat.postMessage")
        try:
            connected = await browser.post(
                "/bind", data={**hidden_fields(page), "action": "connect"}
            )
            assert connected.status_code == 200, connected.text
            await asyncio.wait_for(held.arrived.wait(), 10.0)  # Ada's DM, held by Slack

            await connect(app, "grace", "U0GRACE")

            await app.fake.wait_for_message(
                lambda m: m.where == "dm" and m.user_id == "U0GRACE", 20.0
            )
            assert app.fake.dms("U0ADA") == []  # still held: the one request, unanswered
            ada = [c for c in app.fake.state.api_calls if c.method == "chat.postMessage"]
            assert len([c for c in ada if c.args.get("channel") == "U0ADA"]) == 1
        finally:
            held.release()
        await app.fake.wait_until(lambda: bool(app.fake.dms("U0ADA")), 10.0)


# dropped, with a log line


async def test_slack_down_past_outbox_max_age_drops_the_dm_with_a_warning(
    store: SQLiteStore, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    sender = sender_for(store, fake, clock=clock, max_age=30.0)
    fake.fail("chat.postMessage", "service_unavailable", times=100, status=503)
    binding = await bind(store)

    assert outcomes(await sender.send_due()) == ["retrying"]
    clock.now += 13
    assert outcomes(await sender.send_due()) == ["retrying"]
    clock.now += 13  # its next retry would come after OUTBOX_MAX_AGE

    assert outcomes(await sender.send_due()) == ["dropped"]

    assert rows(store.path, "SELECT count(*) FROM outbox") == [(0,)]
    assert fake.dms("U0ADA") == []
    [line] = [r for r in caplog.records if "OUTBOX_MAX_AGE" in r.getMessage()]
    assert line.levelname == "WARNING"
    text = line.getMessage()
    assert f"about binding {binding.id}" in text and "the bound DM" in text
    assert "service_unavailable" in text and TOKEN not in text


async def test_a_dm_found_older_than_outbox_max_age_is_dropped_unsent(
    store: SQLiteStore, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack refused once; then nothing ran for longer than OUTBOX_MAX_AGE (the app was
    stopped): the DM, stale now, is dropped with the WARNING rather than sent."""
    clock = Clock()
    sender = sender_for(store, fake, clock=clock, max_age=30.0)
    fake.fail("chat.postMessage", "service_unavailable", times=2, status=503)
    await bind(store)
    assert outcomes(await sender.send_due()) == ["retrying"]
    calls = len(fake.state.api_calls)
    clock.now += 60

    assert outcomes(await sender.send_due()) == ["dropped"]

    assert len(fake.state.api_calls) == calls and fake.dms("U0ADA") == []
    assert rows(store.path, "SELECT count(*) FROM outbox") == [(0,)]
    [line] = [r for r in caplog.records if "OUTBOX_MAX_AGE" in r.getMessage()]
    assert line.levelname == "WARNING" and "the bound DM" in line.getMessage()


@pytest.mark.parametrize(
    ("error", "hint"),
    [("channel_not_found", ""), ("invalid_auth", "check SLACK_BOT_TOKEN")],
)
async def test_a_permanent_error_drops_the_dm_at_once_with_a_log_line(
    store: SQLiteStore, fake: FakeSlack, caplog: pytest.LogCaptureFixture, error: str, hint: str
) -> None:
    sender = sender_for(store, fake)
    fake.fail("chat.postMessage", error)
    await bind(store)

    assert outcomes(await sender.send_due()) == ["dropped"]

    assert rows(store.path, "SELECT count(*) FROM outbox") == [(0,)]
    assert len([c for c in fake.state.api_calls if c.method == "chat.postMessage"]) == 1
    [line] = [r for r in caplog.records if "Could not DM Slack user U0ADA" in r.getMessage()]
    assert line.levelname == "WARNING" and error in line.getMessage()
    assert hint in line.getMessage()


# restarts and crashes


async def test_a_dm_left_unsent_is_sent_after_a_restart(tmp_path: Path) -> None:
    """Slack refuses while the app binds; the app stops with the DM unsent; the app started
    again on the same database sends it."""
    async with run_app(tmp_path) as app:
        app.fake.fail("chat.postMessage", "service_unavailable", times=1000, status=503)
        await connect(app, "ada", "U0ADA")
        await eventually(posted(app.fake))
    assert rows(tmp_path / "app.sqlite3", "SELECT kind, slack_user_id FROM outbox") == [
        ("bound", "U0ADA")
    ]

    async with run_app(tmp_path) as again:
        await again.fake.wait_until(lambda: bool(bound_dms(again.fake)), 15.0)
        assert bound_dms(again.fake) == [BOUND]
        await eventually(outbox_empty(tmp_path / "app.sqlite3"), 5.0)


async def test_a_crash_right_after_slack_took_the_dm_sends_it_once_more(
    store: SQLiteStore, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """chat.postMessage has no idempotency key: when the sender cannot mark a DM sent after
    Slack took it (here the delete fails, as if the process died in that instant), the row
    keeps its lease and is sent again once the lease ends. The person gets that DM twice,
    never none."""
    with sqlite3.connect(store.path) as db:
        db.execute(
            "CREATE TRIGGER crash BEFORE DELETE ON outbox "
            "BEGIN SELECT RAISE(ABORT, 'the process died here'); END"
        )
    sender = sender_for(store, fake, lease=1.0)
    await bind(store)

    assert outcomes(await sender.send_due()) == ["unmarked"]
    assert bound_dms(fake) == [BOUND]
    assert "could not mark it sent" in caplog.text

    with sqlite3.connect(store.path) as db:
        db.execute("DROP TRIGGER crash")
    running = asyncio.create_task(sender.run())  # as the restarted process: after the lease
    try:
        await fake.wait_until(lambda: len(bound_dms(fake)) == 2, 10.0)
        await eventually(outbox_empty(store.path), 5.0)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert bound_dms(fake) == [BOUND, BOUND]


async def eventually(check: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait until `check()` holds (what it checks has no event to wait on)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("not within the time allowed")
        await asyncio.sleep(0.02)


def outbox_empty(path: Path) -> Callable[[], bool]:
    return lambda: rows(path, "SELECT count(*) FROM outbox") == [(0,)]


def posted(fake: FakeSlack) -> Callable[[], bool]:
    """Whether chat.postMessage has been called (the fake records calls as they arrive)."""
    return lambda: any(c.method == "chat.postMessage" for c in fake.state.api_calls)


async def test_two_senders_sharing_the_database_send_a_dm_once(
    store: SQLiteStore, fake: FakeSlack
) -> None:
    """A second process's sender finds the row leased while the first sends it."""
    other_store = SQLiteStore(store.path)
    await other_store.open()
    try:
        first, second = sender_for(store, fake), sender_for(other_store, fake)
        fake.slow("chat.postMessage", 1.0)
        await bind(store)
        sending = asyncio.create_task(first.send_due())
        await eventually(posted(fake), 5.0)  # the first is sending it

        assert outcomes(await second.send_due()) == []

        assert outcomes(await sending) == ["sent"]
        assert bound_dms(fake) == [BOUND]
    finally:
        await other_store.close()


# Issue 11, review: a database another process holds locked is said in one line


async def test_a_locked_database_is_logged_in_one_line_without_a_traceback(
    store: SQLiteStore, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """The store's own busy timeout ran out (another process held the write lock): an
    expected condition, logged as one WARNING, and the sender goes on."""

    class HeldByAnother(SQLiteStore):
        refusals = 1

        async def claim_outbox(self, *args: Any, **kwargs: Any) -> Any:
            if self.refusals:
                self.refusals -= 1
                raise StoreBusy()
            return await super().claim_outbox(*args, **kwargs)

    held = HeldByAnother(store.path)
    await held.open()
    client = build_web_client(TOKEN, fake.api_url)
    sender = OutboxSender(held, client, "Acme", max_age_seconds=3600, poll_seconds=0.05)
    running = asyncio.create_task(sender.run())
    try:
        with caplog.at_level("WARNING", logger="bolt_app.outbox_sender"):
            await eventually(lambda: sender.passes >= 1)
        records = [r for r in caplog.records if r.name == "bolt_app.outbox_sender"]
        assert [r.levelname for r in records] == ["WARNING"], records
        assert "locked by another process" in records[0].getMessage()
        assert records[0].exc_info is None
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await held.close()


# A stop that comes as the sender is woken ends it (the site's shutdown awaits it)


async def test_a_cancel_that_comes_as_the_sender_is_woken_still_ends_it(
    store: SQLiteStore, fake: FakeSlack
) -> None:
    """Python 3.11's asyncio.wait_for returns the inner result when a cancellation arrives
    as the awaited event is set, losing the cancellation: the sender's loop then never
    ended and the site's shutdown hung after a burst of DMs. Both happen in one turn here."""
    client = build_web_client(TOKEN, fake.api_url)
    sender = OutboxSender(store, client, "Acme", max_age_seconds=3600, poll_seconds=3600)
    running = asyncio.create_task(sender.run())
    await eventually(lambda: sender.passes >= 1)  # idle, waiting to be woken
    await asyncio.sleep(0)
    sender.wake()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(running, 5)
