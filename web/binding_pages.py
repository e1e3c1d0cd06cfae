"""The binding page: the association URL lands here, and only a confirmed POST binds.

`GET /bind/{nonce}` checks the link, moves the nonce into an HttpOnly cookie scoped to `/bind`
and redirects to `/bind`, so the address bar, history and later Referer headers no longer
hold it. `GET /bind` asks the logged-in person to confirm; `POST /bind` binds or cancels.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from account_binding.errors import AlreadyBound, LinkError, LinkExpired, LinkNotFound
from account_binding.models import BindingRequest

from . import csrf
from .auth import logged_in, login_redirect, read_form
from .services import services_of
from .templating import templates

log = logging.getLogger(__name__)

LINK_COOKIE = "binding_link"
LINK_PATH = "/bind"
MAX_NONCE_LENGTH = 100


async def open_link(request: Request) -> Response:
    nonce = request.path_params["nonce"]
    if len(nonce) > MAX_NONCE_LENGTH:
        return _link_error(request, LinkNotFound())
    try:
        pending = await services_of(request).bindings.pending(nonce)
    except LinkError as error:
        return _link_error(request, error)
    response = RedirectResponse(LINK_PATH, status_code=303)
    response.set_cookie(
        LINK_COOKIE,
        nonce,
        max_age=services_of(request).bindings.seconds_left(pending),
        path=LINK_PATH,
        httponly=True,
        samesite="lax",
        secure=services_of(request).secure_cookies,
    )
    return response


async def confirm_page(request: Request) -> Response:
    nonce = request.cookies.get(LINK_COOKIE)
    if not nonce or len(nonce) > MAX_NONCE_LENGTH:
        return _page(request, "no_link.html", {}, status_code=400)
    try:
        pending = await services_of(request).bindings.pending(nonce)
    except LinkError as error:
        return _forget_link(_link_error(request, error))
    current = await logged_in(request)
    if current is None:
        return login_redirect(LINK_PATH)
    if await services_of(request).bindings.is_bound(pending.identity):
        return _already_bound(request, pending)
    return _page(
        request,
        "confirm.html",
        {
            "user": current.user,
            "link": pending,
            "csrf_token": current.session.csrf_token,
        },
    )


async def confirm(request: Request) -> Response:
    form = await read_form(request)
    current = await logged_in(request)
    if current is None:
        return login_redirect(LINK_PATH)
    csrf.check(current.session.csrf_token, form.get(csrf.FIELD))
    nonce = request.cookies.get(LINK_COOKIE)
    if not nonce or len(nonce) > MAX_NONCE_LENGTH:
        return _page(request, "no_link.html", {}, status_code=400)
    services = services_of(request)
    action = form.get("action")
    if action == "cancel":
        await services.bindings.cancel(nonce)
        log.info("User %s cancelled a binding link", current.user.id)
        return _forget_link(_page(request, "cancelled.html", {}))
    if action != "connect":
        return _page(
            request,
            "error.html",
            {"title": "Unknown choice", "message": "Choose Connect or Cancel on the binding page."},
            status_code=400,
        )
    try:
        pending = await services.bindings.pending(nonce)
    except LinkError as error:
        return _forget_link(_link_error(request, error))
    try:
        binding = await services.bindings.confirm(nonce, current.user)
    except AlreadyBound:
        return _forget_link(_already_bound(request, pending))
    except LinkError as error:  # used or expired between the check and the confirmation
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
            "link": pending,
            "slack_url": services.slack_return_url(binding.identity, binding.profile),
        },
        background=BackgroundTask(services.notifier.binding_created, binding, current.user),
    )
    return _forget_link(response)


def _already_bound(request: Request, pending: BindingRequest) -> Response:
    return _page(
        request,
        "already_bound.html",
        {
            "link": pending,
            "slack_url": services_of(request).slack_return_url(pending.identity, pending.profile),
        },
        status_code=409,
    )


def _link_error(request: Request, error: LinkError) -> Response:
    titles = {LinkNotFound: "Link not valid", LinkExpired: "Link expired"}
    return _page(
        request,
        "error.html",
        {"title": titles.get(type(error), "Link already used"), "message": str(error)},
        status_code=404 if isinstance(error, LinkNotFound) else 410,
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
