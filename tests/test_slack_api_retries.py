"""Slack's Web API and response_urls failing for a while (issue 11): a 429 waits out
Retry-After, a 5xx, a timeout and a dropped connection are retried with backoff, each within
its path's deadline, and a retry that would pass the deadline is not made. Every failed
attempt is counted in the metrics. The real clients (slack_sdk's, with the app's retry
handlers) against the fake Slack over HTTP; faults injected by the fake."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import run_app

from account_binding.errors import SlackUnavailable
from account_binding.models import SlackIdentity
from bolt_app import messages
from bolt_app.app import build_web_client
from bolt_app.notifications import SlackNotifier
from bolt_app.slack_calls import RetryingRespond
from bolt_app.slack_directory import SlackUsersDirectory
from fake_slack import FakeSlack
from monitoring.metrics import Metrics

TOKEN = "xoxb-test-bot-token"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(bot_token=TOKEN, app_token="xapp-test-app-token")
    await fake.start()
    yield fake
    await fake.stop()


def errors(metrics: Metrics, method: str, error: str) -> float:
    """How many failed attempts of `method` with `error` the metrics counted."""
    value = metrics.registry.get_sample_value(
        "account_binding_slack_api_errors_total", {"method": method, "error": error}
    )
    return value or 0.0


def posts(fake: FakeSlack) -> list[float]:
    """When each chat.postMessage call reached the fake (time.monotonic())."""
    return [call.at for call in fake.state.api_calls if call.method == "chat.postMessage"]


def notifier(fake: FakeSlack, metrics: Metrics, *, timeout: float = 10.0) -> SlackNotifier:
    client = build_web_client(TOKEN, fake.api_url, timeout_seconds=timeout, metrics=metrics)
    return SlackNotifier(client, "Acme", metrics=metrics)


HELLO = messages.error_reply("hello")


async def test_a_rate_limit_waits_out_retry_after_then_the_dm_arrives_once(
    fake: FakeSlack,
) -> None:
    metrics = Metrics()
    fake.fail("chat.postMessage", "ratelimited", retry_after=1)

    assert await notifier(fake, metrics).direct_message("U0ADA", HELLO)

    first, second = posts(fake)
    assert second - first >= 1.0  # not before Slack's Retry-After
    assert [m.text for m in fake.dms("U0ADA")] == ["hello"]
    assert errors(metrics, "chat.postMessage", "ratelimited") == 1


async def test_a_retry_after_longer_than_the_deadline_gives_up_at_once_and_says_so(
    fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics()
    fake.fail("chat.postMessage", "ratelimited", retry_after=30)

    sent = await notifier(fake, metrics).direct_message("U0ADA", HELLO, deadline_seconds=5.0)

    assert not sent
    assert len(posts(fake)) == 1 and fake.dms("U0ADA") == []
    assert "chat.postMessage and asked to wait 30s (Retry-After)" in caplog.text
    assert "remain of its deadline, so it is not retried now" in caplog.text
    assert errors(metrics, "chat.postMessage", "ratelimited") == 1


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_twice_then_success_sends_the_dm_once(fake: FakeSlack, status: int) -> None:
    metrics = Metrics()
    fake.fail("chat.postMessage", "internal_error", times=2, status=status)

    assert await notifier(fake, metrics).direct_message("U0ADA", HELLO)

    assert len(posts(fake)) == 3
    assert [m.text for m in fake.dms("U0ADA")] == ["hello"]
    assert errors(metrics, "chat.postMessage", "http_5xx") == 2


async def test_a_request_slower_than_slack_api_timeout_is_abandoned_and_retried(
    fake: FakeSlack,
) -> None:
    """SLACK_API_TIMEOUT of 1 s and an answer 3 s late: the request is given up at 1 s and
    made again, which Slack answers at once."""
    metrics = Metrics()
    fake.slow("chat.postMessage", 3.0)

    assert await notifier(fake, metrics, timeout=1.0).direct_message("U0ADA", HELLO)

    assert len(posts(fake)) == 2
    assert [m.text for m in fake.dms("U0ADA")] == ["hello"]
    assert errors(metrics, "chat.postMessage", "timeout") == 1


async def test_a_refused_connection_is_retried_until_the_deadline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once it closes
    metrics = Metrics()
    client = build_web_client(TOKEN, f"http://127.0.0.1:{port}/api/", metrics=metrics)

    sent = await SlackNotifier(client, "Acme", metrics=metrics).direct_message(
        "U0ADA", HELLO, deadline_seconds=2.0
    )

    assert not sent
    assert errors(metrics, "chat.postMessage", "connection") >= 2  # tried, and tried again
    assert "Could not DM Slack user U0ADA" in caplog.text


async def test_a_permanent_error_is_not_retried(fake: FakeSlack) -> None:
    metrics = Metrics()
    fake.fail("chat.postMessage", "channel_not_found")

    assert not await notifier(fake, metrics).direct_message("U0ADA", HELLO)

    assert len(posts(fake)) == 1
    assert errors(metrics, "chat.postMessage", "channel_not_found") == 1


async def test_users_info_for_a_page_retries_a_dropped_connection_but_no_rate_limit(
    fake: FakeSlack,
) -> None:
    """The page's path: within SLACK_PAGE_TIMEOUT, a refused connection is tried again; a
    429 is not (the page uses what the link knows), and is counted."""
    ada = SlackIdentity.from_ids(team_id="T0SANDBOX", user_id="U0ADA", enterprise_id=None)
    metrics = Metrics()
    fake.fail("users.info", "ratelimited", retry_after=1)
    directory = SlackUsersDirectory(
        build_web_client(TOKEN, fake.api_url), deadline_seconds=3.0, metrics=metrics
    )
    with pytest.raises(SlackUnavailable):
        await directory.person(ada)
    assert len([c for c in fake.state.api_calls if c.method == "users.info"]) == 1
    assert errors(metrics, "users.info", "ratelimited") == 1

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    nowhere = SlackUsersDirectory(
        build_web_client(TOKEN, f"http://127.0.0.1:{port}/api/"),
        deadline_seconds=3.0,
        metrics=metrics,
    )
    with pytest.raises(SlackUnavailable):
        await nowhere.person(ada)
    assert errors(metrics, "users.info", "connection") >= 2


async def test_a_response_url_post_is_retried_through_5xx(fake: FakeSlack) -> None:
    metrics = Metrics()
    url = fake._new_response_url("commands", user_id="U0ADA", channel="C0GENERAL")
    fake.fail("response_url", "service_unavailable", times=2, status=503)
    respond = RetryingRespond(response_url=url, metrics=metrics, timeout_seconds=2.0)

    answer = await respond(text="the answer", response_type="ephemeral")

    assert answer.status_code == 200
    assert [m.text for m in fake.ephemerals("U0ADA")] == ["the answer"]
    assert errors(metrics, "response_url", "http_5xx") == 2


async def test_a_commands_late_answer_survives_a_response_url_outage(tmp_path: Path) -> None:
    """End to end: Bolt's `respond()` in the app's listeners posts through the retrying
    response_url client: the to-do command's answer arrives once though the response_url
    answers 503 twice."""
    async with run_app(tmp_path) as app:
        await app.bind("ada", "U0ADA")
        before = len(app.fake.state.messages)
        app.fake.fail("response_url", "service_unavailable", times=2, status=503)
        outcome = await app.fake.send_slash_command("U0ADA", "todo")
        assert outcome.acked
        await app.fake.wait_for_message(
            lambda m: m.user_id == "U0ADA" and m.source == "response_url", 10.0, after=before
        )
        answers = [m for m in app.fake.state.messages[before:] if m.source == "response_url"]
        assert len(answers) == 1


async def test_log_lines_name_no_token(fake: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake.fail("chat.postMessage", "ratelimited", retry_after=30)
    await notifier(fake, Metrics()).direct_message("U0ADA", HELLO, deadline_seconds=2.0)
    assert TOKEN not in caplog.text
