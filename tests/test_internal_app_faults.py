"""Issue 11, the internal application slow or down: each fault injected by a real HTTP server
on loopback as INTERNAL_API_URL (tests/faulty_api.py), called by a plugin through the real app
over Socket Mode.

Whatever the fault, the command is acknowledged (an empty acknowledgement: the answer follows
through the response_url) and the person gets one answer, naming the application, saying it
is not responding or failed, whether anything may have been done, and to try again; never a
traceback, never a second answer, never silence. Nothing is left half-done: a command
abandoned at COMMAND_TIMEOUT is cancelled and can no longer answer or act, and under
ACT_AS=oauth2 a refresh that completes after the command was abandoned keeps its new tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from conftest import RunningApp, run_app
from faulty_api import EXITS, REPORT_CALLS, FaultyApi, faulty_api, nothing_listening
from oidc_provider import running_provider
from test_act_as_oauth2 import CALLBACK, PUBLIC_URL, OAuth2Setup, bind

from fake_slack import Message

READ_AGAIN = "Try again in a minute."
CHECK_FIRST = "It may or may not have been done: check in Acme before trying again."
NOTHING_DONE = "so nothing was done. Try again in a minute."


@pytest.fixture(autouse=True)
def _fresh_exits() -> None:
    EXITS.clear()


@pytest.fixture
async def api() -> AsyncIterator[FaultyApi]:
    async with faulty_api() as server:
        yield server


@contextlib.asynccontextmanager
async def app_against(
    tmp_path: Path, url: str, *, api_timeout: str = "1", command_timeout: str = "5"
) -> AsyncIterator[RunningApp]:
    async with run_app(
        tmp_path,
        COMMAND_PLUGINS="faulty_api:plugin",
        INTERNAL_API_URL=url,
        INTERNAL_API_TIMEOUT=api_timeout,
        COMMAND_TIMEOUT=command_timeout,
    ) as app:
        await app.bind("ada", "U0ADA")
        yield app


async def answer(app: RunningApp, text: str, user_id: str = "U0ADA") -> Message:
    """Run the command: it is acknowledged (empty: the work is after the acknowledgement),
    and its first answer through the response_url comes."""
    before = len(app.fake.state.messages)
    outcome = await app.fake.send_slash_command(user_id, text)
    assert outcome.acked and outcome.ack_seconds is not None, "not acknowledged"
    assert not outcome.ack_payload, outcome.ack_payload
    return await app.fake.wait_for_message(
        lambda m: m.user_id == user_id and m.source == "response_url", 15.0, after=before
    )


def answers_since(app: RunningApp, message: Message, user_id: str = "U0ADA") -> list[str]:
    """The texts of `user_id`'s messages from `message` on."""
    start = app.fake.state.messages.index(message)
    return [m.text for m in app.fake.state.messages[start:] if m.user_id == user_id]


def clear(text: str) -> None:
    """One sentence that names the application, says what is wrong, and what to do."""
    assert "Acme" in text, text
    assert "not responding" in text or "failed" in text or "not available" in text, text
    assert "Try again" in text or "before trying again" in text, text
    assert "Traceback" not in text and "err-" not in text and "Error" not in text, text


async def only_answer(
    app: RunningApp, api: FaultyApi, message: Message, handler: str, requests: int = 1
) -> None:
    """Once the handler and the server are done with the command, and the next command (the
    application answering again) is answered, the command had exactly one answer."""
    await EXITS.wait_for(handler)
    await api.wait_finished(requests)
    api.fault = "none"
    later = await answer(app, "items")
    assert "items in Acme" in later.text, later.text
    assert answers_since(app, message) == [message.text, later.text]


# Slow beyond INTERNAL_API_TIMEOUT


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("items", f"Acme is not responding (no answer within 1 second). {READ_AGAIN}"),
        (
            "items add Buy milk",
            f"Acme is not responding (no answer within 1 second). {CHECK_FIRST}",
        ),
    ],
)
async def test_an_application_slower_than_internal_api_timeout_is_not_responding(
    tmp_path: Path, api: FaultyApi, text: str, says: str
) -> None:
    async with app_against(tmp_path, api.url) as app:
        api.fault, api.delay = "slow", 3.0
        message = await answer(app, text)
        assert message.text == says
        clear(message.text)
        await only_answer(app, api, message, text.removesuffix(" Buy milk"))
        # Why a change must say "may or may not": the application carried it out, late.
        assert api.items == (["Buy milk"] if "add" in text else [])


# Slow beyond COMMAND_TIMEOUT, across several calls each within INTERNAL_API_TIMEOUT


async def test_several_slow_calls_past_command_timeout_stop_the_command(
    tmp_path: Path, api: FaultyApi
) -> None:
    async with app_against(tmp_path, api.url, api_timeout="5", command_timeout="1") as app:
        api.fault, api.delay = "slow", 0.5  # 5 calls of 0.5 s: 2.5 s, each well within 5 s
        message = await answer(app, "items report")
        assert message.text == (
            "/acme items report did not finish within 1 second (Acme may be slow or not "
            f"responding), so I stopped waiting. {READ_AGAIN}"
        )
        clear(message.text)
        # The handler was cancelled, not left running: it made no call after the deadline.
        assert await EXITS.wait_for("items report") == "cancelled"
        made = len(api.requests)
        assert made < REPORT_CALLS
        await only_answer(app, api, message, "items report", requests=made)
        assert len(api.requests) == made + 1  # only the next command's


async def test_a_handler_that_ignores_its_cancellation_can_neither_answer_nor_act_late(
    tmp_path: Path, api: FaultyApi
) -> None:
    """`items stubborn` swallows the cancellation at COMMAND_TIMEOUT, then tries to add an
    item and to answer: the person, already told it did not finish, gets nothing more, and the
    application gets no request."""
    async with app_against(tmp_path, api.url, api_timeout="5", command_timeout="1") as app:
        api.fault, api.delay = "slow", 3.0
        message = await answer(app, "items stubborn")
        assert message.text == (
            "/acme items stubborn did not finish within 1 second (Acme may be slow or not "
            f"responding), so I stopped waiting. {CHECK_FIRST}"
        )
        assert await EXITS.wait_for("items stubborn") == "returned"
        assert EXITS.late_answer_delivered is False
        await only_answer(app, api, message, "items stubborn")
        assert ("POST", "/api/items") not in api.requests and api.items == []
        assert not [m for m in app.fake.state.messages if "late" in m.text]


# Down: nothing listening


async def test_an_application_that_is_down_did_nothing_and_the_next_command_works_once_up(
    tmp_path: Path,
) -> None:
    with nothing_listening() as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with app_against(tmp_path, url) as app:
            for text in ("items", "items add Buy milk"):
                message = await answer(app, text)
                says = f"Acme is not responding (no connection could be made), {NOTHING_DONE}"
                assert message.text == says
                clear(message.text)
                await EXITS.wait_for(text.removesuffix(" Buy milk"))
                EXITS.clear()
            async with faulty_api(sock) as api:  # it comes back up
                later = await answer(app, "items add Buy milk")
                assert later.text == "Added #1: Buy milk"
                assert answers_since(app, message) == [message.text, later.text]
                assert api.items == ["Buy milk"]


# A proxy in front of a dead application: 502, 503, 504; and the application's own 500


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_a_proxy_answering_for_a_dead_application_is_not_responding(
    tmp_path: Path, api: FaultyApi, status: int
) -> None:
    async with app_against(tmp_path, api.url) as app:
        api.fault, api.status = "status", status
        message = await answer(app, "items")
        assert message.text == f"Acme is not responding (HTTP {status}). {READ_AGAIN}"
        clear(message.text)
        await only_answer(app, api, message, "items")
        EXITS.clear()
        api.fault = "status"
        message = await answer(app, "items add Buy milk")
        assert message.text == f"Acme is not responding (HTTP {status}). {CHECK_FIRST}"


@pytest.mark.parametrize(
    ("body", "why"),
    [(b"", "HTTP 500"), (b'{"error": "The disk is full."}', "The disk is full")],
)
async def test_an_application_answering_500_failed(
    tmp_path: Path, api: FaultyApi, body: bytes, why: str
) -> None:
    async with app_against(tmp_path, api.url) as app:
        api.fault, api.status, api.body = "status", 500, body
        message = await answer(app, "items add Buy milk")
        assert message.text == f"Acme failed ({why}). {CHECK_FIRST}"
        clear(message.text)
        await only_answer(app, api, message, "items add")


# Broken answers: closed mid-answer, headers then nothing, a body that never ends


@pytest.mark.parametrize(
    ("fault", "why"),
    [
        ("close_mid_answer", "the connection broke off"),
        ("stall", "no answer within 1 second"),
        # httpx's timeout bounds each read: only the call's own deadline ends this one.
        ("trickle", "no answer within 1 second"),
    ],
)
async def test_an_answer_that_breaks_off_or_never_ends_is_not_responding(
    tmp_path: Path, api: FaultyApi, fault: str, why: str
) -> None:
    async with app_against(tmp_path, api.url) as app:
        api.fault = fault  # type: ignore[assignment]
        message = await answer(app, "items")
        assert message.text == f"Acme is not responding ({why}). {READ_AGAIN}"
        clear(message.text)
        await only_answer(app, api, message, "items")


# ACT_AS=oauth2: a refresh that completes after the command was abandoned


async def test_a_refresh_finishing_after_command_timeout_keeps_its_new_tokens(
    tmp_path: Path,
) -> None:
    """The provider rotates refresh tokens: once it has answered a refresh, the old refresh
    token is spent. A command abandoned at COMMAND_TIMEOUT while its refresh is under way must
    not lose the new tokens, or the next refresh (with the spent token) ends the grant and
    removes the binding."""
    with running_provider(tmp_path, redirect_uris=[CALLBACK], slow_refresh_seconds=2.5) as provider:
        async with run_app(
            tmp_path,
            PUBLIC_URL=PUBLIC_URL,
            ACT_AS="oauth2",
            OAUTH2_ISSUER=provider.issuer,
            OAUTH2_CLIENT_ID=provider.client_id,
            OAUTH2_CLIENT_SECRET=provider.client_secret,
            PROVIDER_TIMEOUT="10",
            COMMAND_TIMEOUT="1",
        ) as app:
            setup = OAuth2Setup(app, provider, contextlib.ExitStack())
            await bind(setup, "ada", "U0ADA")
            old_access, old_refresh = setup.tokens("U0ADA")
            now = int(time.time())
            with sqlite3.connect(app.settings.database) as db:  # due for refresh
                db.execute(
                    "UPDATE oauth_grants SET updated_at = ?, expires_at = ?", [now - 60, now]
                )
            message = await answer(app, "todo")
            assert "/acme todo did not finish within 1 second (Acme may be slow" in message.text
            clear(message.text)

            await eventually(lambda: setup.tokens("U0ADA")[1] != old_refresh, 15.0)
            new_access, _ = setup.tokens("U0ADA")
            assert new_access != old_access
            assert app.query("SELECT refreshing_until FROM oauth_grants") == [(None,)]
            assert setup.introspect(new_access)["active"] is True
            # The next command acts with the new tokens: the binding is kept.
            later = await answer(app, "todo")
            assert "You have no to-do items" in later.text, later.text
            assert app.query("SELECT count(*) FROM bindings") == [(1,)]
            assert answers_since(app, message) == [message.text, later.text]


async def eventually(condition: Callable[[], bool], seconds: float) -> None:
    """Wait until `condition` holds (a state outside the process: polled)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come to hold"
        await asyncio.sleep(0.1)
