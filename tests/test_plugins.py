"""Command plugins through the real app over Socket Mode: loaded from COMMAND_PLUGINS, run
after the acknowledgement with the acting mode's credential, and unable to break the ack or
the process whatever they do."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import RunningApp, find_link, run_app
from processes import run_command
from recording_api import RecordingApi, recording_api
from sample_plugins import LEAKED_TOKEN

from account_binding.tokens import digest
from launcher.logs import install_redaction

SERVICE_TOKEN = "service-credential-" + "x" * 24
KEY = "k" * 31 + "K"


@pytest.fixture
async def api() -> AsyncIterator[RecordingApi]:
    async with recording_api() as recording:
        yield recording


@pytest.fixture
async def app(tmp_path: Path, api: RecordingApi) -> AsyncIterator[RunningApp]:
    async with run_app(
        tmp_path,
        COMMAND_PLUGINS="sample_plugins:sample",
        INTERNAL_API_URL=api.url,
        COMMAND_TIMEOUT="1",
    ) as running:
        yield running


async def test_a_plugin_command_acts_with_the_persons_token(
    app: RunningApp, api: RecordingApi
) -> None:
    token = await app.bind("ada", "U0ADA")
    answer = await app.command("U0ADA", "remote")
    assert [m.source for m in answer] == ["response_url"]  # after an empty acknowledgement
    assert answer[0].text == "Acme said hello to ada"
    method, path, query, headers = api.calls[-1]
    assert (method, path, query) == ("GET", "/echo", "q=hello")
    assert headers["authorization"] == f"Bearer {token}"
    assert app.query("SELECT count(*) FROM api_tokens WHERE token_hash = ?", (digest(token),)) == [
        (1,)
    ]
    assert "impersonate-user" not in headers


async def test_a_plugin_command_acts_with_the_service_credential_naming_the_bound_user(
    tmp_path: Path, api: RecordingApi
) -> None:
    async with run_app(
        tmp_path,
        COMMAND_PLUGINS="sample_plugins:sample",
        INTERNAL_API_URL=api.url,
        ACT_AS="service",
        INTERNAL_API_TOKEN=SERVICE_TOKEN,
        IMPERSONATE_HEADER="X-Acting-For",
    ) as app:
        await app.bind("grace", "U0GRACE")
        answer = await app.command("U0GRACE", "post Fish & chips")
        assert answer[-1].text == "posted Fish &amp; chips"
        _, _, _, headers = api.calls[-1]
        assert headers["authorization"] == f"Bearer {SERVICE_TOKEN}"
        assert headers["x-acting-for"] == "grace"


async def test_a_handler_that_raises_gets_an_incident_id_the_log_has_without_its_secrets(
    app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    install_redaction()
    await app.bind("ada", "U0ADA")
    answer = await app.command("U0ADA", "fails")
    text = answer[-1].text
    assert "something went wrong in /acme fails" in text
    incident = text.split("under ")[1].rstrip(".")
    assert incident.startswith("err-")
    records = [r for r in caplog.records if incident in r.getMessage()]
    assert records and records[0].levelno == logging.ERROR
    logged = caplog.text
    assert "RuntimeError: the plugin broke" in logged  # the traceback is there...
    assert LEAKED_TOKEN not in logged and LEAKED_TOKEN not in text  # ...without the secret
    # The process goes on: the next command works.
    assert (await app.command("U0ADA", "remote"))[-1].text == "Acme said hello to ada"


async def test_a_handler_that_hangs_is_stopped_at_command_timeout(
    app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    await app.bind("ada", "U0ADA")
    answer = await app.command("U0ADA", "hangs")
    assert "did not finish within 1 second" in answer[-1].text
    assert (await app.command("U0ADA", "remote"))[-1].text == "Acme said hello to ada"
    # The abandoned handler's cancellation is not reported as a second failure.
    assert "never retrieved" not in caplog.text and "CancelledError" not in caplog.text


async def test_a_handler_that_blocks_its_thread_does_not_delay_anyones_acknowledgement(
    app: RunningApp,
) -> None:
    await app.bind("ada", "U0ADA")
    blocked = asyncio.create_task(app.fake.send_slash_command("U0ADA", "blocks"))
    await asyncio.sleep(0.5)  # the handler is now in time.sleep
    for text in ("help", "whoami", "todo"):
        outcome = await app.fake.send_slash_command("U0ALAN" if text == "help" else "U0ADA", text)
        assert outcome.acked, f"{text} was not acknowledged within 3 seconds"
    assert (await blocked).acked
    timed_out = await app.fake.wait_for_message(
        lambda m: m.source == "response_url" and "did not finish" in m.text
    )
    assert "/acme blocks did not finish within 1 second" in timed_out.text


async def test_a_handler_answers_later_and_by_dm(app: RunningApp) -> None:
    await app.bind("ada", "U0ADA")
    await app.fake.send_slash_command("U0ADA", "later 7")
    later = await app.fake.wait_for_message(
        lambda m: m.source == "response_url" and "first answer" in m.text
    )
    assert later.text == "first answer for U0ADA"
    dm = await app.fake.wait_for_message(lambda m: m.where == "dm" and "number 7" in m.text)
    assert dm.user_id == "U0ADA"


async def test_a_handler_that_calls_sys_exit_stops_neither_the_app_nor_the_handlers(
    app: RunningApp,
) -> None:
    await app.bind("ada", "U0ADA")
    answer = await app.command("U0ADA", "exits")
    assert "something went wrong in /acme exits" in answer[-1].text
    assert (await app.command("U0ADA", "remote"))[-1].text == "Acme said hello to ada"


async def test_a_handler_returning_something_else_is_an_incident(app: RunningApp) -> None:
    await app.bind("ada", "U0ADA")
    answer = await app.command("U0ADA", "wrong")
    assert "something went wrong in /acme wrong" in answer[-1].text


async def test_a_rejected_argument_says_why_under_the_usage_line(app: RunningApp) -> None:
    await app.bind("ada", "U0ADA")
    (answer,) = await app.command("U0ADA", "later 0")
    assert answer.text == "Usage: /acme later &lt;number&gt;"
    assert "number: not between 1 and 9223372036854775807: 0" in str(answer.blocks)


@pytest.mark.parametrize(
    ("text", "usage"),
    [
        ("later", "later &lt;number&gt;"),
        ("later seven", "later &lt;number&gt;"),
        ("fails now", "fails"),
    ],
)
async def test_bad_arguments_get_the_subcommands_usage_line(
    app: RunningApp, text: str, usage: str
) -> None:
    await app.bind("ada", "U0ADA")
    answer = await app.command("U0ADA", text)
    assert [m.source for m in answer] == ["ack"]
    assert answer[0].text == f"Usage: /acme {usage}"


async def test_the_help_lists_the_plugins_subcommands_but_not_the_stand_ins(
    app: RunningApp,
) -> None:
    (help_message,) = await app.command("U0ALAN", "help")
    rendered = str(help_message.blocks)
    assert "`/acme remote` asks Acme" in rendered and "`/acme later &lt;number&gt;`" in rendered
    assert "todo" not in rendered  # INTERNAL_API_URL points elsewhere: no stand-in plugin


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (401, "no longer accepts this Slack account's connection"),
        (403, "Acme refused: refused by the recording API"),
        (404, "Acme refused: refused by the recording API"),
        # `remote` does not declare changes_data, but sent only a GET: nothing was done.
        (503, "Acme is not available just now (refused by the recording API), so nothing"),
        (504, "Acme is not responding (refused by the recording API), so nothing was done."),
        (500, "Acme failed (refused by the recording API), so nothing was done."),
    ],
)
async def test_refusals_of_the_internal_application_are_said_plainly(
    app: RunningApp, api: RecordingApi, status: int, says: str
) -> None:
    await app.bind("ada", "U0ADA")
    api.status = status
    answer = await app.command("U0ADA", "remote")
    assert says in answer[-1].text


async def test_a_refused_service_credential_is_the_administrators_problem(
    tmp_path: Path, api: RecordingApi
) -> None:
    async with run_app(
        tmp_path,
        COMMAND_PLUGINS="sample_plugins:sample",
        INTERNAL_API_URL=api.url,
        ACT_AS="service",
        INTERNAL_API_TOKEN=SERVICE_TOKEN,
    ) as app:
        await app.bind("grace", "U0GRACE")
        api.status = 401
        answer = await app.command("U0GRACE", "remote")
        assert "did not accept this app's own credential" in answer[-1].text
        assert "tell your administrator" in answer[-1].text.lower()


def _with_tests_on_path() -> str:
    here = str(Path(__file__).parent)
    return os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)


@pytest.mark.parametrize(
    ("plugins", "says"),
    [
        (
            "sample_plugins:clashing",
            "Plugin 'clashing' declares the subcommand 'todo', which the stand-in's plugin "
            "'todo' has while INTERNAL_API_URL is unset: rename it in your plugin, or set "
            "INTERNAL_API_URL to your application",
        ),
        ("sample_plugins:not_a_plugin", "is a dict, not a bolt_app.commands.CommandPlugin"),
        ("sample_plugins:missing", "AttributeError"),
        ("no_such_module:plugin", "ModuleNotFoundError"),
        ("no-such-installed-plugin", "neither module:object nor an installed plugin"),
    ],
)
async def test_a_plugin_that_cannot_load_stops_the_start_with_one_line(
    tmp_path: Path, plugins: str, says: str
) -> None:
    code, _, err = await run_command(
        tmp_path, "run", COMMAND_PLUGINS=plugins, SECRET_KEY=KEY, PYTHONPATH=_with_tests_on_path()
    )
    assert code != 0
    lines = [line for line in err.splitlines() if line.startswith("account-binding: ")]
    assert len(lines) == 2 and says in lines[1], err  # the database line, then the reason
    assert "Traceback" not in err


async def test_an_expired_token_asks_the_person_to_link_again(
    tmp_path: Path, api: RecordingApi
) -> None:
    async with run_app(
        tmp_path,
        COMMAND_PLUGINS="sample_plugins:sample",
        INTERNAL_API_URL=api.url,
        API_TOKEN_TTL="3600",
    ) as app:
        await app.bind("ada", "U0ADA")
        assert (await app.command("U0ADA", "remote"))[-1].text == "Acme said hello to ada"
        calls = len(api.calls)
        app.query("UPDATE api_tokens SET expires_at = 1")
        answer = await app.command("U0ADA", "remote")
        assert [m.source for m in answer] == ["ack"]
        assert "connection to Acme has expired" in answer[0].text + str(answer[0].blocks)
        assert find_link(answer)
        assert len(api.calls) == calls  # the expired token was never sent
        assert app.query("SELECT count(*) FROM bindings") == [(0,)]


@pytest.fixture
def installed_surprise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A distribution on sys.path whose entry point `surprise` (group account_binding.commands)
    is the sample plugin: what `pip install` of a plugin package leaves behind."""
    site = tmp_path / "site"
    info = site / "surprise_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: surprise-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[account_binding.commands]\nsurprise = sample_plugins:sample\n"
    )
    monkeypatch.syspath_prepend(str(site))


async def test_an_installed_plugin_adds_no_command_unless_named(
    tmp_path: Path, installed_surprise: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bolt_app.commands")
    async with run_app(tmp_path / "one") as app:
        (help_message,) = await app.command("U0ALAN", "help")
        assert "remote" not in str(help_message.blocks)
        (unknown,) = await app.command("U0ALAN", "remote")
        assert "don't know `remote`" in unknown.blocks[0]["text"]["text"]
    assert "surprise" in caplog.text  # listed at start, not loaded
    for selection in ("surprise", "*"):
        async with run_app(tmp_path / selection.strip("*") / "x", COMMAND_PLUGINS=selection) as app:
            (help_message,) = await app.command("U0ALAN", "help")
            assert "`/acme remote` asks Acme" in str(help_message.blocks)


async def test_one_plugins_blocking_call_does_not_fail_other_peoples_commands(
    tmp_path: Path, api: RecordingApi
) -> None:
    """Each handler has a loop and thread of its own: one blocked in a synchronous call (as
    plugin authors often write) does not make another person's command time out."""
    async with run_app(
        tmp_path,
        COMMAND_PLUGINS="sample_plugins:sample",
        INTERNAL_API_URL=api.url,
        COMMAND_TIMEOUT="2",
    ) as app:
        await app.bind("ada", "U0ADA")
        await app.bind("grace", "U0GRACE")
        blocked = asyncio.create_task(app.command("U0ADA", "blocks"))
        await asyncio.sleep(0.5)  # ada's handler is in time.sleep(4)
        answer = await app.command("U0GRACE", "remote")
        assert answer[-1].text == "Acme said hello to grace", answer[-1].text
        await blocked
