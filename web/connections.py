"""The "Connected Slack accounts" page: the logged-in person's bindings, and Remove.

`GET /connections` lists every Slack account bound to the logged-in person's account (its
workspace or organisation, Slack names and user ID, when it was bound and last used).
`GET /connections/{public_id}/remove` asks them to confirm; only `POST` to the same address,
from this site (`web.forms.read_form`) with the session's CSRF token, removes it: the binding
goes, its API token is revoked and its OAuth grant too (`BindingService.remove_binding_of`,
audited as `unbound` with the person as actor and the detail "web"), the Slack person is
sent a DM, and the page says "Removed".

Every route acts for `request.user` whatever the AUTH mode; a person not logged in is sent to
log in and brought back. A binding is named by its public ID (`Binding.public_id`, never
reused), and only the logged-in person's own: any other ID, another person's included, is a
404 that removes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from account_binding.audit import Actor
from account_binding.binding import is_public_id

from . import csrf
from .auth import client_address, logged_in, login_redirect
from .forms import read_form
from .services import services_of
from .templating import templates

log = logging.getLogger(__name__)

CONNECTIONS_PATH = "/connections"
#: What a binding that is not the person's own (or no longer exists) answers, with 404.
NOT_YOURS = (
    "No Slack account with this address is connected to your account. It may have been "
    "removed already: see your connected Slack accounts."
)


def _remove_path(public_id: str) -> str:
    return f"{CONNECTIONS_PATH}/{public_id}/remove"


async def connections_page(request: Request) -> Response:
    """The list; a person not logged in logs in first and comes back here."""
    current = await logged_in(request)
    if current is None:
        return login_redirect(CONNECTIONS_PATH)
    services = services_of(request)
    bindings = await services.bindings.bindings_of(current.user)
    return _page(
        request,
        "connections.html",
        {
            "user": current.user,
            "bindings": bindings,
            "csrf_token": current.session.csrf_token,
        },
    )


async def confirm_removal_page(request: Request) -> Response:
    """ "Remove this Slack account?", for the person's own binding only (else 404)."""
    public_id = _public_id(request)
    current = await logged_in(request)
    if current is None:
        return login_redirect(_remove_path(public_id))
    binding = await services_of(request).bindings.binding_of(current.user, public_id)
    if binding is None:
        raise HTTPException(404, NOT_YOURS)
    return _page(
        request,
        "connection_remove.html",
        {
            "user": current.user,
            "binding": binding,
            "csrf_token": current.session.csrf_token,
            "action": _remove_path(public_id),
        },
    )


async def remove(request: Request) -> Response:
    """Remove the person's own binding: a post from this site with the session's CSRF token.
    Raises HTTPException: 403 (another site, a missing or wrong token), 404 (not theirs, or
    removed already)."""
    form = await read_form(request)
    public_id = _public_id(request)
    current = await logged_in(request)
    if current is None:
        return login_redirect(CONNECTIONS_PATH)
    csrf.check(current.session.csrf_token, form.get(csrf.FIELD))
    services = services_of(request)
    actor = Actor(user=current.user, client=client_address(request))
    binding = await services.bindings.remove_binding_of(current.user, public_id, actor)
    if binding is None:
        raise HTTPException(404, NOT_YOURS)
    log.info(
        "User %s removed the binding of Slack user %s of %s on the web",
        current.user.id,
        binding.identity.user_id,
        binding.identity.scope_id,
    )
    return _page(
        request,
        "connection_removed.html",
        {"user": current.user, "binding": binding},
        background=BackgroundTask(services.notifier.binding_removed, binding),
    )


def _public_id(request: Request) -> str:
    """The binding's public ID from the path; 404 for anything not of its shape."""
    public_id = request.path_params["public_id"]
    if not is_public_id(public_id):
        raise HTTPException(404, NOT_YOURS)
    assert isinstance(public_id, str)
    return public_id


def _page(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    background: BackgroundTask | None = None,
) -> Response:
    context = {"app_name": services_of(request).internal_app_name, **context}
    return templates.TemplateResponse(request, name, context, background=background)


routes = [
    Route(CONNECTIONS_PATH, connections_page, methods=["GET"]),
    Route(CONNECTIONS_PATH + "/{public_id:str}/remove", confirm_removal_page, methods=["GET"]),
    Route(CONNECTIONS_PATH + "/{public_id:str}/remove", remove, methods=["POST"]),
]
