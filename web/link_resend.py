"""Never a dead button, on the web: the expired-link page offers "Send me a new link in Slack".

The page is reached by the link itself, often by someone not logged in: the link (its nonce,
256 random bits) is their only credential. So the form posts no nonce: the page keeps the
expired link in the HttpOnly link cookie (`web.cookies.LINK`), and the post must come from
this site (`web.forms.check_same_origin`), repeat the double-submit token of the
`login_csrf` cookie (`web.csrf`), and name the link the page showed (its SHA-256, as the
confirm form does). What stops abuse: the new link goes only to the Slack user the old one
was issued to, by DM (`chat.postMessage` through the web process's Slack client), never to
the browser; only for a link that expired unused (not used, replaced, cancelled or refused);
at most once a minute per Slack user; and the new link marks every older one "replaced", so
an old link gets one resend at most and a newer live link is never voided
(`account_binding.link_renewal`). Every refusal is a 4xx page that says what happened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from account_binding import durations
from account_binding.audit import Actor
from account_binding.link_renewal import LinkRenewal, ResendRefused, ResentLink
from account_binding.models import BindingRequest
from account_binding.tokens import digest

from . import cookies, csrf
from .auth import MAX_COOKIE_LENGTH, client_address, link_nonce, logged_in, same_link
from .binding_pages import command_of
from .forms import read_form
from .services import services_of
from .templating import how_to_get_a_link, templates, with_how_to_get_a_link

log = logging.getLogger(__name__)

RESEND_PATH = "/resend-link"

#: How long the expired page keeps its link in the link cookie, in seconds.
EXPIRED_LINK_COOKIE_SECONDS = 600

#: HTTP status of each refusal (`ResendRefused.reason`).
REFUSAL_STATUS = {
    "unknown": 404,
    "used": 410,
    "replaced": 409,
    "cancelled": 410,
    "refused": 403,
    "ended": 410,
    "live": 409,
    "bound": 409,
    "too_soon": 429,
    "rate_limited": 429,
}

REFUSAL_TITLES = {
    "unknown": "Link not valid",
    "replaced": "A newer link was sent",
    "live": "This link still works",
    "bound": "Already connected",
    "too_soon": "A new link was just sent",
    "rate_limited": "Too many links",
}


@dataclass(frozen=True)
class LinkResends:
    """What "Send me a new link in Slack" needs."""

    renewal: LinkRenewal
    #: DMs the new link to its Slack user; whether Slack took it.
    send: Callable[[ResentLink], Awaitable[bool]]
    #: Seconds the page waits for Slack to take the DM (SLACK_PAGE_TIMEOUT).
    deadline_seconds: float
    #: BINDING_TTL, seconds: the page says when the new link expires.
    ttl_seconds: int


def expired_page(request: Request, nonce: str, message: str, command: str | None) -> Response:
    """The expired-link page (410) with "Send me a new link in Slack", for a link that expired
    unused; it keeps the link in the link cookie and a double-submit token for the form."""
    token = cookies.read(request, cookies.LOGIN_CSRF)
    if not token or len(token) > MAX_COOKIE_LENGTH:
        token = csrf.new_login_token()
    response = _page(
        request,
        "link_expired.html",
        {
            "message": message,
            "csrf_token": token,
            "link_id": digest(nonce),
            "command": command,
        },
        status_code=410,
    )
    cookies.set_cookie(
        request,
        response,
        cookies.LINK,
        nonce,
        samesite="lax",
        max_age=EXPIRED_LINK_COOKIE_SECONDS,
    )
    cookies.set_cookie(request, response, cookies.LOGIN_CSRF, token, samesite="strict")
    return response


async def resend(request: Request) -> Response:
    """POST /resend-link: DM a new link to the Slack user of the expired link this browser
    holds. 200 when Slack took the DM; 4xx pages for every refusal (see REFUSAL_STATUS; 400
    without a link, 409 when the link changed under the page, 403 from another site or
    without the form's token); 502 or 503 when Slack refused the DM or did not answer."""
    form = await read_form(request)
    nonce = link_nonce(request)
    if nonce is None:
        return _page(request, "no_link.html", {}, status_code=400)
    if not same_link(form.get("link_id"), nonce):
        return _error(
            request,
            "The link changed",
            "Another binding link was opened in this browser after this page was shown, so "
            "nothing was sent. Open the link you mean to use again.",
            409,
        )
    csrf.check(cookies.read(request, cookies.LOGIN_CSRF), form.get(csrf.FIELD))
    services = services_of(request)
    resends = services.link_resends
    if resends is None:
        return _error(request, "Not available", "This site does not send links.", 404)
    current = await logged_in(request)
    actor = Actor(user=current.user if current else None, client=client_address(request))
    try:
        resent = await resends.renewal.resend(nonce, actor)
    except ResendRefused as refusal:
        old = await services.bindings.lookup(nonce)
        return _refused(request, refusal, old)
    try:
        sent: bool | None = await asyncio.wait_for(resends.send(resent), resends.deadline_seconds)
    except TimeoutError:
        sent = None
    command = command_of(resent.profile)
    if not sent:
        log.warning(
            "Could not DM a resent link to Slack user %s of %s (%s)",
            resent.identity.user_id,
            resent.identity.scope_id,
            "Slack did not answer in time" if sent is None else "Slack refused it",
        )
        how = how_to_get_a_link(request, command) + " in Slack"
        return _error(
            request,
            "Slack did not take the message",
            (
                "Slack did not answer in time, so the new link may not reach you. "
                if sent is None
                else "Slack did not take the message, so the new link did not reach you. "
            )
            + f"If nothing arrives in Slack within a minute, {how} for a new link.",
            503 if sent is None else 502,
        )
    return _page(
        request,
        "link_resent.html",
        {
            "expires_in": durations.in_words(resends.ttl_seconds),
            "command": command,
        },
    )


def _refused(request: Request, refusal: ResendRefused, old: BindingRequest | None) -> Response:
    message = str(refusal)
    command = command_of(old.profile if old else None)
    message = with_how_to_get_a_link(request, message, command)
    headers = {"Retry-After": str(refusal.retry_after)} if refusal.retry_after else None
    return _error(
        request,
        REFUSAL_TITLES.get(refusal.reason, "No new link sent"),
        message,
        REFUSAL_STATUS.get(refusal.reason, 409),
        headers,
    )


def _error(
    request: Request,
    title: str,
    message: str,
    status_code: int,
    headers: dict[str, str] | None = None,
) -> Response:
    return _page(request, "error.html", {"title": title, "message": message}, status_code, headers)


def _page(
    request: Request,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    context = {"app_name": services_of(request).internal_app_name, **context}
    return templates.TemplateResponse(
        request, name, context, status_code=status_code, headers=headers
    )


routes = [Route(RESEND_PATH, resend, methods=["POST"])]
