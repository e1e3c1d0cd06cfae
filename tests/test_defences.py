"""Defences of SECURITY.md that no other test noticed the removal of (issue 7, row 24).

Each test here fails when its defence is taken out; `tools/defence_check.py` proves it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import PASSWORD, RunningApp, hidden_fields, login, run_app

from account_binding import accounts, passwords
from account_binding.accounts import AccountService
from account_binding.api_tokens import ApiTokenAuthenticator
from account_binding.crypto import TokenCipher
from account_binding.errors import SlackUnavailable
from account_binding.models import SlackIdentity, User
from account_binding.sessions import SessionService
from account_binding.sqlite_store import SQLiteStore
from account_binding.store import IssuedToken
from account_binding.text import DISPLAY_NAME_LIMIT, display_name
from account_binding.token_validity import TokenValidity
from account_binding.tokens import digest, new_api_token
from bolt_app.app import build_web_client
from bolt_app.command_payload import CommandRequest
from bolt_app.slack_directory import SlackUsersDirectory
from fake_slack import FakeUser

# Sessions


def session_hashes(database: Path) -> set[str]:
    with sqlite3.connect(database) as db:
        return {row[0] for row in db.execute("SELECT token_hash FROM sessions")}


async def test_expired_sessions_are_purged_from_the_database(tmp_path: Path) -> None:
    """Not only refused when used: an idle or too-old session leaves no row behind."""
    store = SQLiteStore(tmp_path / "db.sqlite3")
    now = [1_000_000]
    sessions = SessionService(store, idle_timeout=100, max_age=1000, clock=lambda: now[0])
    user = await store.create_user("ada", "a@example.com", "h", 1)
    too_old = await sessions.start(user.id)
    for _ in range(9):  # kept in use, so never idle, until past its maximum age
        now[0] += 95
        assert await sessions.resolve(too_old) is not None
    idle = await sessions.start(user.id)
    now[0] += 95
    assert await sessions.resolve(too_old) is not None
    now[0] += 50
    live = await sessions.start(user.id)
    now[0] += 40  # too old: 1040 s since login, 90 s unused; idle: 185 s unused; live: 40 s
    await sessions.purge()
    assert session_hashes(tmp_path / "db.sqlite3") == {digest(live)}
    assert await sessions.resolve(live) is not None
    assert await sessions.resolve(idle) is None and await sessions.resolve(too_old) is None
    await store.close()


async def test_the_running_app_purges_expired_sessions(tmp_path: Path) -> None:
    """The purger the app starts removes sessions that ended while nobody used them."""
    database = tmp_path / "app.sqlite3"
    store = SQLiteStore(database)
    user = await store.create_user("ada", "a@example.com", "h", 1)
    now = int(time.time())
    await store.create_session(digest("abandoned"), user.id, "csrf", now - 30 * 86400)
    await store.create_session(digest("in use"), user.id, "csrf", now)
    await store.close()
    async with run_app(tmp_path):
        deadline = time.monotonic() + 10
        while digest("abandoned") in session_hashes(database):
            assert time.monotonic() < deadline, "the abandoned session was not purged in 10 s"
            await asyncio.sleep(0.05)
        assert session_hashes(database) == {digest("in use")}


# Password hashing


class HashingProbe:
    """Counts the argon2 runs that are under way at once, in the threads that run them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.runs = 0

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def probed(*args: Any) -> Any:
            with self._lock:
                self.running += 1
                self.runs += 1
                self.most = max(self.most, self.running)
            try:
                time.sleep(0.05)  # hold the slot long enough for the others to pile up
                return function(*args)
            finally:
                with self._lock:
                    self.running -= 1

        return probed


async def test_at_most_two_password_hashes_run_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """argon2id takes 64 MiB a run: a flood of logins and password changes queues up."""
    probe = HashingProbe()
    monkeypatch.setattr(accounts, "verify_password", probe.wrap(passwords.verify_password))
    monkeypatch.setattr(accounts, "hash_password", probe.wrap(passwords.hash_password))
    store = SQLiteStore(tmp_path / "db.sqlite3")
    service = AccountService(store)
    ada = await service.add_user("ada", "ada@example.com", PASSWORD)
    grace = await service.add_user("grace", "grace@example.com", PASSWORD)
    probe.most = probe.runs = 0
    results = await asyncio.gather(
        *(service.authenticate("ada", "wrong password") for _ in range(4)),
        *(service.authenticate("nobody", "wrong password") for _ in range(3)),
        service.authenticate("grace", PASSWORD),
        service.set_password(ada, "another good password"),
        service.add_user("linus", "linus@example.com", PASSWORD),
    )
    await store.close()
    assert results[:7] == [None] * 7 and isinstance(results[7], User)
    assert probe.runs == 10
    assert probe.most == 2, f"{probe.most} argon2 runs at once"
    assert grace.username == "grace"


# The login throttle


async def test_the_login_throttle_counts_one_name_however_it_is_typed(tmp_path: Path) -> None:
    """Logins accept `Ada`, ` ada ` and `ADA` for ada, so the throttle counts them as one."""
    async with run_app(tmp_path, LOGIN_MAX_FAILURES="3") as app:
        await app.add_user("ada")
        for typed in ("Ada", " ada ", "ADA"):
            assert (await login(app.browser(), typed, "wrong")).status_code == 400
        locked = await login(app.browser(), "ada", PASSWORD)
        assert locked.status_code == 429, "three failures under spellings of one name"
        assert "session=" not in locked.headers.get("set-cookie", "")


# The JSON API's tokens


async def test_the_api_takes_a_token_only_under_the_bearer_scheme(
    running_app: RunningApp,
) -> None:
    """RFC 6750: `Authorization: Bearer <token>`; the scheme name is case-insensitive."""
    token = await running_app.bind("ada", "U0ADA")
    api = running_app.http
    for header in (f"Basic {token}", f"Token {token}", f"Bearerx {token}", f"{token} {token}"):
        refused = await api.get("/api/me", headers={"Authorization": header})
        assert refused.status_code == 401, header
        assert refused.headers["www-authenticate"].startswith("Bearer")
    for header in (f"Bearer {token}", f"bearer {token}"):
        accepted = await api.get("/api/me", headers={"Authorization": header})
        assert accepted.status_code == 200 and accepted.json()["username"] == "ada", header


class CountingStore(SQLiteStore):
    """The real store, counting the token lookups it is asked for."""

    lookups = 0

    async def find_token(
        self, api_token_hash: str, now: int, validity: TokenValidity
    ) -> IssuedToken | None:
        self.lookups += 1
        return await super().find_token(api_token_hash, now, validity)


async def test_an_overlong_api_token_is_refused_without_a_lookup(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "db.sqlite3")
    tokens = ApiTokenAuthenticator(store)
    for token in ("abt_" + "a" * 200, "abt_" + "a" * 100_000, new_api_token() + "x" * 100):
        assert await tokens.user_for(token) is None
    assert store.lookups == 0
    assert await tokens.user_for(new_api_token()) is None  # well formed: looked up
    assert store.lookups == 1
    await store.close()


# Encryption at rest


def test_the_token_key_is_derived_from_secret_key() -> None:
    """Only the SECRET_KEY that encrypted a token can read it back."""
    token = new_api_token()
    ciphertext = TokenCipher("first secret key, long and random").encrypt(token)
    assert token not in ciphertext
    assert TokenCipher("first secret key, long and random").decrypt(ciphertext) == token
    for other in ("second secret key, long and random", "first secret key, long and randoM"):
        assert TokenCipher(other).decrypt(ciphertext) is None, other


# The audit log


async def test_a_cancelled_link_is_in_the_audit_log(running_app: RunningApp) -> None:
    app = running_app
    await app.add_user("ada")
    url = await app.link_for("U0ADA")
    await app.http.get(urlsplit(url).path)
    await login(app.http, "ada", next_path="/bind")
    page = await app.http.get("/bind")
    cancelled = await app.http.post("/bind", data={**hidden_fields(page), "action": "cancel"})
    assert cancelled.status_code == 200
    rows = app.query(
        "SELECT username, slack_user_id, scope_id, client FROM audit_events "
        "WHERE event = 'link_cancelled'"
    )
    assert rows == [("ada", "U0ADA", "T0SANDBOX", "127.0.0.1")]


# Request bodies


async def chunks(piece: bytes, count: int) -> AsyncIterator[bytes]:
    """A body sent without a Content-Length (chunked), `count` times `piece`."""
    for _ in range(count):
        yield piece


async def test_a_chunked_body_over_a_lowered_cap_is_refused(tmp_path: Path) -> None:
    """MAX_BODY_BYTES under the routes' own caps (16 KiB): a body without a length is still
    refused (413) once its count passes the setting, on a form and on the API."""
    async with run_app(tmp_path, MAX_BODY_BYTES="1024") as app:
        form = await app.http.post(
            "/login",
            content=chunks(b"a" * 512, 4),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert form.status_code == 413, form.text
        token = await app.bind("ada", "U0ADA")
        api = await app.http.post(
            "/api/todos",
            content=chunks(b'{"title": "x"}' + b" " * 500, 4),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        assert api.status_code == 413, api.text
        assert app.query("SELECT count(*) FROM todos") == [(0,)]


# Names people choose in Slack, and Slack on a page someone is looking at

HOSTILE_NAME = "Alice\u202e Smith\u200b " + "x" * 4000 + " Verified, safe to connect"


def sandbox_identity(user_id: str) -> SlackIdentity:
    return SlackIdentity.from_ids(team_id="T0SANDBOX", user_id=user_id, enterprise_id=None)


async def test_the_directory_cleans_a_chosen_real_name(running_app: RunningApp) -> None:
    app = running_app
    app.fake.set_user(FakeUser("U0ALICE", "alice", HOSTILE_NAME, "alice@example.com"))
    directory = SlackUsersDirectory(build_web_client(app.fake.bot_token, app.fake.api_url))
    person = await directory.person(sandbox_identity("U0ALICE"))
    assert person is not None
    assert person.real_name == display_name(HOSTILE_NAME)
    assert "\u202e" not in person.real_name and len(person.real_name) <= DISPLAY_NAME_LIMIT


def test_workspace_and_organisation_names_from_a_command_are_cleaned() -> None:
    payload = {
        "team_id": "T0SANDBOX",
        "user_id": "U0ALICE",
        "command": "/acme",
        "text": "link",
        "user_name": "alice",
        "team_domain": HOSTILE_NAME,
    }
    workspace = CommandRequest.from_payload(payload).profile.team_name
    assert workspace == display_name(HOSTILE_NAME)
    grid = {**payload, "enterprise_id": "E0ORG", "enterprise_name": "Org\u2067" + HOSTILE_NAME}
    organisation = CommandRequest.from_payload(grid).profile.team_name
    assert organisation == display_name("Org" + HOSTILE_NAME)
    assert "\u2067" not in organisation and len(organisation) <= DISPLAY_NAME_LIMIT


async def test_a_rate_limited_users_info_is_not_retried_on_a_page(running_app: RunningApp) -> None:
    """Built from the app's client (which retries rate limits), the directory still calls
    users.info once: a 429 is "not now" for a person waiting on a page."""
    app = running_app
    app.fake.fail("users.info", "ratelimited", times=5, retry_after=1)
    client = build_web_client(app.fake.bot_token, app.fake.api_url)
    directory = SlackUsersDirectory(client, deadline_seconds=3.0)
    with pytest.raises(SlackUnavailable):
        await directory.person(sandbox_identity("U0ADA"))
    calls = [c for c in app.fake.state.api_calls if c.method == "users.info"]
    assert len(calls) == 1


async def test_users_info_is_not_awaited_past_the_pages_deadline(running_app: RunningApp) -> None:
    """SLACK_PAGE_TIMEOUT of 0.5 s and an answer 0.8 s late (under the HTTP timeout of 1 s):
    the deadline, not the HTTP timeout, ends the wait."""
    app = running_app
    app.fake.slow("users.info", 0.8)
    client = build_web_client(app.fake.bot_token, app.fake.api_url)
    directory = SlackUsersDirectory(client, deadline_seconds=0.5)
    with pytest.raises(SlackUnavailable):
        await directory.person(sandbox_identity("U0ADA"))
