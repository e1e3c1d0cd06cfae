"""The `account-binding` command, run as a person runs it."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from conftest import find_link, hidden_fields, login
from processes import AppProcess, run_command

from fake_slack import FakeSlack


async def test_user_add_reads_the_password_from_stdin_and_user_list_shows_it(
    tmp_path: Path,
) -> None:
    code, out, err = await run_command(
        tmp_path, "user", "add", "Ada", "--email", "ada@example.com", stdin="s3cret-password\n"
    )
    assert (code, err) == (0, ""), err
    assert "Added user ada" in out
    code, out, _ = await run_command(tmp_path, "user", "list")
    assert code == 0 and "ada\tada@example.com" in out


async def test_user_add_refuses_bad_details_in_one_line(tmp_path: Path) -> None:
    await run_command(
        tmp_path, "user", "add", "ada", "--email", "ada@example.com", stdin="s3cret-password\n"
    )
    for args, stdin, message in (
        (("ada", "--email", "x@example.com"), "s3cret-password\n", "already exists"),
        (("bob", "--email", "x@example.com"), "short\n", "at least 8 characters"),
        (("bob", "--email", "not-an-email"), "s3cret-password\n", "is not an email address"),
        (("bad name!", "--email", "x@example.com"), "s3cret-password\n", "A user name is"),
    ):
        code, _, err = await run_command(tmp_path, "user", "add", *args, stdin=stdin)
        assert code == 1 and message in err and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1


async def test_a_bad_setting_stops_the_start_with_one_line(tmp_path: Path) -> None:
    code, _, err = await run_command(tmp_path, "run", PORT="http", SECRET_KEY="k")
    assert code == 2
    assert err.strip() == "account-binding: PORT must be a whole number, not 'http'"


async def test_a_refused_slack_token_stops_the_start_with_one_line(tmp_path: Path) -> None:
    fake = FakeSlack(bot_token="xoxb-right", app_token="xapp-right")
    await fake.start()
    try:
        code, _, err = await run_command(
            tmp_path,
            "run",
            SECRET_KEY="k",
            SLACK_BOT_TOKEN="xoxb-wrong",
            SLACK_APP_TOKEN="xapp-right",
            SLACK_API_URL=fake.api_url,
        )
        assert code == 1 and "Slack refused SLACK_BOT_TOKEN: invalid_auth" in err
        assert "Traceback" not in err
        code, _, err = await run_command(
            tmp_path,
            "run",
            SECRET_KEY="k",
            SLACK_BOT_TOKEN="xoxb-right",
            SLACK_APP_TOKEN="xapp-wrong",
            SLACK_API_URL=fake.api_url,
        )
        assert code == 1 and "Slack refused SLACK_APP_TOKEN: invalid_auth" in err
    finally:
        await fake.stop()


async def test_run_binds_a_user_added_with_the_cli_against_a_slack_at_slack_api_url(
    tmp_path: Path,
) -> None:
    """The deployed shape: tokens set, Slack reached through SLACK_API_URL, a user from `user add`."""
    fake = FakeSlack(bot_token="xoxb-deployed", app_token="xapp-deployed")
    await fake.start()
    await run_command(
        tmp_path, "user", "add", "ada", "--email", "ada@example.com", stdin="s3cret-password\n"
    )
    app = AppProcess(
        tmp_path,
        SLACK_BOT_TOKEN="xoxb-deployed",
        SLACK_APP_TOKEN="xapp-deployed",
        SLACK_API_URL=fake.api_url,
        INTERNAL_APP_NAME="Intranet",
    )
    try:
        await app.start()
        await fake.wait_connected()
        assert "SECRET_KEY is not set" in app.output  # generated and kept beside the database
        assert (tmp_path / "app.sqlite3.secret-key").is_file()

        outcome = await fake.send_slash_command("U0ADA", "whoami")
        assert outcome.acked and outcome.ack_payload
        url = find_link(fake.ephemerals("U0ADA"))
        assert url.startswith(f"http://localhost:{app.port}/bind/")
        async with httpx.AsyncClient(base_url=app.base_url, trust_env=False) as browser:
            assert (await browser.get(urlsplit(url).path)).status_code == 303
            await login(browser, "ada", "s3cret-password", next_path="/bind")
            page = await browser.get("/bind")
            assert "Intranet" in page.text
            done = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
            assert done.status_code == 200
        dm = await fake.wait_for_message(lambda m: m.where == "dm")
        assert dm.user_id == "U0ADA" and "Intranet" in dm.text
        await fake.send_slash_command("U0ADA", "whoami")
        answer = await fake.wait_for_message(lambda m: m.source == "response_url")
        assert "ada" in answer.text
        assert not re.search(r"/bind/[A-Za-z0-9_-]{20,}", app.output)  # no live link in the logs
    finally:
        code = await app.stop()
        await fake.stop()
    # uvicorn shuts down cleanly on SIGTERM, then ends by that signal as service managers expect.
    assert code in (0, -15), app.output
    assert "Application shutdown complete" in app.output
    assert "Traceback" not in app.output


async def test_a_port_in_use_stops_the_start_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = await run_command(tmp_path, "run", PORT=str(port), SECRET_KEY="k")
    assert code == 1
    assert (
        f"Cannot listen on 127.0.0.1 port {port}: Address already in use; set HOST or PORT" in err
    )
    assert "Traceback" not in err
