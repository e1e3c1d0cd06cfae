"""With no Slack tokens the start command opens the sandbox, where the whole flow works."""

from __future__ import annotations

import asyncio
import re
import socket
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import hidden_fields, login
from processes import AppProcess, free_port


async def test_the_whole_flow_in_the_sandbox(tmp_path: Path) -> None:
    sandbox_port = free_port()
    app = AppProcess(tmp_path, SANDBOX_PORT=str(sandbox_port))
    await app.start()
    try:
        assert "Sandbox mode" in app.output
        sandbox_url = re.search(r"Try the app as a Slack user:\s+(\S+)", app.output)
        demo = re.search(r"Demo login:\s+(\S+) / (\S+)", app.output)
        assert sandbox_url and demo
        assert sandbox_url.group(1) == f"http://127.0.0.1:{sandbox_port}/"
        username, password = demo.groups()

        async with httpx.AsyncClient(
            base_url=sandbox_url.group(1),
            trust_env=False,
            follow_redirects=True,
            headers={"Sec-Fetch-Site": "same-origin"},  # as a browser posts the page's form
        ) as slack:
            page = await slack.get("/")
            assert page.status_code == 200 and "App connected over Socket Mode" in page.text
            # Ada types "/acme whoami"; the answer holds the link button.
            answered = await slack.post("/command", data={"user": "U0ADA", "text": "whoami"})
            assert answered.status_code == 200
            link = re.search(r'href="(http://localhost:\d+/bind/[^"]+)"', answered.text)
            assert link, answered.text
            assert "Only visible to you" in answered.text

            async with httpx.AsyncClient(
                base_url=app.base_url,
                trust_env=False,
                headers={"Origin": f"http://localhost:{app.port}"},
            ) as browser:
                assert (await browser.get(urlsplit(link.group(1)).path)).status_code == 303
                assert (
                    await login(browser, username, password, next_path="/bind")
                ).status_code == 303
                confirm = await browser.get("/bind")
                assert "U0ADA" in confirm.text
                done = await browser.post(
                    "/bind", data={**hidden_fields(confirm), "action": "connect"}
                )
                assert done.status_code == 200
                back = re.search(r'href="([^"]+)">Back to Slack', done.text)
                assert back and back.group(1) == f"http://127.0.0.1:{sandbox_port}/?user=U0ADA"

            for _ in range(50):
                page = await slack.get("/", params={"user": "U0ADA"})
                if "Direct message from the app" in page.text:
                    break
                await asyncio.sleep(0.1)
            assert "now connected to Acme as <strong>demo</strong>" in page.text

            answered = await slack.post("/command", data={"user": "U0ADA", "text": "whoami"})
            assert "You are connected to Acme as <strong>demo</strong>" in answered.text
            # Another Slack user is still unknown to the app.
            other = await slack.post("/command", data={"user": "U0GRACE", "text": "todo"})
            assert re.search(r'href="http://localhost:\d+/bind/', other.text)
            assert "You are connected" not in other.text
            bad = await slack.post("/command", data={"user": "U999", "text": "x"})
            assert bad.status_code == 400

        # Issue 11: the probes tell an operator this is the sandbox, ready.
        async with httpx.AsyncClient(base_url=app.base_url, trust_env=False) as probe:
            ready = await probe.get("/readyz", headers={"Host": f"localhost:{app.port}"})
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"]["slack"]["state"] == "sandbox"
    finally:
        await app.stop()
    assert "Traceback" not in app.output


async def test_the_sandbox_page_refuses_other_sites_and_names(tmp_path: Path) -> None:
    sandbox_port = free_port()
    app = AppProcess(tmp_path, SANDBOX_PORT=str(sandbox_port))
    await app.start()
    try:
        url = f"http://127.0.0.1:{sandbox_port}"
        async with httpx.AsyncClient(base_url=url, trust_env=False) as slack:
            page = await slack.get("/")
            assert page.headers["x-frame-options"] == "DENY"
            assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
            assert page.headers["cache-control"] == "no-store"
            # same-origin, so that the browser sends the page's real Origin on its own posts
            assert page.headers["referrer-policy"] == "same-origin"
            form = {"user": "U0ADA", "text": "unlink"}
            refused = [
                {"Origin": "http://evil.example"},
                {"Origin": "null"},  # what no-referrer pages and sandboxed frames send
                {},  # neither Origin nor Sec-Fetch-Site: nothing says it is this page
                {"Sec-Fetch-Site": "cross-site", "Origin": url},
                {"Sec-Fetch-Site": "same-site"},  # another port of this host
                {"Sec-Fetch-Site": "none"},
                {"Origin": f"http://localhost:{sandbox_port}"},  # another origin, same machine
            ]
            for headers in refused:
                forged = await slack.post("/command", data=form, headers=headers)
                assert forged.status_code == 403, headers
            for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Origin": url}):
                sent = await slack.post("/command", data=form, headers=headers)
                assert sent.status_code == 303, headers
                # back at the text field, which the fragment focuses, ready for the next one
                assert sent.headers["location"] == "/?user=U0ADA#text"
            rebound = await slack.get("/", headers={"Host": f"evil.example:{sandbox_port}"})
            assert rebound.status_code == 400 and "demo" not in rebound.text
    finally:
        await app.stop()


async def test_the_sandboxs_provider_ends_with_the_app_and_leaves_no_secret_behind(
    tmp_path: Path,
) -> None:
    """AUTH=oidc in the sandbox starts the loopback OpenID provider; stopping the app with
    SIGTERM (as a service manager does) ends it too, and its config (the client secret) is
    not left on disk. A port already taken stops the start with one line."""
    from tests.oidc_provider import node_command

    node_command()
    oidc_port = free_port()
    workdirs = set(Path(tempfile.gettempdir()).glob("account-binding-oidc-*"))
    app = AppProcess(
        tmp_path, AUTH="oidc", SANDBOX_PORT=str(free_port()), SANDBOX_OIDC_PORT=str(oidc_port)
    )
    await app.start()
    try:
        assert f"sign in with the test provider (http://127.0.0.1:{oidc_port})" in app.output
        async with httpx.AsyncClient(trust_env=False) as client:
            discovery = f"http://127.0.0.1:{oidc_port}/.well-known/openid-configuration"
            assert (await client.get(discovery)).status_code == 200
        assert set(Path(tempfile.gettempdir()).glob("account-binding-oidc-*")) <= workdirs
    finally:
        await app.stop()
    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", oidc_port), timeout=0.2).close()
        except OSError:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the provider outlived the app")

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", oidc_port))
        taken.listen(1)
        again = AppProcess(
            tmp_path, AUTH="oidc", SANDBOX_PORT=str(free_port()), SANDBOX_OIDC_PORT=str(oidc_port)
        )
        with pytest.raises(AssertionError, match="exited early"):
            await again.start()
    assert f"cannot listen on port {oidc_port}" in again.output
    assert "Traceback" not in again.output


async def test_two_sandboxes_starting_at_once_on_one_database_both_start(tmp_path: Path) -> None:
    """Both find no demo account and make it: the second is told it exists, and takes it."""
    first = AppProcess(tmp_path, SANDBOX_PORT=str(free_port()))
    second = AppProcess(tmp_path, SANDBOX_PORT=str(free_port()))
    try:
        await asyncio.gather(first.start(), second.start())
    finally:
        for app in (first, second):
            if app.process is not None:
                await app.stop()
    assert "already exists" not in first.output + second.output
