"""Attack demonstrations (review of issue 10): resume's response_url and "Send me a new link in
Slack". Each test asserts what the product promises (SECURITY.md) or what a hardened app must
do; a failure is a finding."""

from __future__ import annotations

import asyncio

from aiohttp import web
from conftest import RunningApp, find_link, hidden_fields
from test_link_resend import expire, expired_page, press

ADA = "U0ADA"


async def test_a_replaced_links_response_url_is_cleared_when_a_page_resend_replaces_it(
    running_app: RunningApp,
) -> None:
    """SECURITY.md: the command's response_url is "cleared when the command is taken,
    forgotten or replaced". A resend from the expired page replaces the old link (its
    ended_reason becomes 'replaced') but keeps its encrypted response_url and command text."""
    app = running_app
    messages = await app.command(ADA, "todo list")  # unbound: a link that keeps the command
    url = find_link(messages)
    [(kept,)] = app.query(
        "SELECT count(*) FROM binding_requests WHERE resume_response_url IS NOT NULL"
    )
    assert kept == 1
    expire(app, url)
    browser, page = await expired_page(app, url)
    sent = await press(browser, page)
    assert sent.status_code == 200, sent.text
    rows = app.query(
        "SELECT ended_reason, resume_text IS NOT NULL, resume_response_url IS NOT NULL "
        "FROM binding_requests WHERE ended_reason = 'replaced'"
    )
    assert rows == [("replaced", 0, 0)], rows


async def test_resume_posts_only_to_a_slack_response_url(running_app: RunningApp) -> None:
    """A slash command's response_url is used unchecked: kept with the link and posted to when
    the binding is made (and by the handler's late answers). A payload whose response_url names
    another host (an internal service, a cloud metadata address) makes the app POST the
    command's answer, with the person's data, there. A hardened app posts only to Slack's own
    hosts (https://hooks.slack.com/, or SLACK_API_URL's origin in tests)."""
    app = running_app
    hits: list[str] = []

    async def sink(request: web.Request) -> web.Response:
        hits.append(await request.text())
        return web.Response(text="ok")

    server = web.Application()
    server.router.add_post("/{tail:.*}", sink)
    runner = web.AppRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, "localhost", 0)  # another origin than SLACK_API_URL's 127.0.0.1
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        payload = app.fake.slash_command_payload(ADA, "whoami")
        payload["response_url"] = f"http://localhost:{port}/elsewhere"
        before = len(app.fake.state.messages)
        outcome = await app.fake.send_envelope("slash_commands", payload)
        assert outcome.acked
        url = find_link(app.fake.state.messages[before:] or [_ack_message(outcome)])
        await app.add_user("ada")
        browser, page = await app.open_link_as("ada", url)
        done = await browser.post(
            "/bind", data={**hidden_fields(page), "action": "connect", "resume": "run"}
        )
        assert done.status_code == 200, done.text
        for _ in range(100):
            if hits:
                break
            await asyncio.sleep(0.05)
        assert hits == [], f"the app posted the resumed answer to another host: {hits[0][:200]}"
    finally:
        await runner.cleanup()


def _ack_message(outcome):  # the link in the acknowledgement itself
    from fake_slack import Message

    body = outcome.ack_payload or {}
    return Message(
        where="ephemeral",
        user_id=ADA,
        channel="C",
        text=body.get("text", ""),
        blocks=body.get("blocks", []),
        ts="0",
        source="ack",
    )
