"""The sandbox page: choose a Slack user, type a slash command, read what Slack would show.

It works without script: the command form posts, the page waits for the app's answer and
redirects back to the conversation. A person can also click the app's buttons (a button
with a `confirm` object shows its dialog first, as Slack does), open the app's Home tab
(which sends `app_home_opened` and shows the view the app publishes) and run the app's
global shortcuts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web
from aiohttp.typedefs import Handler

from .blocks_html import Clicks, blocks, confirm_dialog_parts, mrkdwn
from .payloads import interactive_elements
from .server import FakeSlack, Message
from .workspace import FakeUser

FOLLOW_UP_WAIT_SECONDS = 3.0
#: How long what a person sees must stay unchanged before the page shows it, in seconds.
SETTLE_SECONDS = 0.3
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
NOT_CONNECTED = "The app is not connected to this fake Slack yet. Wait a moment and reload."

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
)
_templates.filters["blocks"] = blocks
_templates.filters["mrkdwn"] = mrkdwn
_templates.globals["Clicks"] = Clicks


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
    shortcuts: Sequence[tuple[str, str]] = (),
) -> None:
    """Add the page to `fake`'s server; call before `fake.start()`. The page tells how to log
    in to the binding site: `demo_login` (user name, password), else `sign_in_hint`.
    `shortcuts` are the app's global shortcuts as (callback_id, name), as its manifest
    declares them; the page offers each one."""

    def render(request: web.Request, tab: str) -> web.Response:
        ws = fake.workspace
        user = ws.user(request.query.get("user", "")) or ws.users[0]
        view = fake.home_view(user.id)
        confirm = _confirm_for(request, user, fake)
        html = _templates.get_template("sandbox.html").render(
            workspace=ws,
            user=user,
            tab=tab,
            messages=fake.messages_for(user.id),
            home=view,
            confirm=confirm,
            shortcuts=shortcuts,
            connected=fake.open_connections > 0,
            site_url=site_url,
            demo_login=demo_login,
            sign_in_hint=sign_in_hint,
        )
        return web.Response(text=html, content_type="text/html")

    async def page(request: web.Request) -> web.Response:
        return render(request, "channel")

    async def home_page(request: web.Request) -> web.Response:
        return render(request, "home")

    async def person(request: web.Request) -> tuple[FakeUser, Any] | web.Response:
        """The Slack user a form acts as, and the form; or the page's refusal."""
        if not from_this_page(request):
            return web.Response(status=403, text="This form did not come from the sandbox page.")
        form = await request.post()
        user = fake.workspace.user(str(form.get("user", "")))
        if user is None:
            return web.Response(status=400, text="Choose a Slack user from the list.")
        if fake.open_connections == 0:
            return web.Response(status=503, text=NOT_CONNECTED)
        return user, form

    async def command(request: web.Request) -> web.StreamResponse:
        acting = await person(request)
        if isinstance(acting, web.Response):
            return acting
        user, form = acting
        text = str(form.get("text", ""))[:MAX_COMMAND_TEXT]
        before = len(fake.state.messages)
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

    async def click(request: web.Request) -> web.StreamResponse:
        acting = await person(request)
        if isinstance(acting, web.Response):
            return acting
        user, form = acting
        surface = str(form.get("surface", ""))
        action_id = str(form.get("action_id", ""))
        confirmed = form.get("confirmed") == "yes"
        back = f"/home?user={user.id}" if surface == "home" else f"/?user={user.id}#text"
        if surface == "home":
            view = fake.home_view(user.id)
            element = _element(list(view.get("blocks") or []) if view else [], action_id)
            if element is None:
                raise web.HTTPBadRequest(text="That button is no longer on your Home tab.")
        else:
            message = _message(fake, user, str(form.get("ts", "")))
            element = _element(message.blocks if message else [], action_id)
            if message is None or element is None:
                raise web.HTTPBadRequest(text="That button is no longer in your messages.")
        if isinstance(element.get("confirm"), dict) and not confirmed:
            # Slack shows the confirm dialog and sends nothing until the person confirms.
            query = {"user": user.id, "confirm": action_id}
            if surface != "home":
                query["ts"] = str(form.get("ts", ""))
            path = "/home" if surface == "home" else "/"
            raise web.HTTPSeeOther(f"{path}?{urlencode(query)}")
        changed = _change_watch(fake, user.id)
        if surface == "home":
            outcome = await fake.click_home(user.id, action_id, confirmed=True)
        else:
            assert message is not None
            outcome = await fake.click(user.id, message, action_id, confirmed=True)
        if outcome.acked:
            await _until_settled(fake, user.id, changed)
        raise web.HTTPSeeOther(back)

    async def open_home(request: web.Request) -> web.StreamResponse:
        acting = await person(request)
        if isinstance(acting, web.Response):
            return acting
        user, _ = acting
        changed = _change_watch(fake, user.id)
        outcome = await fake.send_event(fake.app_home_opened_event(user.id))
        if outcome.acked:
            await _until_settled(fake, user.id, changed)
        raise web.HTTPSeeOther(f"/home?user={user.id}")

    async def shortcut(request: web.Request) -> web.StreamResponse:
        acting = await person(request)
        if isinstance(acting, web.Response):
            return acting
        user, form = acting
        callback_id = str(form.get("callback_id", ""))
        if callback_id not in {known for known, _ in shortcuts}:
            raise web.HTTPBadRequest(text="The app has no such shortcut.")
        changed = _change_watch(fake, user.id)
        outcome = await fake.run_shortcut(user.id, callback_id)
        if outcome.acked:
            await _until_settled(fake, user.id, changed)
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
        try:
            response = await handler(request)
        except web.HTTPException as refused:
            if not is_page:
                raise
            refused.headers.update(SANDBOX_HEADERS)
            raise
        if is_page:
            response.headers.update(SANDBOX_HEADERS)
        return response

    fake.app.middlewares.append(guard)
    fake.app.router.add_get("/", page)
    fake.app.router.add_get("/home", home_page)
    fake.app.router.add_post("/command", command)
    fake.app.router.add_post("/click", click)
    fake.app.router.add_post("/home", open_home)
    fake.app.router.add_post("/shortcut", shortcut)
    fake.app.router.add_get("/sandbox.css", stylesheet)


def _message(fake: FakeSlack, user: FakeUser, ts: str) -> Message | None:
    """The message with timestamp `ts` among those `user` sees."""
    return next((m for m in fake.messages_for(user.id) if m.ts == ts), None)


def _element(blocks: list[Any], action_id: str) -> dict[str, Any] | None:
    return next((e for _, e in interactive_elements(blocks) if e["action_id"] == action_id), None)


def _confirm_for(request: web.Request, user: FakeUser, fake: FakeSlack) -> dict[str, Any] | None:
    """The confirm dialog the page shows, when its address asks for one: the element's
    confirm object, where to send the confirmed click, and where Cancel leads."""
    action_id = request.query.get("confirm")
    if not action_id:
        return None
    ts = request.query.get("ts")
    if ts is None:
        view = fake.home_view(user.id)
        element = _element(list(view.get("blocks") or []) if view else [], action_id)
        surface, back = "home", f"/home?user={user.id}"
    else:
        message = _message(fake, user, ts)
        element = _element(message.blocks if message else [], action_id)
        surface, back = "message", f"/?user={user.id}"
    if element is None or not isinstance(element.get("confirm"), dict):
        return None
    return {
        **confirm_dialog_parts(element["confirm"]),
        "style": element["confirm"].get("style"),
        "surface": surface,
        "ts": ts,
        "action_id": action_id,
        "back": back,
    }


async def _until_settled(fake: FakeSlack, user_id: str, changed: Callable[[], bool]) -> None:
    """Wait (at most FOLLOW_UP_WAIT_SECONDS in all) until what `user_id` sees has changed and
    then stayed the same for SETTLE_SECONDS: an app's answer to a click often comes in more
    than one step (a DM, then the Home tab republished), and the page shows them together."""
    deadline = asyncio.get_running_loop().time() + FOLLOW_UP_WAIT_SECONDS
    try:
        await fake.wait_until(changed, FOLLOW_UP_WAIT_SECONDS)
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            await fake.wait_until(_change_watch(fake, user_id), min(SETTLE_SECONDS, left))
    except TimeoutError:
        return


def _change_watch(fake: FakeSlack, user_id: str) -> Callable[[], bool]:
    """A condition that holds once what `user_id` sees has changed: a new message, one
    replaced or deleted, or a new Home tab."""

    def seen() -> tuple[object, ...]:
        view = fake.home_view(user_id)
        return (
            len(fake.state.messages),
            tuple((m.replaced, m.deleted) for m in fake.state.messages),
            view["hash"] if view else None,
        )

    before = seen()
    return lambda: seen() != before
