"""AuthorizationFlows on a real SQLite store: a flow comes back once, to the browser that
began it, for its purpose, before it expires; only hashes of the state and browser key are
stored."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from account_binding.authorization_flows import AuthorizationFlows, FlowRefused
from account_binding.sqlite_store import SQLiteStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000

    def __call__(self) -> int:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "flows.sqlite3")
    await store.open()
    yield store
    await store.close()


async def test_a_flow_comes_back_once_with_what_it_was_begun_with(store: SQLiteStore) -> None:
    flows = AuthorizationFlows(store)
    started = await flows.begin("login", next_path="/bind", link_hash="ab" * 32)
    flow = await flows.finish("login", started.state, started.browser_key)
    assert (flow.nonce, flow.code_verifier) == (started.nonce, started.code_verifier)
    assert (flow.next_path, flow.link_hash) == ("/bind", "ab" * 32)
    with pytest.raises(FlowRefused) as again:
        await flows.finish("login", started.state, started.browser_key)
    assert again.value.reason == "unknown or used state"


@pytest.mark.parametrize(
    ("state", "browser", "purpose", "reason"),
    [
        ("forged-state", None, "login", "unknown or used state"),
        (None, "another-browser", "login", "another browser"),
        (None, "", "login", "another browser"),
        (None, None, "slack", "begun for login"),
        ("", None, "login", "no state"),
    ],
)
async def test_a_callback_that_does_not_match_is_refused_and_uses_the_flow_up(
    store: SQLiteStore, state: str | None, browser: str | None, purpose: str, reason: str
) -> None:
    flows = AuthorizationFlows(store)
    started = await flows.begin("login", next_path="/")
    with pytest.raises(FlowRefused) as refused:
        await flows.finish(
            purpose,  # type: ignore[arg-type]
            started.state if state is None else state,
            started.browser_key if browser is None else browser,
        )
    assert refused.value.reason == reason


async def test_an_expired_flow_is_refused_and_purged(store: SQLiteStore) -> None:
    clock = Clock()
    flows = AuthorizationFlows(store, clock=clock, ttl_seconds=600)
    started = await flows.begin("grant", next_path="/bind")
    kept = await flows.begin("grant", next_path="/bind")
    clock.now += 601
    with pytest.raises(FlowRefused) as refused:
        await flows.finish("grant", started.state, started.browser_key)
    assert refused.value.reason == "expired"
    assert await flows.purge() == 2
    with pytest.raises(FlowRefused):
        await flows.finish("grant", kept.state, kept.browser_key)


async def test_only_hashes_of_the_state_and_browser_key_are_stored(
    store: SQLiteStore, tmp_path: Path
) -> None:
    started = await AuthorizationFlows(store).begin("login", next_path="/")
    with sqlite3.connect(tmp_path / "flows.sqlite3") as db:
        rows = db.execute("SELECT * FROM authorization_flows").fetchall()
    stored = repr(rows)
    assert started.state not in stored and started.browser_key not in stored
    assert started.state not in repr(started)
