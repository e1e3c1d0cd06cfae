"""The binding page: the association URL lands here, and only a confirmed POST binds.

`GET /bind/{nonce}` checks the link, moves the nonce into an HttpOnly cookie and redirects to
`/bind`, so the address bar, history and later Referer headers no longer hold it. `GET /bind`
asks the person to confirm; `POST /bind` binds or cancels. Both act only for a session whose
login was made for this very link in this browser (`web.auth.made_for`): any other session
(planted by a neighbour, or an older login) is sent to log in again first.

The link cookie outlives the link by `LINK_COOKIE_GRACE_SECONDS` and is not removed when the
link is used, so that a second tab, or a press after the link expired, is told what happened
to the link ("already connected", "expired") rather than that no link was opened. Logout
forgets it.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from account_binding.audit import Actor
from account_binding.errors import (
    AccountDisabled,
    AlreadyBound,
    EmailMismatch,
    LinkError,
    LinkExpired,
    LinkNotFound,
    LinkUsed,
    SlackUnavailable,
)
from account_binding.models import Binding, BindingRequest, SlackIdentity, SlackProfile, User
from account_binding.slack_proof import proven
from account_binding.tokens import digest

from . import cookies, csrf, errors, resume
from .auth import (
    BIND_PATH,
    MAX_COOKIE_LENGTH,
    LoggedIn,
    client_address,
    link_nonce,
    logged_in,
    login_redirect,
    made_for,
    same_link,
)
from .forms import read_form
from .services import services_of
from .templating import how_to_get_a_link, templates, with_how_to_get_a_link

log = logging.getLogger(__name__)

LINK_PATH = BIND_PATH
#: How long the link cookie outlives the link, so that a late press is told "expired".
LINK_COOKIE_GRACE_SECONDS = 600
#: Slack's own image hosts: the only avatars the confirm page shows (and the CSP allows).
#: Longest slash command name a page repeats (Slack allows 32 characters).
MAX_COMMAND_LENGTH = 32


def _actor(request: Request, user: User | None = None) -> Actor:
    return Actor(user=user, client=client_address(request))


async def open_link(request: Request) -> Response:
    nonce = request.path_params["nonce"]
    bindings = services_of(request).bindings
    try:
        if len(nonce) > MAX_COOKIE_LENGTH:
            raise LinkNotFound()
        pending = await bindings.pending(nonce, _actor(request))
    except LinkError as error:
        return await _link_error(request, error, nonce)
    response = RedirectResponse(LINK_PATH, status_code=303)
    cookies.set_cookie(
        request,
        response,
        cookies.LINK,
        nonce,
        samesite="lax",
        max_age=bindings.seconds_left(pending) + LINK_COOKIE_GRACE_SECONDS,
    )
    return response


async def confirm_page(request: Request) -> Response:
    nonce = link_nonce(request)
    if nonce is None:
        return _page(request, "no_link.html", {}, status_code=400)
    current = await logged_in(request)
    services = services_of(request)
    actor = _actor(request, current.user if current else None)
    try:
        if not made_for(current, nonce):
            # Checked from the store alone: nobody but the link's own login makes this page
            # ask Slack anything, so an unauthenticated loop cannot spend the app's Slack
            # rate limit (users.info).
            await services.bindings.pending(nonce, actor)
            return login_redirect(LINK_PATH)
        link = await services.bindings.describe(nonce, actor)
    except LinkError as error:
        return await _link_error(request, error, nonce, current)
    assert current is not None
    if await services.bindings.is_bound(link.request.identity):
        return await _already_bound(request, link.request, current)
    person = link.person
    needs_slack_sign_in = _needs_slack_sign_in(request, current, nonce)
    response = _page(
        request,
        "confirm.html",
        {
            "user": current.user,
            "link": link.request,
            "person": person,
            # The directory keeps only pictures on Slack's own image hosts (text.slack_image_url).
            "image_url": person.image_url if person else None,
            "csrf_token": current.session.csrf_token,
            "link_id": digest(nonce),
            "require_email_match": services.require_email_match,
            # VERIFY_SLACK_IDENTITY: Sign in with Slack first, unless this session did.
            "needs_slack_sign_in": needs_slack_sign_in,
            # Issue 10, resume: "After connecting, run …" with its box.
            "resume": resume.preview(services, link.request, command_of(link.request.profile)),
            "resume_field": resume.FIELD,
            "resume_ticked": resume.TICKED,
        },
    )
    return response


async def confirm(request: Request) -> Response:
    form = await read_form(request)
    nonce = link_nonce(request)
    if nonce is None:
        return _page(request, "no_link.html", {}, status_code=400)
    if not same_link(form.get("link_id"), nonce):
        # Another link was opened in this browser after this page was shown: act on neither.
        return _page(
            request,
            "error.html",
            {
                "title": "The link changed",
                "message": "Another binding link was opened in this browser after this page was "
                "shown, so nothing was done. Open the link you mean to use again.",
            },
            status_code=409,
        )
    current = await logged_in(request)
    if not made_for(current, nonce):
        return login_redirect(LINK_PATH)
    assert current is not None
    csrf.check(current.session.csrf_token, form.get(csrf.FIELD))
    services = services_of(request)
    actor = _actor(request, current.user)
    action = form.get("action")
    if action not in ("connect", "cancel"):
        return _page(
            request,
            "error.html",
            {"title": "Unknown choice", "message": "Choose Connect or Cancel on the binding page."},
            status_code=400,
        )
    if action == "connect" and _needs_slack_sign_in(request, current, nonce):
        # VERIFY_SLACK_IDENTITY: only a session that proved the link's Slack identity binds.
        return _page(
            request,
            "error.html",
            {
                "title": "Sign in with Slack first",
                "message": "Before connecting, sign in with Slack as the person this link was "
                "made for. Go back to the binding page and press Sign in with Slack.",
            },
            status_code=403,
        )
    skipped = False
    if action == "connect" and not resume.ticked(form):
        # Issue 10, resume: the person did not tick the link's command, so it never runs.
        kept = await services.bindings.lookup(nonce)
        skipped = kept is not None and kept.resume_text is not None
        await services.bindings.drop_resume(nonce)
    try:
        if action == "cancel":
            pending = await services.bindings.pending(nonce, actor)  # a used link is not undone
            await services.bindings.cancel(nonce, actor)
            if services.grants is not None:  # tokens the login for this link left unused
                await services.grants.discard_pending(cookies.read(request, cookies.SESSION))
            return _page(request, "cancelled.html", {"command": command_of(pending.profile)})
        if services.grants is not None:  # ACT_AS=oauth2: the person grants their tokens first
            from .grant_pages import connect as connect_with_grant

            return await connect_with_grant(request, current, nonce, actor)
        binding = await services.bindings.confirm(nonce, current.user, actor)
    except SlackUnavailable as error:
        # The link and its cookie are kept: pressing Connect again later works.
        return await errors.slack_unavailable(request, error)
    except AlreadyBound:
        pending_request = await services.bindings.lookup(nonce)
        return await _already_bound(request, pending_request, current)
    except LinkError as error:
        return await _link_error(request, error, nonce, current)
    except AccountDisabled as error:  # Issue 10, lifecycle
        return account_disabled(request, error)
    log.info(
        "User %s bound to Slack user %s of %s",
        current.user.id,
        binding.identity.user_id,
        binding.identity.scope_id,
    )
    return await success_page(request, nonce, binding, current.user, skipped=skipped)


async def success_page(
    request: Request, nonce: str, binding: Binding, user: User, *, skipped: bool = False
) -> Response:
    """The page after the binding was committed; once it is sent, the DM saying so and the
    link's command, if it kept one (web.resume), run in the background. `skipped`: the link
    kept a command the person left unticked (the page says to run it again)."""
    services = services_of(request)
    background, resumed = await resume.after_binding(services, nonce, binding, user)
    return _page(
        request,
        "success.html",
        {
            "user": user,
            "binding": binding,
            "slack_url": services.slack_return_url(binding.identity, binding.profile),
            "resumed": f"{resumed.command} {resumed.text}" if resumed else None,
            "command": command_of(binding.profile),
            "skipped": skipped,
        },
        background=background,
    )


def _needs_slack_sign_in(request: Request, current: LoggedIn, nonce: str) -> bool:
    """With VERIFY_SLACK_IDENTITY, True until this session signed in with Slack as the
    link's Slack user (web.slack_identity)."""
    return services_of(request).slack_sign_in is not None and not proven(current.session, nonce)


def command_of(profile: SlackProfile | None) -> str | None:
    """The slash command a link came from, when it looks like one ("/acme"), else None."""
    command = profile.command if profile else None
    if (
        not command
        or not command.startswith("/")
        or len(command) > MAX_COMMAND_LENGTH
        or not all(c.isalnum() or c in "/-_" for c in command)
    ):
        return None
    return command


async def _bound_to(request: Request, identity: SlackIdentity, user: User | None) -> str | None:
    """ "you" when `identity` is bound to `user`, "other" when bound elsewhere, else None."""
    bindings = services_of(request).bindings
    if user is not None and any(
        b.identity.scope_id == identity.scope_id and b.identity.user_id == identity.user_id
        for b in await bindings.bindings_of(user)
    ):
        return "you"
    return "other" if await bindings.is_bound(identity) else None


async def _already_bound(
    request: Request, pending: BindingRequest | None, current: LoggedIn | None
) -> Response:
    current = current or await logged_in(request)
    bound = (
        await _bound_to(request, pending.identity, current.user if current else None)
        if pending
        else None
    )
    return _page(
        request,
        "already_bound.html",
        {
            "link": pending,
            "to_you": bound == "you",
            "user": current.user if current else None,
            "command": command_of(pending.profile) if pending else None,
            "slack_url": services_of(request).slack_return_url(pending.identity, pending.profile)
            if pending
            else None,
        },
        status_code=409,
    )


async def _link_error(
    request: Request, error: LinkError, nonce: str, current: LoggedIn | None = None
) -> Response:
    bindings = services_of(request).bindings
    link = await bindings.lookup(nonce) if len(nonce) <= MAX_COOKIE_LENGTH else None
    if isinstance(error, LinkUsed) and link is not None and await bindings.is_bound(link.identity):
        # An old Connect button, or a second tab: the person is connected, say so.
        return await _already_bound(request, link, current)
    titles = {
        LinkNotFound: "Link not valid",
        LinkExpired: "Link expired",
        EmailMismatch: "Email addresses do not match",
    }
    status = (
        404 if isinstance(error, LinkNotFound) else 403 if isinstance(error, EmailMismatch) else 410
    )
    message = str(error)
    command = command_of(link.profile) if link else None
    message = with_how_to_get_a_link(request, message, command)
    # Issue 10, never a dead button: a replaced link says a newer one was sent; a link that
    # expired unused offers a new one in Slack.
    if isinstance(error, LinkUsed) and link is not None and link.ended_reason == "replaced":
        how = how_to_get_a_link(request, command)
        return _page(
            request,
            "error.html",
            {
                "title": "A newer link was sent",
                "message": "A newer link was sent to you in Slack, so this one no longer "
                f"works. Use the newest link, or {how} in Slack for another.",
            },
            status_code=410,
        )
    if (
        isinstance(error, LinkExpired)
        and link is not None
        and link.used_at is None  # LinkExpired: so it expired unused
        and services_of(request).link_resends is not None
    ):
        from .link_resend import expired_page

        return expired_page(request, nonce, message, command)
    return _page(
        request,
        "error.html",
        {"title": titles.get(type(error), "Link already used"), "message": message},
        status_code=status,
    )


def _page(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    background: BackgroundTask | None = None,
) -> Response:
    context = {"app_name": services_of(request).internal_app_name, **context}
    return templates.TemplateResponse(
        request, name, context, status_code=status_code, background=background
    )


# Issue 10, lifecycle: no binding to a disabled account


def account_disabled(request: Request, error: AccountDisabled) -> Response:
    """403: the account was disabled (or removed) by an administrator while its page was
    open, so nothing was connected; the link still works for another account."""
    return _page(
        request,
        "error.html",
        {
            "title": "Account removed" if error.removed else "Account disabled",
            "message": f"{error} Nothing was connected; the link still works for another "
            "account until it expires.",
        },
        status_code=403,
    )
