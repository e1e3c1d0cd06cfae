"""The binding page: the association URL lands here, and only a confirmed POST binds.

`GET /bind/{nonce}` checks the link, moves the nonce into an HttpOnly cookie scoped to `/bind`
and redirects to `/bind`, so the address bar, history and later Referer headers no longer
hold it. `GET /bind` asks the logged-in person to confirm; `POST /bind` binds or cancels.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from account_binding.audit import Actor
from account_binding.errors import AlreadyBound, EmailMismatch, LinkError, LinkExpired, LinkNotFound
from account_binding.models import BindingRequest, User
from account_binding.tokens import digest

from . import csrf
from .auth import client_address, logged_in, login_redirect, read_form
from .services import services_of
from .templating import templates

log = logging.getLogger(__name__)

LINK_COOKIE = "binding_link"
LINK_PATH = "/bind"
MAX_NONCE_LENGTH = 100


def _actor(request: Request, user: User | None = None) -> Actor:
    return Actor(user=user, client=client_address(request))


async def open_link(request: Request) -> Response:
    nonce = request.path_params["nonce"]
    bindings = services_of(request).bindings
    try:
        if len(nonce) > MAX_NONCE_LENGTH:
            raise LinkNotFound()
        pending = await bindings.pending(nonce, _actor(request))
    except LinkError as error:
        return _link_error(request, error)
    response = RedirectResponse(LINK_PATH, status_code=303)
    response.set_cookie(
        LINK_COOKIE,
        nonce,
        max_age=bindings.seconds_left(pending),
        path=LINK_PATH,
        httponly=True,
        samesite="lax",
        secure=services_of(request).secure_cookies,
    )
    return response


async def confirm_page(request: Request) -> Response:
    nonce = _link_cookie(request)
    if nonce is None:
        return _page(request, "no_link.html", {}, status_code=400)
    current = await logged_in(request)
    services = services_of(request)
    try:
        link = await services.bindings.describe(
            nonce, _actor(request, current.user if current else None)
        )
    except LinkError as error:
        return _forget_link(_link_error(request, error))
    if current is None:
        return login_redirect(LINK_PATH)
    if await services.bindings.is_bound(link.request.identity):
        return _already_bound(request, link.request)
    return _page(
        request,
        "confirm.html",
        {
            "user": current.user,
            "link": link.request,
            "person": link.person,
            "csrf_token": current.session.csrf_token,
            "link_id": digest(nonce),
            "require_email_match": services.require_email_match,
        },
    )


async def confirm(request: Request) -> Response:
    form = await read_form(request)
    current = await logged_in(request)
    if current is None:
        return login_redirect(LINK_PATH)
    csrf.check(current.session.csrf_token, form.get(csrf.FIELD))
    nonce = _link_cookie(request)
    if nonce is None:
        return _page(request, "no_link.html", {}, status_code=400)
    shown = form.get("link_id")
    if not isinstance(shown, str) or not hmac.compare_digest(
        shown.encode(), digest(nonce).encode()
    ):
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
    services = services_of(request)
    actor = _actor(request, current.user)
    action = form.get("action")
    if action == "cancel":
        await services.bindings.cancel(nonce, actor)
        return _forget_link(_page(request, "cancelled.html", {}))
    if action != "connect":
        return _page(
            request,
            "error.html",
            {"title": "Unknown choice", "message": "Choose Connect or Cancel on the binding page."},
            status_code=400,
        )
    try:
        binding = await services.bindings.confirm(nonce, current.user, actor)
    except AlreadyBound:
        pending = await services.bindings.lookup(nonce)
        return _forget_link(_already_bound(request, pending))
    except LinkError as error:
        return _forget_link(_link_error(request, error))
    log.info(
        "User %s bound to Slack user %s of %s",
        current.user.id,
        binding.identity.user_id,
        binding.identity.scope_id,
    )
    response = _page(
        request,
        "success.html",
        {
            "user": current.user,
            "binding": binding,
            "slack_url": services.slack_return_url(binding.identity, binding.profile),
        },
        background=BackgroundTask(services.notifier.binding_created, binding, current.user),
    )
    return _forget_link(response)


def _link_cookie(request: Request) -> str | None:
    nonce = request.cookies.get(LINK_COOKIE)
    return nonce if nonce and len(nonce) <= MAX_NONCE_LENGTH else None


def _already_bound(request: Request, pending: BindingRequest | None) -> Response:
    return _page(
        request,
        "already_bound.html",
        {
            "link": pending,
            "slack_url": services_of(request).slack_return_url(pending.identity, pending.profile)
            if pending
            else None,
        },
        status_code=409,
    )


def _link_error(request: Request, error: LinkError) -> Response:
    titles = {
        LinkNotFound: "Link not valid",
        LinkExpired: "Link expired",
        EmailMismatch: "Email addresses do not match",
    }
    status = (
        404 if isinstance(error, LinkNotFound) else 403 if isinstance(error, EmailMismatch) else 410
    )
    return _page(
        request,
        "error.html",
        {"title": titles.get(type(error), "Link already used"), "message": str(error)},
        status_code=status,
    )


def _forget_link(response: Response) -> Response:
    response.delete_cookie(LINK_COOKIE, path=LINK_PATH)
    return response


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
