"""No secret of a full flow appears in the logs, even at LOG_LEVEL=DEBUG, nor on any page."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from conftest import find_link, hidden_fields, login
from processes import AppProcess, run_command

from account_binding.crypto import TokenCipher
from fake_slack import FakeSlack

BOT_TOKEN = "xoxb-1234-5678-SecretBotTokenValue"
APP_TOKEN = "xapp-1-A0SANDBOX-9999-SecretAppTokenValue"
SECRET_KEY = "secret-key-that-must-not-be-logged"
PASSWORD = "hunter2-but-longer"


async def test_a_full_flow_leaves_no_secret_in_the_logs(tmp_path: Path) -> None:
    fake = FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN)
    await fake.start()
    await run_command(
        tmp_path, "user", "add", "ada", "--email", "ada@example.com", stdin=PASSWORD + "\n"
    )
    app = AppProcess(
        tmp_path,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_API_URL=fake.api_url,
        SECRET_KEY=SECRET_KEY,
        LOG_LEVEL="DEBUG",
        LOGIN_SLOWDOWN_SECONDS="0",
    )
    secrets = {
        "bot token": BOT_TOKEN,
        "app token": APP_TOKEN,
        "SECRET_KEY": SECRET_KEY,
        "password": PASSWORD,
    }
    pages: list[str] = []
    try:
        await app.start()
        await fake.wait_connected()
        await fake.send_slash_command("U0ADA", "whoami")
        url = find_link(fake.ephemerals("U0ADA"))
        secrets["nonce"] = urlsplit(url).path.rsplit("/", 1)[1]
        async with httpx.AsyncClient(
            base_url=app.base_url,
            trust_env=False,
            headers={"Origin": f"http://localhost:{app.port}"},
        ) as browser:
            pages.append((await browser.get(urlsplit(url).path)).text)
            pages.append((await browser.get("/bind")).text)
            pages.append((await login(browser, "ada", "wrong password", next_path="/bind")).text)
            response = await login(browser, "ada", PASSWORD, next_path="/bind")
            secrets["session cookie"] = response.cookies["session"]
            page = await browser.get("/bind")
            secrets["CSRF token"] = hidden_fields(page)["csrf_token"]
            pages.append(
                (
                    await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
                ).text
            )
            pages.append((await browser.get(urlsplit(url).path)).text)  # the used link
            pages.append(
                (await browser.post("/bind", data={"action": "connect"})).text
            )  # CSRF-less
        await fake.wait_for_message(lambda m: m.where == "dm")
        await fake.send_slash_command("U0ADA", "todo add Something")
        await fake.wait_for_message(lambda m: m.source == "response_url")
        with sqlite3.connect(tmp_path / "app.sqlite3") as db:
            (ciphertext,) = db.execute("SELECT api_token_ciphertext FROM bindings").fetchone()
        api_token = TokenCipher(SECRET_KEY).decrypt(ciphertext)
        assert api_token
        secrets["API token"] = api_token  # the Slack side used it for the to-do just added
        for n, response_url in enumerate(fake.state.response_urls):
            secrets[f"response_url {n}"] = response_url.rsplit("/", 1)[1]
        for n, ticket in enumerate(fake.state.tickets):
            secrets[f"Socket Mode ticket {n}"] = ticket
        secrets["verification token"] = "deprecated-verification-token"
    finally:
        await app.stop()
        await fake.stop()

    logs = app.output
    assert "DEBUG" in logs and "envelope" in logs.lower()  # the debug logs really ran
    assert "/bind/[redacted]" in logs
    for name, secret in secrets.items():
        assert secret and len(secret) >= 8, name
        assert secret not in logs, f"the {name} is in the logs"
        for page in pages:
            assert secret not in page or name == "CSRF token", f"the {name} is on a page"
    assert not re.search(r"Traceback", logs)
