"""Issue 11, graceful shutdown: `account-binding run` in a child process, stopped with SIGTERM
(or SIGINT) as a service manager (or a person at a terminal) does, while work is in flight.

It stops taking envelopes at once, acknowledges every envelope it took, closes the Socket
Mode connection, lets the commands in flight answer, and exits 0; what outlasts
SHUTDOWN_TIMEOUT is cut off at the deadline and logged. The fake Slack and the internal
application (a tiny server here that holds its answer until the test lets it go) are real
servers on loopback; nothing in the app is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from aiohttp import web
from conftest import RunningApp, make_settings
from processes import AppProcess, free_port

from account_binding.sqlite_store import SQLiteStore
from fake_slack import FakeSlack
from fake_slack.server import HeldCall

BOT, APP = "xoxb-test-bot-token", "xapp-test-app-token"
TESTS = Path(__file__).resolve().parent
#: SHUTDOWN_TIMEOUT where a test lets the time run out (a small one keeps the test short).
SHUTDOWN_TIMEOUT = 2
#: What a shared, noisy machine may add to SHUTDOWN_TIMEOUT before the process has exited:
#: far less than the command that outlasts it would take (COMMAND_TIMEOUT=60).
MARGIN_SECONDS = 12


@dataclass
class HeldApi:
    """The internal application: GET /echo answers {"said": q} once `released` is set."""

    url: str
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)


@contextlib.asynccontextmanager
async def held_api() -> AsyncIterator[HeldApi]:
    port = free_port()
    api = HeldApi(url=f"http://127.0.0.1:{port}")

    async def echo(request: web.Request) -> web.Response:
        api.arrived.set()
        await api.released.wait()
        return web.json_response({"said": request.query.get("q", "")})

    app = web.Application()
    app.router.add_get("/echo", echo)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield api
    finally:
        api.released.set()
        await runner.cleanup()


class WatchedApp(AppProcess):
    """`account-binding run` whose output a test can wait for."""

    def __init__(self, tmp_path: Path, **settings: str) -> None:
        super().__init__(tmp_path, **settings)
        self._line = asyncio.Condition()

    async def _read(self) -> None:
        assert self.process and self.process.stdout
        async for line in self.process.stdout:
            async with self._line:
                self.output += line.decode()
                self._line.notify_all()

    async def wait_for_output(self, text: str, seconds: float = 10.0) -> None:
        async with self._line:
            await asyncio.wait_for(self._line.wait_for(lambda: text in self.output), seconds)

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None and self.process.returncode is None
        self.process.send_signal(sig)

    async def exit_code(self, seconds: float) -> int:
        assert self.process is not None
        code = await asyncio.wait_for(self.process.wait(), seconds)
        await self._reader
        return code


def environment(fake: FakeSlack, **extra: str) -> dict[str, str]:
    """The settings `run` gets (the test's own `make_settings` reads the same)."""
    return {
        "SLACK_BOT_TOKEN": BOT,
        "SLACK_APP_TOKEN": APP,
        "SLACK_API_URL": fake.api_url,
        "SECRET_KEY": "test-secret-key-for-encryption-at-rest",
        "INTERNAL_APP_NAME": "Acme",
        "LOGIN_SLOWDOWN_SECONDS": "0",
        **extra,
    }


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, fake: FakeSlack, **settings: str) -> AsyncIterator[WatchedApp]:
    """`run` started and connected to `fake`; killed at the end if a test left it running."""
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
    app = WatchedApp(tmp_path, **environment(fake, **settings), PYTHONPATH=path)
    try:
        await app.start()
        await fake.wait_connected()
        yield app
    finally:
        if app.process is not None and app.process.returncode is None:
            app.process.kill()
            await app.process.wait()


async def bind(tmp_path: Path, fake: FakeSlack, app: WatchedApp, slack_user: str) -> None:
    """`ada` (made here) binds `slack_user` through the running app's Slack and pages."""
    settings = make_settings(tmp_path, app.port, fake.api_url, **environment(fake))
    store = SQLiteStore(settings.database)
    await store.open()
    try:
        async with httpx.AsyncClient(base_url=app.base_url, trust_env=False) as http:
            person = RunningApp(
                fake=fake, settings=settings, base_url=app.base_url, http=http, store=store
            )
            try:
                await person.bind("ada", slack_user)
            finally:
                for browser in person.browsers:
                    await browser.aclose()
    finally:
        await store.close()


class Fake(FakeSlack):
    """The fake Slack, letting every call it holds go before it stops (a failed test would
    otherwise leave its stop waiting for the held call)."""

    def __init__(self) -> None:
        super().__init__(bot_token=BOT, app_token=APP)
        self.held: list[HeldCall] = []

    def hold(self, method: str) -> HeldCall:
        held = super().hold(method)
        self.held.append(held)
        return held

    async def stop(self) -> None:
        for held in self.held:
            held.release()
        await super().stop()


@contextlib.asynccontextmanager
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = Fake()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


async def test_sigterm_lets_the_command_in_flight_answer_closes_the_socket_and_exits_0(
    tmp_path: Path,
) -> None:
    """A command waits on a slow internal application, and a Home tab being opened on a slow
    `views.publish`, when SIGTERM comes. The app closes the Socket Mode connection at once
    (both were acknowledged), so Slack has nowhere to deliver a new command; it keeps running
    until the command's answer has reached the person through its response_url and the Home
    tab is published, then exits 0, well within SHUTDOWN_TIMEOUT."""
    async with (
        held_api() as api,
        fake_slack() as fake,
        serving(
            tmp_path,
            fake,
            COMMAND_PLUGINS="sample_plugins:sample",
            INTERNAL_API_URL=api.url,
            COMMAND_TIMEOUT="60",
            SHUTDOWN_TIMEOUT="30",
        ) as app,
    ):
        await bind(tmp_path, fake, app, "U0ADA")
        outcome = await fake.send_slash_command("U0ADA", "remote")
        assert outcome.acked and not outcome.ack_payload  # answered after the ack
        await asyncio.wait_for(api.arrived.wait(), 10)  # in flight, at the internal API
        published = fake.home_view("U0ADA")  # at Connect
        publishing = fake.hold("views.publish")
        assert (await fake.send_event(fake.app_home_opened_event("U0ADA"))).acked
        await asyncio.wait_for(publishing.arrived.wait(), 10)  # in flight after its ack

        app.signal(signal.SIGTERM)
        await app.wait_for_output("Stopping (SIGTERM)")
        await fake.wait_until(lambda: fake.open_connections == 0, 10)
        assert app.process is not None and app.process.returncode is None  # still working
        try:
            await fake.send_slash_command("U0ADA", "whoami")
        except RuntimeError as error:  # as Slack: no connection to deliver to
            assert "no Socket Mode connection" in str(error)
        else:
            raise AssertionError("a command was delivered after the socket closed")

        # The pages are done; the lifespan's end waits for the command.
        await app.wait_for_output("for 1 event, 1 slash command in flight")
        api.released.set()
        answer = await fake.wait_for_message(
            lambda m: m.source == "response_url" and m.user_id == "U0ADA", 10
        )
        assert answer.text == "Acme said hello to ada"
        publishing.release()
        await fake.wait_until(lambda: fake.home_view("U0ADA") is not published, 10)
        code = await app.exit_code(30)
    assert code == 0, app.output
    assert "The Slack work in flight has finished" in app.output
    assert "cut off" not in app.output and "Traceback" not in app.output
    with sqlite3.connect(tmp_path / "app.sqlite3") as db:  # the command's last step ran too
        ((used,),) = db.execute("SELECT last_used_at FROM bindings WHERE slack_user_id = 'U0ADA'")
    assert used is not None


async def test_envelopes_that_arrive_while_stopping_are_not_acted_on(tmp_path: Path) -> None:
    """The first command is still being handled (Slack is slow to answer the app's first
    auth.test) when SIGTERM comes, so the socket stays open until it is answered. Meanwhile
    a slash command is answered that the app is restarting and nothing was done, and an
    event (a Home tab opened) is left unacknowledged, for Slack to deliver again later, and so
    is Slack's retry of it: no Home tab is published. The first command's answer still reaches its sender."""
    async with fake_slack() as fake, serving(tmp_path, fake, SHUTDOWN_TIMEOUT="30") as app:
        held = fake.hold("auth.test")
        first = asyncio.create_task(fake.send_slash_command("U0ALAN", "help"))
        await asyncio.wait_for(held.arrived.wait(), 10)

        app.signal(signal.SIGTERM)
        await app.wait_for_output("Stopping (SIGTERM)")
        assert fake.open_connections == 1  # the first command is not answered yet
        opened = fake.app_home_opened_event("U0GRACE")
        refused, event = await asyncio.gather(
            fake.send_slash_command("U0GRACE", "help"),
            fake.send_event(opened, event_id="Ev0STOPPING"),
        )
        assert refused.acked and refused.ack_payload
        assert "The app is restarting, so this was not done" in refused.ack_payload["text"]
        assert not event.acked
        # Slack's retry is no repeat of something done: it is refused too, not dropped as
        # handled (which would acknowledge it, and Slack would never deliver it again).
        retry = await fake.send_event(opened, event_id="Ev0STOPPING", retry_attempt=1)
        assert not retry.acked

        held.release()
        assert (await first).acked
        late = await fake.wait_for_message(
            lambda m: m.source == "response_url" and m.user_id == "U0ALAN", 10
        )
        assert "whoami" in late.text  # the help the first command asked for
        code = await app.exit_code(30)
        await fake.wait_until(lambda: fake.open_connections == 0, 10)
    assert code == 0, app.output
    assert not [c for c in fake.state.api_calls if c.method == "views.publish"]
    assert [m.source for m in fake.messages_for("U0GRACE")] == ["ack"]  # the refusal alone
    assert "Traceback" not in app.output


async def test_a_command_that_outlasts_shutdown_timeout_is_cut_off_at_the_deadline(
    tmp_path: Path,
) -> None:
    """The internal application never answers (the command could take COMMAND_TIMEOUT, 60 s).
    SIGINT, as Ctrl-C at a terminal, stops the app like SIGTERM: it exits 0 once
    SHUTDOWN_TIMEOUT has run out, logging that it cut off one slash command."""
    async with (
        held_api() as api,
        fake_slack() as fake,
        serving(
            tmp_path,
            fake,
            COMMAND_PLUGINS="sample_plugins:sample",
            INTERNAL_API_URL=api.url,
            COMMAND_TIMEOUT="60",
            INTERNAL_API_TIMEOUT="60",
            SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT),
        ) as app,
    ):
        await bind(tmp_path, fake, app, "U0ADA")
        assert (await fake.send_slash_command("U0ADA", "remote")).acked
        await asyncio.wait_for(api.arrived.wait(), 10)

        app.signal(signal.SIGINT)
        code = await app.exit_code(SHUTDOWN_TIMEOUT + MARGIN_SECONDS)
        assert not api.released.is_set()  # it never answered: the deadline ended the wait
        await fake.wait_until(lambda: fake.open_connections == 0, 10)
    assert code == 0, app.output
    assert "Stopping (SIGINT)" in app.output
    assert (
        f"SHUTDOWN_TIMEOUT ({SHUTDOWN_TIMEOUT}s) ran out: cut off 1 slash command" in app.output
    ), app.output

    assert "Traceback" not in app.output
