"""Attack demonstration (review of issue 10): lifecycle events are not checked against the
installation. The Home tab, the shortcut and every button ignore an event or interaction that
names a workspace outside the installation (SECURITY.md, "The Home tab or the shortcut acting
for someone else"); `user_change`, `app_uninstalled` and `tokens_revoked` are acted on
whatever workspace the delivery names, so a forged or misrouted delivery removes a binding."""

from __future__ import annotations

import asyncio

from conftest import RunningApp

ADA = "U0ADA"


async def test_a_user_change_delivered_for_another_workspace_removes_nothing(
    running_app: RunningApp,
) -> None:
    app = running_app
    await app.bind("ada", ADA)
    event = app.fake.user_change_event(ADA)  # Ada, as our workspace describes her
    event["user"]["deleted"] = True
    payload = app.fake.event_payload(event)
    payload["team_id"] = "T0ELSEWHERE"  # delivered for another workspace's installation
    payload["authorizations"][0]["team_id"] = "T0ELSEWHERE"
    outcome = await app.fake.send_envelope("events_api", payload)
    assert outcome.acked
    await asyncio.sleep(1.0)
    assert app.query("SELECT slack_user_id FROM bindings") == [(ADA,)], (
        "a user_change delivered for another workspace removed a binding of this installation"
    )
