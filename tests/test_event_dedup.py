"""Each envelope acts once: Slack's Events API retries (the same `event_id`, `retry_attempt`
1 to 3) are acknowledged and not acted on again, also after a restart on the same database;
an `envelope_id` delivered again (a slash command, a click) is acknowledged empty and not
acted on. The real app over the fake Slack, a real SQLite file."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from conftest import RunningApp, find_link, run_app

from bolt_app.home_tab import CONNECT_ACTION
from web.services import WebServices


def publishes(app: RunningApp, user_id: str) -> int:
    return sum(
        1
        for call in app.fake.state.api_calls
        if call.method == "views.publish" and call.args.get("user_id") == user_id
    )


def deduplicated(app: RunningApp, kind: str) -> float:
    assert app.site is not None
    services: WebServices = app.site.state.services
    registry = services.metrics.registry
    value = registry.get_sample_value(
        "account_binding_envelopes_deduplicated_total", {"type": kind}
    )
    return value or 0.0


def recorded(app: RunningApp, event_id: str) -> bool:
    return app.query("SELECT 1 FROM slack_events WHERE event_id = ?", (event_id,)) == [(1,)]


async def home_opened(app: RunningApp, user_id: str, event_id: str, retry: int | None) -> None:
    """`user_id` opens the Home tab (delivery `event_id`, `retry` its retry_attempt)."""
    event = app.fake.app_home_opened_event(user_id)
    outcome = await app.fake.send_event(event, event_id=event_id, retry_attempt=retry)
    assert outcome.acked and not outcome.ack_payload


async def after_one_more_opening(app: RunningApp) -> None:
    """Another person opens the Home tab and it is published: whatever an earlier delivery
    set off (Bolt runs the listener after the acknowledgement) had its turn by then."""
    before = publishes(app, "U0ALAN")
    await home_opened(app, "U0ALAN", f"Ev0MARK{before}", None)
    await app.fake.wait_until(lambda: publishes(app, "U0ALAN") > before)


async def test_an_event_retried_by_slack_acts_once(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bolt_app")
    app = running_app
    await home_opened(app, "U0ADA", "Ev0ONCE", None)
    await app.fake.wait_until(lambda: publishes(app, "U0ADA") == 1)
    assert recorded(app, "Ev0ONCE")
    for attempt in (1, 2, 3):
        await home_opened(app, "U0ADA", "Ev0ONCE", attempt)
    await after_one_more_opening(app)
    assert publishes(app, "U0ADA") == 1
    assert caplog.text.count("Got event Ev0ONCE again") == 3
    assert deduplicated(app, "events_api") == 3
    # Another opening by the same person is another event: it publishes.
    await home_opened(app, "U0ADA", "Ev0TWICE", None)
    await app.fake.wait_until(lambda: publishes(app, "U0ADA") == 2)


async def test_an_event_and_its_retry_at_the_same_moment_act_once(
    running_app: RunningApp,
) -> None:
    """Slack's first retry can cross the first delivery's late acknowledgement."""
    app = running_app
    await asyncio.gather(
        home_opened(app, "U0ADA", "Ev0RACE", None), home_opened(app, "U0ADA", "Ev0RACE", 1)
    )
    await after_one_more_opening(app)
    assert publishes(app, "U0ADA") == 1


async def test_a_retry_after_a_restart_on_the_same_database_acts_once(tmp_path: Path) -> None:
    async with run_app(tmp_path) as app:
        await home_opened(app, "U0ADA", "Ev0RESTART", None)
        await app.fake.wait_until(lambda: publishes(app, "U0ADA") == 1)
    async with run_app(tmp_path) as app:  # a new process, a new fake Slack: same database
        await home_opened(app, "U0ADA", "Ev0RESTART", 1)
        await after_one_more_opening(app)
        assert publishes(app, "U0ADA") == 0
        assert deduplicated(app, "events_api") == 1


async def test_a_retry_of_a_delivery_that_was_never_handled_acts(
    running_app: RunningApp,
) -> None:
    """The first delivery was lost (the process stopped, the connection dropped before the
    acknowledgement): nothing was recorded, so Slack's retry is handled."""
    app = running_app
    await home_opened(app, "U0ADA", "Ev0LOST", 1)
    await app.fake.wait_until(lambda: publishes(app, "U0ADA") == 1)
    assert recorded(app, "Ev0LOST")


async def test_an_event_no_listener_took_is_not_recorded_and_its_retry_is_handled(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bolt_app")
    app = running_app
    event = {"type": "member_joined_channel", "user": "U0ADA", "channel": "C0GENERAL"}
    for attempt in (None, 1):
        outcome = await app.fake.send_event(event, event_id="Ev0NOBODY", retry_attempt=attempt)
        assert outcome.acked
    assert caplog.text.count("no listener handles") == 2
    assert not recorded(app, "Ev0NOBODY")
    assert deduplicated(app, "events_api") == 0


async def test_a_repeated_envelope_id_for_a_slash_command_gets_one_answer(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bolt_app")
    app = running_app
    first = await app.fake.send_slash_command("U0ADA", "link")
    assert first.acked and first.ack_payload and find_link(app.fake.ephemerals("U0ADA"))
    shown = len(app.fake.messages_for("U0ADA"))
    again = await app.fake.redeliver(first.envelope_id)
    assert again.acked and not again.ack_payload
    assert len(app.fake.messages_for("U0ADA")) == shown
    assert app.query("SELECT count(*) FROM binding_requests") == [(1,)]
    assert deduplicated(app, "slash_commands") == 1
    assert "Got envelope again (an envelope of type slash_commands)" in caplog.text
    # The next command, a new envelope, is answered.
    assert "whoami" in (await app.command("U0ADA", "help"))[0].text


async def test_a_repeated_envelope_id_for_a_click_acts_once(running_app: RunningApp) -> None:
    app = running_app
    await home_opened(app, "U0ADA", "Ev0HOME", None)
    await app.fake.wait_until(lambda: app.fake.home_view("U0ADA") is not None)
    click = await app.fake.click_home("U0ADA", CONNECT_ACTION)
    await app.fake.wait_until(lambda: len(app.fake.dms("U0ADA")) == 1)
    again = await app.fake.redeliver(click.envelope_id)
    assert again.acked and not again.ack_payload
    await after_one_more_opening(app)
    assert len(app.fake.dms("U0ADA")) == 1
    assert app.query("SELECT count(*) FROM binding_requests") == [(1,)]
    assert deduplicated(app, "interactive") == 1


# Issue 11, review: the window's memory does not grow with the IDs' length


def test_long_envelope_ids_are_remembered_by_digest_and_still_caught() -> None:
    """Slack's envelope IDs are UUIDs; a sender's megabyte-long ones must not be kept as
    they are (10,000 of them would hold gigabytes for the window), yet a repeat of one is
    still dropped."""
    from bolt_app.redelivery import MAX_KEY_LENGTH, Redeliveries

    redeliveries = Redeliveries()
    long_ids = [f"{n:04d}" + "x" * 1_000_000 for n in range(20)]
    assert not any(redeliveries.repeated_envelope(envelope_id) for envelope_id in long_ids)
    assert all(redeliveries.repeated_envelope(envelope_id) for envelope_id in long_ids)
    uuid_like = "2f8a3c4e-9b1d-4e7f-a6c2-5d0e8f1b3a79"
    assert not redeliveries.repeated_envelope(uuid_like)
    assert redeliveries.repeated_envelope(uuid_like)
    remembered = list(redeliveries._envelopes._seen)
    assert uuid_like in remembered  # a Slack-shaped ID is kept as it is
    assert max(len(key) for key in remembered) <= MAX_KEY_LENGTH + len("sha256:")
