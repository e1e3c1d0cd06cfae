"""Slack's 3-second acknowledgement never waits on slow work: a database another process
holds locked, a slow or rate-limited Slack. The real app, a real second SQLite connection."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import RunningApp, find_link, login, run_app, write_lock_held
from unbinding import unlink_question

from bolt_app.messages import DISCONNECT_ACTION
from fake_slack import Message

LOCK_SECONDS = 5.0


def from_response_url(user_id: str) -> object:
    return lambda m: m.user_id == user_id and m.source == "response_url"


async def test_a_link_asked_for_while_the_database_is_locked_still_arrives(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bolt_app")
    app = running_app
    await app.command("U0ALAN", "help")  # the app has met Slack (auth.test) already
    before = len(app.fake.state.messages)
    started = time.monotonic()
    with write_lock_held(app.settings.database):
        outcome = await app.fake.send_slash_command("U0ADA", "link")
        assert outcome.acked, "no acknowledgement within Slack's 3 seconds"
        assert outcome.ack_payload and "One moment" in outcome.ack_payload["text"]
        await asyncio.sleep(max(0.0, LOCK_SECONDS - (time.monotonic() - started)))
    late = await app.fake.wait_for_message(from_response_url("U0ADA"), 15, after=before)
    assert late.where == "ephemeral"
    url = find_link([late])
    # The link that arrived is the one stored, and it works.
    opened = await app.http.get(urlsplit(url).path)
    assert opened.status_code == 303 and opened.headers["location"] == "/bind"
    assert app.query("SELECT count(*) FROM binding_requests WHERE used_at IS NULL") == [(1,)]
    assert "not ready within 2.0s" in caplog.text
    assert "answered through the response_url after" in caplog.text


async def test_an_unlink_while_the_database_is_locked_is_answered_when_done(
    running_app: RunningApp,
) -> None:
    """`unlink` only reads, so it asks at once; the Disconnect click is acknowledged at once
    too, and the question is replaced once the removal could be written."""
    app = running_app
    await app.bind("ada", "U0ADA")
    started = time.monotonic()
    with write_lock_held(app.settings.database):
        question = await unlink_question(app, "U0ADA")
        outcome = await app.fake.click("U0ADA", question, DISCONNECT_ACTION)
        assert outcome.acked, "no acknowledgement within Slack's 3 seconds"
        await asyncio.sleep(max(0.0, LOCK_SECONDS - (time.monotonic() - started)))
        assert question.replaced == 0 and app.query("SELECT count(*) FROM bindings") == [(1,)]
    await app.fake.wait_until(lambda: question.replaced == 1, 15)
    assert question.text.startswith("Disconnected from Acme")
    await app.fake.wait_for_message(lambda m: m.where == "dm" and "no longer" in m.text)
    assert app.query("SELECT count(*) FROM bindings") == [(0,)]


async def test_a_store_that_fails_after_the_ack_is_reported_through_the_response_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # SQLite gives up waiting for the lock after 2.5 s: after the acknowledgement (2 s).
    monkeypatch.setattr("account_binding.sqlite_store.BUSY_TIMEOUT_SECONDS", 2.5)
    async with run_app(tmp_path) as app:
        await app.command("U0ALAN", "help")
        before = len(app.fake.state.messages)
        with write_lock_held(app.settings.database):
            outcome = await app.fake.send_slash_command("U0ADA", "link")
            assert outcome.acked and outcome.ack_payload
            assert "One moment" in outcome.ack_payload["text"]
            failed = await app.fake.wait_for_message(from_response_url("U0ADA"), 10, after=before)
        assert "busy" in failed.text and "Try again in a minute" in failed.text
        assert not find_links(failed)
        assert "StoreBusy" in caplog.text


async def test_a_store_that_fails_before_the_deadline_is_said_in_the_ack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("account_binding.sqlite_store.BUSY_TIMEOUT_SECONDS", 0.2)
    async with run_app(tmp_path) as app:
        await app.command("U0ALAN", "help")
        with write_lock_held(app.settings.database):
            outcome = await app.fake.send_slash_command("U0ADA", "whoami")
        assert outcome.acked and outcome.ack_payload
        assert "busy" in outcome.ack_payload["text"]


async def test_the_first_command_is_acknowledged_while_slack_is_slow_to_answer_auth_test(
    running_app: RunningApp,
) -> None:
    """Bolt asks Slack who it is (auth.test) before the first listener runs; the handler
    acknowledges in time anyway, and the answer follows through the response_url."""
    app = running_app
    app.fake.slow("auth.test", 4.0)
    outcome = await app.fake.send_slash_command("U0ADA", "help")
    assert outcome.acked
    late = await app.fake.wait_for_message(from_response_url("U0ADA"), 10)
    assert "whoami" in late.text


async def test_a_confirm_page_is_served_in_time_while_slack_rate_limits_users_info(
    running_app: RunningApp,
) -> None:
    """users.info answers 429 with Retry-After: 20. The page does not wait for it: it names
    the Slack person as the link knows them (their user name and workspace)."""
    app = running_app
    await app.add_user("ada")
    url = await app.link_for("U0ADA")
    browser = app.browser()
    await browser.get(urlsplit(url).path)
    await login(browser, "ada", next_path="/bind")
    app.fake.fail("users.info", "ratelimited", times=10, retry_after=20)
    started = time.monotonic()
    page = await browser.get("/bind")
    elapsed = time.monotonic() - started
    assert page.status_code == 200
    assert elapsed < 10, f"GET /bind waited {elapsed:.1f}s on a rate-limited Slack"
    assert "@ada" in page.text and "U0ADA" in page.text and "sandbox" in page.text
    calls = [c for c in app.fake.state.api_calls if c.method == "users.info"]
    assert len(calls) == 1  # no rate-limit retries on a page someone is looking at


def find_links(message: Message) -> list[str]:
    try:
        return [find_link([message])]
    except AssertionError:
        return []
