"""The Slack side's client for the internal application's API (bolt_app.internal_api): its
messages when the API refuses, answers nonsense or is down. The stand-in's own API is in
test_stand_in_api.py."""

from __future__ import annotations

import sqlite3

import httpx
import pytest
from conftest import RunningApp

from bolt_app.internal_api import InternalApi, InternalApiError


async def bound_token(app: RunningApp, username: str, slack_user: str) -> str:
    return await app.bind(username, slack_user)


async def test_the_slack_side_explains_a_rejected_token(running_app: RunningApp) -> None:
    token = await bound_token(running_app, "ada", "U0ADA")
    with sqlite3.connect(running_app.settings.database) as db:
        db.execute("UPDATE api_tokens SET revoked_at = 1")
    assert (
        await running_app.http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 401
    reply = await running_app.command("U0ADA", "whoami")
    assert "no longer accepts" in reply[-1].text and "unlink" in reply[-1].text


async def test_a_malformed_answer_from_the_internal_application_is_reported() -> None:
    """INTERNAL_API_URL may point at another system; an answer of the wrong shape gets a
    message in Slack, not silence."""
    answers = {
        "/api/me": {"username": 5},
        "/api/todos": {"todos": [{"id": "x", "title": "t", "done": False}]},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answers.get(request.url.path, {}))

    api = InternalApi("http://internal.example", "Acme", transport=httpx.MockTransport(handler))
    try:
        for call in (api.me("abt_x"), api.todos("abt_x"), api.add_todo("abt_x", "t")):
            with pytest.raises(InternalApiError, match="could not be read"):
                await call
    finally:
        await api.close()


async def test_an_unreachable_internal_application_gets_a_clear_message_and_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The person reads "did not answer"; the administrator reads where and why."""
    api = InternalApi("http://127.0.0.1:9", "Acme")  # the discard port: nothing listens
    try:
        with pytest.raises(InternalApiError, match="Acme did not answer"):
            await api.me("abt_x")
    finally:
        await api.close()
    [record] = [r for r in caplog.records if r.name == "bolt_app.internal_api"]
    assert record.levelname == "WARNING"
    assert "INTERNAL_API_URL http://127.0.0.1:9" in record.getMessage()
    assert "GET /api/me" in record.getMessage() and "ConnectError" in record.getMessage()


async def test_an_internal_application_failing_with_5xx_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad gateway</html>")

    api = InternalApi("http://internal.example", "Acme", transport=httpx.MockTransport(handler))
    try:
        with pytest.raises(InternalApiError, match="could not be read"):
            await api.todos("abt_x")
    finally:
        await api.close()
    assert "answered GET /api/todos with HTTP 502" in caplog.text
