"""Resume: the command a person ran before connecting runs by itself once the binding is made,
if they tick it on the confirm page, and its answer reaches them (README "Resuming the first
command"). Through the real app, the fake Slack and the stand-in's to-do plugin."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import RunningApp, find_link, hidden_fields, run_app
from oidc_provider import provider_url
from test_act_as_oauth2 import grant_at_provider, oauth2_app

from account_binding.audit import Actor, AuditLog
from account_binding.binding import BindingPolicy, BindingService
from account_binding.crypto import TokenCipher
from account_binding.models import SlackIdentity, SlackProfile
from account_binding.resume import (
    MAX_RESUME_TEXT,
    RESPONSE_URL_LIFETIME_SECONDS,
    PendingCommand,
)
from account_binding.sqlite_store import SQLiteStore
from bolt_app.commands import Arguments, CommandContext, Reply, Subcommand, reply
from bolt_app.commands.core import FIRST, LAST
from fake_slack import Message

INTRO = "The command you ran before connecting"
#: How long a test waits for something that must not happen (a resumed command's answer).
QUIET_SECONDS = 3.0

BOX = re.compile(r'<input type="checkbox" id="resume" name="resume" value="run"[^>]*>')


async def confirm_page_for(
    app: RunningApp, user_id: str, text: str, username: str = "ada"
) -> tuple[httpx.AsyncClient, httpx.Response]:
    """`user_id`, not connected, runs `text`; `username` (made if need be) opens the link
    and logs in for it: their browser and the confirm page."""
    if username not in app.users:
        await app.add_user(username)
    url = find_link(await app.command(user_id, text))
    browser, page = await app.open_link_as(username, url)
    assert page.status_code == 200, page.text
    return browser, page


def box(page: httpx.Response) -> str | None:
    """The confirm page's "After connecting, … will run" checkbox, if it shows one."""
    match = BOX.search(page.text)
    return match.group(0) if match else None


async def connect(
    browser: httpx.AsyncClient, page: httpx.Response, *, tick: bool
) -> httpx.Response:
    """Press Connect, the box ticked or not, as a browser posts the form."""
    form = {**hidden_fields(page), "action": "connect"}
    if tick:
        form["resume"] = "run"
    done = await browser.post("/bind", data=form)
    assert done.status_code == 200, done.text
    return done


def todos(app: RunningApp) -> list[str]:
    return [str(row[0]) for row in app.query("SELECT title FROM todos ORDER BY id")]


def resumed_audit(app: RunningApp) -> list[tuple[object, ...]]:
    return app.query(
        "SELECT username, scope_id, slack_user_id, client, detail FROM audit_events "
        "WHERE event = 'command_resumed'"
    )


async def audited(
    app: RunningApp, count: int = 1, seconds: float = 5.0
) -> list[tuple[object, ...]]:
    """The `command_resumed` entries, once there are `count` (each is written after its
    command's answer)."""
    deadline = time.monotonic() + seconds
    while True:
        rows = resumed_audit(app)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.05)


async def answer_to(app: RunningApp, user_id: str, seconds: float = 10.0) -> Message:
    return await app.fake.wait_for_message(
        lambda m: m.user_id == user_id and INTRO in m.text, seconds
    )


async def nothing_resumed(app: RunningApp, user_id: str) -> None:
    """No resumed command's answer reaches `user_id` within QUIET_SECONDS of the DM that
    says they are connected (the resume runs right after that DM)."""
    await app.fake.wait_for_message(lambda m: m.where == "dm" and m.user_id == user_id)
    with pytest.raises(TimeoutError):
        await answer_to(app, user_id, QUIET_SECONDS)


async def test_a_command_that_changes_data_starts_unticked_and_runs_when_ticked(
    running_app: RunningApp,
) -> None:
    app = running_app
    browser, page = await confirm_page_for(app, "U0ADA", "todo add Buy milk")

    shown = box(page)
    assert shown is not None and "checked" not in shown  # todo add changes data
    assert 'After connecting, <code class="typed">/acme todo add Buy milk</code> will run' in (
        page.text
    )
    assert "runs only if you tick this box" in page.text
    assert todos(app) == []

    done = await connect(browser, page, tick=True)
    assert "/acme todo add Buy milk</code> is running now" in done.text

    answer = await answer_to(app, "U0ADA")
    assert answer.source == "response_url" and answer.where == "ephemeral"
    assert "Added" in answer.text and "Buy milk" in answer.text
    assert answer.blocks[0]["type"] == "context"
    assert "`/acme todo add Buy milk`" in answer.blocks[0]["elements"][0]["text"]
    assert todos(app) == ["Buy milk"]
    assert await audited(app) == [
        ("ada", "T0SANDBOX", "U0ADA", "slack:U0ADA", "todo add; response_url")
    ]
    # The link's command was taken: nothing of it is left in the database.
    assert app.query("SELECT resume_text, resume_response_url FROM binding_requests") == [
        (None, None)
    ]


async def test_unticked_nothing_runs(running_app: RunningApp) -> None:
    app = running_app
    browser, page = await confirm_page_for(app, "U0ADA", "todo add Buy milk")
    done = await connect(browser, page, tick=False)
    assert "Go back to Slack and run your command again" in done.text
    assert "is running now" not in done.text

    await nothing_resumed(app, "U0ADA")
    assert todos(app) == []
    assert resumed_audit(app) == []
    assert app.query("SELECT resume_text FROM binding_requests") == [(None,)]


async def test_a_read_only_command_starts_ticked_and_runs(running_app: RunningApp) -> None:
    app = running_app
    browser, page = await confirm_page_for(app, "U0ADA", "todo")
    shown = box(page)
    assert shown is not None and shown.endswith(" checked>")  # `todo` only reads
    assert "It only reads from Acme; untick the box to skip it." in page.text

    await connect(browser, page, tick=True)  # as a browser posts a box left ticked
    answer = await answer_to(app, "U0ADA")
    assert answer.source == "response_url"
    assert "You have no to-do items in Acme" in answer.text
    assert (await audited(app))[0][-1] == "todo; response_url"
    # A resumed command is a use of the binding, as a typed one is ("last used" on the web).
    assert app.query("SELECT last_used_at IS NOT NULL FROM bindings") == [(1,)]


async def test_whoami_is_read_only_and_answers_from_the_new_binding(
    running_app: RunningApp,
) -> None:
    app = running_app
    browser, page = await confirm_page_for(app, "U0ADA", "whoami")
    shown = box(page)
    assert shown is not None and "checked" in shown
    await connect(browser, page, tick=True)
    answer = await answer_to(app, "U0ADA")
    assert "You are ada in Acme" in answer.text


async def test_an_old_response_url_is_not_used_and_the_answer_comes_by_dm(
    tmp_path: Path,
) -> None:
    async with run_app(tmp_path, BINDING_TTL="3600") as app:
        browser, page = await confirm_page_for(app, "U0ADA", "todo add Old milk")
        # The command arrived 31 minutes ago: Slack no longer takes posts to its response_url.
        app.query(
            "UPDATE binding_requests SET created_at = ?",
            (int(time.time()) - RESPONSE_URL_LIFETIME_SECONDS - 60,),
        )
        await connect(browser, page, tick=True)
        answer = await answer_to(app, "U0ADA")
        assert answer.where == "dm" and answer.source == "chat.postMessage"
        assert "Added" in answer.text and "Old milk" in answer.text
        assert not [m for m in app.fake.state.messages if m.source == "response_url"]
        assert todos(app) == ["Old milk"]
        assert (await audited(app))[0][-1] == "todo add; dm"


async def test_a_response_url_that_refuses_the_post_sends_a_dm(running_app: RunningApp) -> None:
    app = running_app
    browser, page = await confirm_page_for(app, "U0ADA", "todo add Refused milk")
    app.fake.fail("response_url", "used_url")  # Slack's answer after 5 posts
    await connect(browser, page, tick=True)
    answer = await answer_to(app, "U0ADA")
    assert answer.where == "dm" and "Refused milk" in answer.text
    assert todos(app) == ["Refused milk"]


async def test_the_link_subcommand_has_nothing_to_resume(running_app: RunningApp) -> None:
    app = running_app
    browser, page = await confirm_page_for(app, "U0ADA", "link")
    assert box(page) is None and "will run" not in page.text
    assert app.query("SELECT resume_text, resume_response_url FROM binding_requests") == [
        (None, None)
    ]
    await connect(browser, page, tick=True)  # even a forged tick has nothing to run
    await nothing_resumed(app, "U0ADA")
    assert resumed_audit(app) == []


async def test_a_replayed_connect_does_not_run_the_command_again(running_app: RunningApp) -> None:
    app = running_app
    browser, page = await confirm_page_for(app, "U0ADA", "todo add Once")
    await connect(browser, page, tick=True)
    await answer_to(app, "U0ADA")

    again = await browser.post(
        "/bind", data={**hidden_fields(page), "action": "connect", "resume": "run"}
    )
    assert again.status_code == 409  # already connected
    with pytest.raises(TimeoutError):
        await app.fake.wait_for_message(
            lambda m: INTRO in m.text, QUIET_SECONDS, after=len(app.fake.state.messages)
        )
    assert todos(app) == ["Once"]
    assert len(resumed_audit(app)) == 1


async def test_a_newer_link_replaces_the_older_ones_command(running_app: RunningApp) -> None:
    app = running_app
    await app.add_user("ada")
    first = find_link(await app.command("U0ADA", "todo add First"))
    second = find_link(await app.command("U0ADA", "todo add Second"))
    rows = app.query("SELECT resume_text, resume_response_url IS NOT NULL FROM binding_requests")
    assert sorted(rows, key=str) == sorted([(None, 0), ("todo add Second", 1)], key=str)

    replaced = await app.browser().get(urlsplit(first).path)
    assert replaced.status_code == 410 and "todo add First" not in replaced.text
    browser, page = await app.open_link_as("ada", second)
    assert "/acme todo add Second" in page.text
    await connect(browser, page, tick=True)
    await answer_to(app, "U0ADA")
    assert todos(app) == ["Second"]


async def test_the_command_is_shown_escaped_and_whole(running_app: RunningApp) -> None:
    app = running_app
    hostile = "todo add <b>bold</b> & <script>alert(1)</script>"
    browser, page = await confirm_page_for(app, "U0ADA", hostile)
    assert "<b>bold</b>" not in page.text and "<script>alert" not in page.text
    assert "/acme todo add &lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;" in page.text
    await connect(browser, page, tick=True)
    answer = await answer_to(app, "U0ADA")
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;" in answer.blocks[0]["elements"][0]["text"]
    assert todos(app) == ["<b>bold</b> & <script>alert(1)</script>"]  # stored as typed


async def test_a_command_too_long_to_show_whole_is_not_kept(running_app: RunningApp) -> None:
    app = running_app
    at_most = "todo add " + "x" * (MAX_RESUME_TEXT - len("todo add "))
    _, page = await confirm_page_for(app, "U0ADA", at_most)
    assert box(page) is not None and at_most in page.text
    too_long = at_most + "y"
    _, page = await confirm_page_for(app, "U0GRACE", too_long)
    assert box(page) is None
    assert app.query(
        "SELECT resume_text FROM binding_requests WHERE slack_user_id = 'U0GRACE'"
    ) == [(None,)]


async def test_a_command_unknown_now_is_not_run_and_the_person_is_told(
    running_app: RunningApp,
) -> None:
    app = running_app
    browser, page = await confirm_page_for(app, "U0ADA", "todo add Gone")
    # Its plugin removed since: the command names no subcommand now.
    app.query("UPDATE binding_requests SET resume_text = 'gone away now'")
    page = await browser.get("/bind")
    shown = box(page)
    assert shown is not None and "checked" not in shown  # unknown: the safe side
    await connect(browser, page, tick=True)
    answer = await answer_to(app, "U0ADA")
    assert answer.source == "response_url"
    assert "was not run" in answer.text
    assert "/acme gone away now is not a command I know now" in answer.text
    assert todos(app) == []
    assert (await audited(app))[0][-1] == "unknown; response_url"


async def test_bad_arguments_now_are_not_run_and_the_person_is_told(
    running_app: RunningApp,
) -> None:
    app = running_app
    browser, page = await confirm_page_for(app, "U0ADA", "todo done 3")
    app.query("UPDATE binding_requests SET resume_text = 'todo done seven'")
    page = await browser.get("/bind")
    await connect(browser, page, tick=True)
    answer = await answer_to(app, "U0ADA")
    assert "was not run: its arguments do not fit it now" in answer.text
    assert "Usage: /acme todo done &lt;number&gt;" in answer.text
    assert (await audited(app))[0][-1] == "todo done; bad_arguments; response_url"


async def test_the_answer_goes_only_to_the_slack_user_the_link_was_issued_to(
    running_app: RunningApp,
) -> None:
    """Grace forwards her link to Ada, who connects it: the command runs as the binding
    (Ada's account, for Grace's Slack identity) and its answer reaches Grace only."""
    app = running_app
    browser, page = await confirm_page_for(app, "U0GRACE", "todo", username="ada")
    await connect(browser, page, tick=True)
    answer = await answer_to(app, "U0GRACE")
    assert answer.user_id == "U0GRACE"
    assert not [m for m in app.fake.state.messages if m.user_id == "U0ADA"]
    assert (await audited(app))[0][:3] == ("ada", "T0SANDBOX", "U0GRACE")


async def test_the_command_runs_off_the_request_within_command_timeout_as_plugins_run(
    tmp_path: Path,
) -> None:
    """The success page comes back before the command's answer (it runs in the background),
    a handler that hangs is stopped at COMMAND_TIMEOUT and the person told, and a handler's own
    `ctx.respond` reaches them with the same heading."""
    async with run_app(
        tmp_path, COMMAND_PLUGINS="sample_plugins:sample", COMMAND_TIMEOUT="1"
    ) as app:
        browser, page = await confirm_page_for(app, "U0ADA", "hangs")
        assert box(page) is not None and "checked" not in box(page)  # undeclared: changes data
        await connect(browser, page, tick=True)
        assert not [m for m in app.fake.state.messages if INTRO in m.text]  # not waited for
        answer = await answer_to(app, "U0ADA")
        assert answer.source == "response_url"
        assert "hangs did not finish within 1 second (Acme may be slow" in answer.text

        browser, page = await confirm_page_for(app, "U0GRACE", "later 7", username="grace")
        await connect(browser, page, tick=True)
        answer = await answer_to(app, "U0GRACE")
        assert answer.source == "response_url" and "first answer for U0GRACE" in answer.text
        dm = await app.fake.wait_for_message(lambda m: "a DM with number 7" in m.text)
        assert dm.where == "dm" and dm.user_id == "U0GRACE"
        rows = await audited(app, count=2)
        assert sorted(str(row[-1]) for row in rows) == [
            "hangs; unavailable; response_url",
            "later; response_url",
        ]


async def test_under_act_as_oauth2_the_tick_at_connect_holds_through_the_grant(
    tmp_path: Path,
) -> None:
    """Connect goes to the authorization server first; the binding is made at the grant's
    callback. A command ticked at Connect runs then; one not ticked was dropped at Connect."""
    async with oauth2_app(tmp_path) as setup:
        app = setup.app
        for user_id, title, tick in (("U0ADA", "Granted", True), ("U0GRACE", "Skipped", False)):
            browser, page = await confirm_page_for(app, user_id, f"todo add {title}")
            form = {**hidden_fields(page), "action": "connect"}
            pressed = await browser.post("/bind", data={**form, "resume": "run"} if tick else form)
            answer = await grant_at_provider(provider_url(pressed))
            done = await browser.get("/grant/callback", params=answer)
            assert done.status_code == 200, done.text
            assert ("is running now" in done.text) is tick
        answer = await answer_to(app, "U0ADA")
        assert answer.source == "response_url" and "Granted" in answer.text
        await nothing_resumed(app, "U0GRACE")
        assert todos(app) == ["Granted"]


# The store and the declarations


IDENTITY = SlackIdentity.from_ids(team_id="T0ACME", user_id="U0ADA", enterprise_id=None)
PROFILE = SlackProfile("ada", "Acme", command="/acme")


class _Directory:
    async def person(self, identity: SlackIdentity) -> None:
        return None


def service_for(store: SQLiteStore) -> BindingService:
    return BindingService(store, TokenCipher("k"), AuditLog(store), _Directory(), BindingPolicy())


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "store.sqlite3")
    await store.open()
    yield store
    await store.close()


async def test_a_links_command_is_taken_once_and_only_after_binding(store: SQLiteStore) -> None:
    now = int(time.time())
    user = await store.create_user("ada", "ada@example.com", "!", now)
    await store.add_binding_request(
        "h", IDENTITY, PROFILE, now, now + 600, resume_text="todo", resume_response_url="sealed"
    )
    assert await store.take_resume("h") is None  # not bound yet
    await store.complete_binding("h", user.id, now, None, None)
    taken = await store.take_resume("h")
    assert taken is not None and taken.request.resume_text == "todo"
    assert taken.response_url_ciphertext == "sealed"
    assert await store.take_resume("h") is None  # once


async def test_a_voided_link_hands_out_no_command(store: SQLiteStore) -> None:
    now = int(time.time())
    await store.add_binding_request("h", IDENTITY, PROFILE, now, now + 600, resume_text="todo")
    await store.void_binding_request("h", now, "cancelled")
    assert await store.take_resume("h") is None


async def test_dropping_a_command_forgets_it_only_on_an_unused_link(store: SQLiteStore) -> None:
    now = int(time.time())
    user = await store.create_user("ada", "ada@example.com", "!", now)
    await store.add_binding_request("a", IDENTITY, PROFILE, now, now + 600, resume_text="todo")
    await store.drop_resume("a")
    dropped = await store.get_binding_request("a")
    assert dropped is not None and dropped.resume_text is None
    await store.add_binding_request("b", IDENTITY, PROFILE, now, now + 600, resume_text="todo")
    await store.complete_binding("b", user.id, now, None, None)
    await store.drop_resume("b")  # used: a late drop does not take it from the binding
    assert await store.take_resume("b") is not None


async def test_only_the_links_own_binding_takes_its_command(store: SQLiteStore) -> None:
    """The command runs for the binding made from its link only: the link's Slack identity,
    the user who connected it, once."""
    service = service_for(store)
    ada = await store.create_user("ada", "ada@example.com", "!", int(time.time()))
    eve = await store.create_user("eve", "eve@example.com", "!", int(time.time()))
    link = await service.issue_link(
        IDENTITY, PROFILE, PendingCommand.of("todo", "https://hooks.slack.com/commands/T/1/s")
    )
    binding = await service.confirm(link.nonce, ada, Actor(client="test"))
    other_identity = replace(binding, identity=replace(IDENTITY, user_id="U0EVE"))
    assert await service.take_resume(link.nonce, other_identity, ada) is None
    # The mismatch took the command too: nothing is left for a second try.
    assert await service.take_resume(link.nonce, binding, ada) is None

    link = await service.issue_link(IDENTITY, PROFILE, PendingCommand.of("todo", None))
    await store.remove_binding(IDENTITY, int(time.time()))
    binding = await service.confirm(link.nonce, ada, Actor(client="test"))
    assert await service.take_resume(link.nonce, binding, eve) is None

    link = await service.issue_link(
        IDENTITY, PROFILE, PendingCommand.of("todo add x", "https://hooks.slack.com/commands/T/2/s")
    )
    await store.remove_binding(IDENTITY, int(time.time()))
    binding = await service.confirm(link.nonce, ada, Actor(client="test"))
    taken = await service.take_resume(link.nonce, binding, ada)
    assert taken is not None and taken.text == "todo add x" and taken.command == "/acme"
    assert taken.response_url == "https://hooks.slack.com/commands/T/2/s"
    assert taken.identity == IDENTITY and taken.user == ada
    assert await service.take_resume(link.nonce, binding, ada) is None


async def test_the_response_url_is_stored_encrypted(running_app: RunningApp) -> None:
    app = running_app
    await app.command("U0ADA", "todo add Secret")
    response_url = app.fake.state.response_urls[-1]
    (stored,) = app.query("SELECT resume_response_url FROM binding_requests")[0]
    assert isinstance(stored, str) and response_url not in stored
    assert TokenCipher(app.settings.secret_key()).decrypt(stored) == response_url
    with sqlite3.connect(app.settings.database) as db:
        dump = "\n".join(db.iterdump())
    assert response_url not in dump


def test_a_subcommand_changes_data_unless_it_says_otherwise() -> None:
    async def handler(ctx: CommandContext, args: Arguments) -> Reply:
        return reply("hi")

    assert Subcommand("thing", "does", handler).changes_data is True
    quiet = Subcommand("thing", "does", handler, changes_data=False)
    assert quiet.changes_data is False
    with pytest.raises(ValueError, match="changes_data"):
        Subcommand("thing", "does", handler, changes_data="no")  # type: ignore[arg-type]
    whoami, link, unlink, help_ = (*FIRST, *LAST)
    assert not whoami.changes_data and not help_.changes_data
    assert link.changes_data and unlink.changes_data  # never resumed; undeclared: True


def test_pending_commands_keep_only_what_can_be_shown_whole() -> None:
    assert PendingCommand.of("  ", "https://hooks.slack.com/x") is None
    assert PendingCommand.of("x" * (MAX_RESUME_TEXT + 1), None) is None
    kept = PendingCommand.of(" todo ", "https://hooks.slack.com/secret")
    assert kept is not None and kept.text == "todo"
    assert "secret" not in repr(kept)


async def test_a_link_with_no_command_says_the_command_now_acts(running_app: RunningApp) -> None:
    """From `/acme link` (or the Home tab, the shortcut) no command was kept: the page does
    not ask to run a command "again"."""
    app = running_app
    await app.add_user("ada")
    url = find_link(await app.command("U0ADA", "link"))
    browser, page = await app.open_link_as("ada", url)
    done = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
    assert done.status_code == 200
    assert "run your command again" not in done.text
    assert "<code>/acme</code> now acts in Acme as you" in done.text
    assert "<code>/acme unlink</code>" in done.text
