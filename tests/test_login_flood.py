"""Logging in again and again with a valid password (a script, or a stolen password) cannot
grow the sessions table or the audit log without bound."""

from __future__ import annotations

from conftest import RunningApp, login

from account_binding.audit import CAPPED_PER_HOUR
from account_binding.sessions import MAX_SESSIONS_PER_USER


async def test_repeated_logins_keep_a_bounded_number_of_sessions_and_audit_rows(
    running_app: RunningApp,
) -> None:
    app = running_app
    await app.add_user("ada")
    browsers = [app.browser() for _ in range(CAPPED_PER_HOUR + 5)]
    for browser in browsers:
        assert (await login(browser, "ada")).status_code == 303
    assert app.query("SELECT count(*) FROM sessions") == [(MAX_SESSIONS_PER_USER,)]
    assert app.query("SELECT count(*) FROM audit_events WHERE event = 'login'") == [
        (CAPPED_PER_HOUR,)
    ]
    # The newest logins stay logged in; the oldest were ended.
    assert "Log out" in (await browsers[-1].get("/")).text
    assert "Log out" not in (await browsers[0].get("/")).text
