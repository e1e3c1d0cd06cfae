"""The Slack side when the internal application refuses the credential it presents. The
stand-in's own API is in test_stand_in_api.py; the client's errors and logs in
test_internal_api_client.py."""

from __future__ import annotations

import sqlite3

from conftest import RunningApp


async def test_the_slack_side_explains_a_rejected_token(running_app: RunningApp) -> None:
    token = await running_app.bind("ada", "U0ADA")
    with sqlite3.connect(running_app.settings.database) as db:
        db.execute("UPDATE api_tokens SET revoked_at = 1")
    assert (
        await running_app.http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 401
    reply = await running_app.command("U0ADA", "todo")
    assert "no longer accepts" in reply[-1].text and "unlink" in reply[-1].text
