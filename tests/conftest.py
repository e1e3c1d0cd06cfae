"""Fixtures that run the real app: uvicorn serving the Starlette site on loopback, the Bolt app
connected over a real websocket to a fake Slack, a real SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from account_binding.accounts import AccountService
from account_binding.crypto import TokenCipher
from account_binding.models import User
from account_binding.settings import Settings, load_settings
from account_binding.sqlite_store import SQLiteStore
from fake_slack import FakeSlack, Message
from launcher.compose import SlackConnection, build_site

PASSWORD = "correct horse battery"
LINK = re.compile(r"https?://[^\s|>]+/bind/[A-Za-z0-9_-]+")


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack_sdk reads proxy variables and ignores NO_PROXY; tests talk to loopback only."""
    for name in (
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "https_proxy",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def make_settings(tmp_path: Path, port: int, api_url: str, **extra: str) -> Settings:
    environ = {
        "SLACK_BOT_TOKEN": "xoxb-test-bot-token",
        "SLACK_APP_TOKEN": "xapp-test-app-token",
        "SLACK_API_URL": api_url,
        "PORT": str(port),
        "DATABASE": str(tmp_path / "app.sqlite3"),
        "SECRET_KEY": "test-secret-key-for-encryption-at-rest",
        "INTERNAL_APP_NAME": "Acme",
        "LOGIN_SLOWDOWN_SECONDS": "0",
        **extra,
    }
    return load_settings(environ, env_file=None)


@dataclass
class RunningApp:
    """The app as a person and Slack see it."""

    fake: FakeSlack
    settings: Settings
    base_url: str
    http: httpx.AsyncClient
    store: SQLiteStore
    users: dict[str, User] = field(default_factory=dict)
    browsers: list[httpx.AsyncClient] = field(default_factory=list)
    #: The ASGI site (issue 11: its `state.services` holds the Metrics and ConnectionState).
    site: Starlette | None = None

    async def add_user(
        self, username: str, email: str | None = None, password: str = PASSWORD
    ) -> User:
        user = await AccountService(self.store).add_user(
            username, email or f"{username}@example.com", password
        )
        self.users[username] = user
        return user

    def browser(self) -> httpx.AsyncClient:
        """A fresh cookie jar: another person's browser."""
        client = httpx.AsyncClient(
            base_url=self.base_url,
            follow_redirects=False,
            trust_env=False,
            headers=browser_headers(self.settings),
        )
        self.browsers.append(client)
        return client

    async def command(self, user_id: str, text: str) -> list[Message]:
        """Run the slash command as `user_id`; the messages it produced (ack and follow-ups)."""
        before = len(self.fake.state.messages)
        outcome = await self.fake.send_slash_command(user_id, text)
        assert outcome.acked, "the app did not acknowledge within 3 seconds"
        if not outcome.ack_payload:
            await self.fake.wait_for_message(
                lambda m: m.user_id == user_id and m.source == "response_url", after=before
            )
        return self.fake.state.messages[before:]

    async def bind(self, username: str, slack_user: str) -> str:
        """Bind `username` (made if need be) to `slack_user` in a browser; the API token issued
        ("" under ACT_AS=service, which issues none)."""
        if username not in self.users:
            await self.add_user(username)
        url = await self.link_for(slack_user)
        browser = self.browser()
        await browser.get(urlsplit(url).path)
        await login(browser, username, next_path="/bind")
        page = await browser.get("/bind")
        before = self.background_marks()
        done = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
        assert done.status_code == 200, done.text
        await self.after_connect(before, slack_user)
        with sqlite3.connect(self.settings.database) as db:
            (ciphertext,) = db.execute(
                "SELECT api_token_ciphertext FROM bindings WHERE slack_user_id = ?", [slack_user]
            ).fetchone()
        if self.settings.act_as == "service":
            assert ciphertext is None
            return ""
        token = TokenCipher(self.settings.secret_key()).decrypt(ciphertext)
        assert token
        return token

    def background_marks(self) -> tuple[int, int]:
        """How many messages and views.publish calls the fake Slack has seen: take it before
        pressing Connect, for `after_connect`."""
        publishes = sum(1 for c in self.fake.state.api_calls if c.method == "views.publish")
        return len(self.fake.state.messages), publishes

    async def after_connect(self, before: tuple[int, int], slack_user: str | None = None) -> None:
        """Wait (a few seconds at most) for the work a Connect leaves for after its page: the
        DM that confirms it, then the Home tab republished; so that a test's next command
        or count of Slack calls does not catch them late."""
        messages, publishes = before
        with contextlib.suppress(TimeoutError):
            await self.fake.wait_for_message(
                lambda m: m.where == "dm" and slack_user in (None, m.user_id), 5.0, after=messages
            )
        with contextlib.suppress(TimeoutError):
            await self.fake.wait_until(lambda: self.background_marks()[1] > publishes, 5.0)

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.settings.database) as db:
            return db.execute(sql, params).fetchall()

    async def link_for(self, user_id: str) -> str:
        messages = await self.command(user_id, "link")
        return find_link(messages)

    async def open_link_as(
        self, username: str, url: str
    ) -> tuple[httpx.AsyncClient, httpx.Response]:
        """`username` opens the association URL `url` in a browser of their own and logs in
        for it; the browser and the page /bind then shows."""
        browser = self.browser()
        await browser.get(urlsplit(url).path)
        await login(browser, username, next_path="/bind")
        return browser, await browser.get("/bind")


@contextlib.contextmanager
def write_lock_held(database: Path) -> Iterator[None]:
    """Another connection takes SQLite's write lock (BEGIN IMMEDIATE) on `database`."""
    other = sqlite3.connect(database, isolation_level=None, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()


def browser_headers(settings: Settings) -> dict[str, str]:
    """What a browser on the site's own pages sends with every post: its Origin."""
    return {"Origin": settings.public_origin}


def find_link(messages: list[Message]) -> str:
    for message in messages:
        for block in message.blocks:
            for element in block.get("elements", []):
                if element.get("type") == "button" and "url" in element:
                    return str(element["url"])
        match = LINK.search(message.text)
        if match:
            return match.group(0)
    raise AssertionError(f"no association URL in {messages!r}")


async def login(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD, next_path: str = "/"
) -> httpx.Response:
    page = await client.get("/login", params={"next": next_path})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    return await client.post(
        "/login",
        data={
            **hidden_fields(page),  # as a browser posts them: the link a login is for, if any
            "username": username,
            "password": password,
            "csrf_token": token.group(1),
            "next": next_path,
        },
    )


def hidden_fields(page: httpx.Response) -> dict[str, str]:
    """The hidden fields of the page's form, as a browser would post them."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))


def csrf_of(page: httpx.Response) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    return token.group(1)


@contextlib.asynccontextmanager
async def run_app(
    tmp_path: Path, *, sock: socket.socket | None = None, **extra_settings: str
) -> AsyncIterator[RunningApp]:
    """The app served on loopback with these settings, connected to a fresh fake Slack.
    `sock` is the listening socket to serve on (`free_socket()`), when a test must know the
    port first (to register PUBLIC_URL's redirect URIs at a provider); it is closed after."""
    fake = FakeSlack(bot_token="xoxb-test-bot-token", app_token="xapp-test-app-token")
    await fake.start()
    sock = sock or free_socket()
    port = sock.getsockname()[1]
    try:
        settings = make_settings(tmp_path, port, fake.api_url, **extra_settings)
    except BaseException:
        sock.close()
        await fake.stop()
        raise
    app = build_site(
        settings, SlackConnection("xoxb-test-bot-token", "xapp-test-app-token", fake.api_url)
    )
    # As `run` serves it: the site itself believes X-Forwarded-For (TRUSTED_PROXIES) after
    # noting the socket's peer; uvicorn's own proxy-header handling would hide the peer.
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, lifespan="on", proxy_headers=False)
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    store = SQLiteStore(settings.database)
    try:
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.01)
        await fake.wait_connected()
        await store.open()
        base_url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(
            base_url=base_url,
            follow_redirects=False,
            trust_env=False,
            headers=browser_headers(settings),
        ) as http:
            running = RunningApp(
                fake=fake, settings=settings, base_url=base_url, http=http, store=store, site=app
            )
            try:
                yield running
            finally:
                for browser in running.browsers:
                    await browser.aclose()
    finally:
        await store.close()
        server.should_exit = True
        await serving
        await fake.stop()
        sock.close()


@pytest.fixture
async def running_app(tmp_path: Path) -> AsyncIterator[RunningApp]:
    async with run_app(tmp_path) as app:
        yield app


@pytest.fixture
def project_root() -> Iterator[Path]:
    yield Path(__file__).resolve().parent.parent
