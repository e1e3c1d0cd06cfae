"""The sandbox page: choose a Slack user, type a slash command, read what Slack would show.

It works without script: the command form posts, the page waits for the app's answer and
redirects back to the conversation.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import jinja2
from aiohttp import web
from aiohttp.typedefs import Handler

from .blocks_html import blocks, mrkdwn
from .server import FakeSlack

FOLLOW_UP_WAIT_SECONDS = 3.0
SANDBOX_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    # same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` even on
    # the page's own posts, and the cross-site check below needs the real Origin.
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
MAX_COMMAND_TEXT = 4000

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
)
_templates.filters["blocks"] = blocks
_templates.filters["mrkdwn"] = mrkdwn


def from_this_page(request: web.Request) -> bool:
    """True when the browser says the request comes from this page's own origin: a
    `Sec-Fetch-Site` of `same-origin`, or, when a browser sends no `Sec-Fetch-Site` (plain
    http off localhost), an `Origin` equal to this page's. `null`, a missing Origin with no
    Sec-Fetch-Site, and everything else are refused: the check never fails open."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    return request.headers.get("Origin") == f"{request.scheme}://{request.host}"


def install_sandbox_page(
    fake: FakeSlack,
    *,
    site_url: str,
    demo_login: tuple[str, str] | None,
    sign_in_hint: str | None = None,
) -> None:
    """Add the page to `fake`'s server; call before `fake.start()`. The page tells how to log
    in to the binding site: `demo_login` (user name, password), else `sign_in_hint`."""

    async def page(request: web.Request) -> web.Response:
        ws = fake.workspace
        user = ws.user(request.query.get("user", "")) or ws.users[0]
        html = _templates.get_template("sandbox.html").render(
            workspace=ws,
            user=user,
            messages=fake.messages_for(user.id),
            connected=fake.open_connections > 0,
            site_url=site_url,
            demo_login=demo_login,
            sign_in_hint=sign_in_hint,
        )
        return web.Response(text=html, content_type="text/html")

    async def command(request: web.Request) -> web.StreamResponse:
        if not from_this_page(request):
            return web.Response(status=403, text="This form did not come from the sandbox page.")
        form = await request.post()
        ws = fake.workspace
        user = ws.user(str(form.get("user", "")))
        if user is None:
            return web.Response(status=400, text="Choose a Slack user from the list.")
        text = str(form.get("text", ""))[:MAX_COMMAND_TEXT]
        before = len(fake.state.messages)
        if fake.open_connections == 0:
            return web.Response(
                status=503,
                text="The app is not connected to this fake Slack yet. Wait a moment and reload.",
            )
        outcome = await fake.send_slash_command(user.id, text)
        later = not outcome.ack_payload or "One moment" in str(outcome.ack_payload.get("text"))
        if outcome.acked and later:
            # The app answers after the acknowledgement, through the response_url.
            with contextlib.suppress(TimeoutError):
                await fake.wait_for_message(
                    lambda m: m.user_id == user.id, FOLLOW_UP_WAIT_SECONDS, after=before
                )
        # The fragment names the text field: the browser scrolls to it and focuses it, ready
        # for the next command (an autofocus is ignored when the address has a fragment), and
        # the field's scroll margin keeps the latest messages in view above it.
        raise web.HTTPSeeOther(f"/?user={user.id}#text")

    async def stylesheet(request: web.Request) -> web.FileResponse:
        return web.FileResponse(Path(__file__).parent / "static" / "sandbox.css")

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        # The page's paths answer loopback names only, so a rebound DNS name cannot read the
        # page (it shows the demo password and live links), with the binding site's headers.
        is_page = not request.path.startswith(("/api/", "/link/", "/commands/", "/actions/"))
        if is_page and request.url.host not in ("127.0.0.1", "localhost", "::1"):
            return web.Response(status=400, text="Open the sandbox at 127.0.0.1 or localhost.")
        response = await handler(request)
        if is_page:
            response.headers.update(SANDBOX_HEADERS)
        return response

    fake.app.middlewares.append(guard)
    fake.app.router.add_get("/", page)
    fake.app.router.add_post("/command", command)
    fake.app.router.add_get("/sandbox.css", stylesheet)
