"""Many people at once: `account-binding run` in a child process, connected over Socket Mode
to a fake Slack whose workspace holds a crowd, and browsers that log in for a link and
press Connect. For the crash and load tests (tests/test_crash_safety.py,
tests/test_concurrency.py)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import httpx
from conftest import LINK, PASSWORD, hidden_fields, login
from processes import AppProcess

from account_binding.passwords import hash_password
from account_binding.sessions import SessionService
from account_binding.sqlite_store import SQLiteStore
from account_binding.tokens import digest
from fake_slack import FakeSlack, FakeUser, FakeWorkspace, Message, crowd
from web import cookies

T = TypeVar("T")

BOT_TOKEN = "xoxb-crowd-bot-token"
APP_TOKEN = "xapp-crowd-app-token"
#: What the success page says, and nothing else does.
CONNECTED = "is now connected to your"

#: Many logins from one address (the test's) and many for one account: the brute-force
#: limits count every attempt in flight, so they are raised out of the way here.
SETTINGS = {
    "INTERNAL_APP_NAME": "Acme",
    "LOGIN_SLOWDOWN_SECONDS": "0",
    "LOGIN_MAX_FAILURES": "1000",
    "LOGIN_MAX_FAILURES_PER_ADDRESS": "100000",
}


@dataclass
class Crowd:
    """The fake Slack, the app's process, and the people of the workspace beyond the usual
    three (`people`, IDs U0P…)."""

    fake: FakeSlack
    app: AppProcess
    people: tuple[FakeUser, ...]
    database: Path
    #: The test's own connection to the app's database (another process's, as an
    #: administrator's command would be).
    store: SQLiteStore
    browsers: list[httpx.AsyncClient] = field(default_factory=list)

    def browser(self) -> httpx.AsyncClient:
        """A fresh browser (its own cookies) on the site. Each request on a connection of
        its own: a kept-alive connection that the server closes for idleness (uvicorn's 5 s)
        just as a request goes out fails it, where a browser would silently send it again."""
        client = httpx.AsyncClient(
            base_url=self.app.base_url,
            trust_env=False,
            headers={"Origin": f"http://localhost:{self.app.port}"},
            timeout=60,
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        self.browsers.append(client)
        return client

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        with contextlib.closing(sqlite3.connect(self.database)) as db:
            return db.execute(sql, params).fetchall()

    async def wait_for_links(self, user_ids: Iterable[str], seconds: float) -> dict[str, str]:
        return await wait_for_links(self.fake, user_ids, seconds)

    async def answer_to(self, user_id: str, text: str) -> Message:
        """Run the slash command as `user_id`: the answer, in the acknowledgement or (when it
        was "One moment…", as on a loaded machine) through the response_url."""
        before = len(self.fake.state.messages)
        outcome = await self.fake.send_slash_command(user_id, text)
        assert outcome.acked, "not acknowledged within Slack's 3 seconds"
        # Its answer only: ephemeral or through the response_url, never a DM (the outbox's
        # "now connected" DM may arrive meanwhile).
        return await self.fake.wait_for_message(
            lambda m: m.user_id == user_id and m.where != "dm" and m.text != "One moment…",
            30,
            after=before,
        )

    async def kill(self) -> None:
        """SIGKILL the app: it ends wherever it is, as in a crash or at the OOM killer."""
        assert self.app.process is not None
        if self.app.process.returncode is None:
            self.app.process.kill()
        await self.app.process.wait()

    async def restart(self) -> None:
        """Start the app again on the same database and port, once the fake Slack has seen
        the old connection go (it has no event for that: looked at every 50 ms, 10 s at
        most)."""
        for _ in range(200):
            if not self.fake.open_connections:
                break
            await asyncio.sleep(0.05)
        assert not self.fake.open_connections, "the fake Slack kept the dead app's socket"
        self.app = AppProcess(self.app.tmp_path, **self.app.settings)
        await self.app.start()
        await self.fake.wait_connected()


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, people: int, **settings: str) -> AsyncIterator[Crowd]:
    """The app in a child process (SIGTERM at the end, unless a test killed it), a fake
    Slack with `people` more people, all on loopback."""
    workspace = FakeWorkspace()
    extra = crowd(people)
    workspace = FakeWorkspace(users=workspace.users + extra)
    fake = FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN, workspace=workspace)
    await fake.start()
    app = AppProcess(
        tmp_path,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_API_URL=fake.api_url,
        **{**SETTINGS, **settings},
    )
    database = tmp_path / "app.sqlite3"
    running = Crowd(
        fake=fake, app=app, people=extra, database=database, store=SQLiteStore(database)
    )
    try:
        await app.start()
        await fake.wait_connected()
        yield running
    except BaseException:
        print(f"The app's output, to its end:\n{running.app.output[-6000:]}")
        raise
    finally:
        for browser in running.browsers:
            await browser.aclose()
        await running.store.close()
        if running.app.process is not None and running.app.process.returncode is None:
            await running.app.stop()
        await fake.stop()


async def wait_for_links(
    fake: FakeSlack, user_ids: Iterable[str], seconds: float
) -> dict[str, str]:
    """Each person's link (the newest one each was sent, in the ack or through the
    response_url), waiting up to `seconds` for those that come late."""
    wanted = set(user_ids)
    found: dict[str, str] = {}
    seen = 0

    def scan() -> bool:  # only what arrived since the last look: a crowd sends many
        nonlocal seen
        messages = fake.state.messages
        for message in messages[seen:]:
            if message.user_id in wanted and message.where == "ephemeral":
                link = LINK.search(str(message.blocks)) or LINK.search(message.text)
                if link:
                    found[message.user_id] = link.group(0)
        seen = len(messages)
        return wanted <= found.keys()

    await fake.wait_until(scan, seconds)
    return found


async def add_users(store: SQLiteStore, names: Iterable[str]) -> None:
    """Internal accounts with the password PASSWORD, made straight in the store (one hash
    for all: hashing is the slow part of making an account)."""
    password_hash = await asyncio.to_thread(hash_password, PASSWORD)
    for name in names:
        await store.create_user(name, f"{name}@example.com", password_hash, int(time.time()))


async def open_for(browser: httpx.AsyncClient, url: str, username: str) -> httpx.Response:
    """`username` opens the link in `browser` and logs in for it; the confirm page."""
    opened = await browser.get(urlsplit(url).path)
    assert opened.status_code == 303, opened.text
    logged_in = await login(browser, username, PASSWORD, next_path="/bind")
    assert logged_in.status_code == 303, logged_in.text
    page = await browser.get("/bind")
    assert page.status_code == 200 and 'value="connect"' in page.text, page.text
    return page


async def session_for(store: SQLiteStore, username: str, url: str) -> str:
    """A session of `username` made for the link `url` as a login makes one
    (`SessionService.start` with the link's hash), without typing the password: argon2 costs
    a login a tenth of a second of CPU, which for a crowd would be most of the test. The
    session cookie's value."""
    found = await store.find_credentials(username)
    assert found is not None, username
    sessions = SessionService(store, idle_timeout=3600, max_age=3600)
    return await sessions.start(found[0].id, digest(nonce_of(url)))


def nonce_of(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1]


async def open_with_session(
    browser: httpx.AsyncClient, url: str, store: SQLiteStore, username: str
) -> httpx.Response:
    """`username` opens the link in `browser` holding a session made for it (`session_for`).
    The confirm page."""
    opened = await browser.get(urlsplit(url).path)
    assert opened.status_code == 303, opened.text
    browser.cookies.set(
        cookies.SESSION, await session_for(store, username, url), domain="127.0.0.1"
    )
    page = await browser.get("/bind")
    assert page.status_code == 200 and 'value="connect"' in page.text, page.text
    return page


async def connect(browser: httpx.AsyncClient, page: httpx.Response) -> httpx.Response:
    """Press Connect on the confirm page `page`."""
    return await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})


async def limited(calls: Iterable[Callable[[], Awaitable[T]]], at_once: int) -> list[T]:
    """Each call's result, in order, with at most `at_once` running at a time."""
    slots = asyncio.Semaphore(at_once)

    async def run(call: Callable[[], Awaitable[T]]) -> T:
        async with slots:
            return await call()

    return list(await asyncio.gather(*(run(call) for call in calls)))
