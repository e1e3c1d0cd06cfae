"""Slack failing when a bind needs it: only Slack's "no such user" errors mean a person
without a readable profile; every other users.info error (a revoked token, a missing scope,
an outage) is SlackUnavailable, so REQUIRE_EMAIL_MATCH asks to try again rather than
refusing the person and voiding their link. The real app against the fake Slack."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from conftest import RunningApp, hidden_fields, run_app

from account_binding.errors import SlackUnavailable
from account_binding.models import SlackIdentity
from bolt_app.app import build_web_client
from bolt_app.slack_directory import SlackUsersDirectory
from fake_slack import FakeSlack

#: Errors users.info can answer that are the app's or Slack's fault, not the person's.
NOT_THE_PERSONS_FAULT = [
    "invalid_auth",
    "missing_scope",
    "token_revoked",
    "not_authed",
    "account_inactive",
    "no_permission",
    "ekm_access_denied",
    "invalid_arguments",
    "an_error_slack_adds_tomorrow",
]


def identity(user_id: str) -> SlackIdentity:
    return SlackIdentity.from_ids(team_id="T0SANDBOX", user_id=user_id, enterprise_id=None)


@pytest.fixture
async def fake() -> FakeSlack:
    return FakeSlack(bot_token="xoxb-1", app_token="xapp-1")


@pytest.mark.parametrize("error", NOT_THE_PERSONS_FAULT)
async def test_a_users_info_error_that_is_not_no_such_user_is_slack_unavailable(
    fake: FakeSlack, error: str, caplog: pytest.LogCaptureFixture
) -> None:
    await fake.start()
    try:
        directory = SlackUsersDirectory(build_web_client("xoxb-1", fake.api_url))
        fake.fail("users.info", error)
        with pytest.raises(SlackUnavailable):
            await directory.person(identity("U0ADA"))
        # The administrator is told which Slack error, as an error.
        logged = [r for r in caplog.records if repr(error) in r.getMessage()]
        assert logged and logged[0].levelname == "ERROR"
        person = await directory.person(identity("U0ADA"))
        assert person and person.real_name == "Ada Lovelace"
    finally:
        await fake.stop()


@pytest.mark.parametrize("error", ["user_not_found", "user_not_visible"])
async def test_only_slacks_no_such_user_errors_mean_no_profile(fake: FakeSlack, error: str) -> None:
    await fake.start()
    try:
        directory = SlackUsersDirectory(build_web_client("xoxb-1", fake.api_url))
        fake.fail("users.info", error)
        assert await directory.person(identity("U0ADA")) is None
        assert await directory.person(identity("U404")) is None  # the fake's own answer
    finally:
        await fake.stop()


async def open_link(
    app: RunningApp, username: str, slack_user: str
) -> tuple[httpx.AsyncClient, httpx.Response]:
    """`username` opens `slack_user`'s link in their own browser and logs in."""
    return await app.open_link_as(username, await app.link_for(slack_user))


@pytest.mark.parametrize("error", ["invalid_auth", "missing_scope", "token_revoked"])
async def test_a_broken_token_or_scope_on_connect_keeps_the_link_and_asks_to_try_again(
    tmp_path: Path, error: str, caplog: pytest.LogCaptureFixture
) -> None:
    """REQUIRE_EMAIL_MATCH and users.info failing with an error the administrator must fix:
    a 503 "try again" page, the link kept, audited as slack_error, never as a mismatch;
    once Slack answers again, Connect binds."""
    async with run_app(tmp_path, REQUIRE_EMAIL_MATCH="true") as app:
        await app.add_user("ada")
        browser, page = await open_link(app, "ada", "U0ADA")
        assert page.status_code == 200
        app.fake.fail("users.info", error)
        first = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
        assert first.status_code == 503, first.text
        assert "Slack did not answer; your link still works" in first.text
        assert "do not match" not in first.text
        assert app.query("SELECT count(*) FROM binding_requests WHERE used_at IS NULL") == [(1,)]
        events = [e for (e,) in app.query("SELECT event FROM audit_events")]
        assert "slack_error" in events and "link_refused" not in events
        assert f"failed with Slack error {error!r}" in caplog.text
        again = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
        assert again.status_code == 200, again.text
        assert app.query("SELECT count(*) FROM bindings") == [(1,)]
