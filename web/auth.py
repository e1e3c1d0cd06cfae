"""Logging in and out with the built-in accounts, and who is logged in."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response

from account_binding.audit import Actor, AuditEvent
from account_binding.login import LoginFailed, LoginLocked
from account_binding.models import User
from account_binding.sessions import ActiveSession
from account_binding.text import is_acceptable

from . import csrf
from .services import services_of
from .templating import templates

log = logging.getLogger(__name__)

SESSION_COOKIE = "session"
MAX_FORM_FIELDS = 20
MAX_FIELD_LENGTH = 4096


@dataclass(frozen=True)
class LoggedIn:
    user: User
    session: ActiveSession


async def logged_in(request: Request) -> LoggedIn | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 100:
        return None
    services = services_of(request)
    session = await services.sessions.resolve(token)
    if session is None:
        return None
    user = await services.accounts.user(session.user_id)
    return LoggedIn(user, session) if user else None


def login_redirect(next_path: str) -> RedirectResponse:
    return RedirectResponse("/login?" + urlencode({"next": next_path}), status_code=303)


def safe_next(value: object) -> str:
    """A local path to return to after login; anything else (another site, a scheme) is "/"."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def check_same_origin(request: Request) -> None:
    """Refuse a post that the browser says comes from another site (before any CSRF token is
    looked at: this also stops login CSRF with a cookie planted by a neighbour on the host)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:  # every current browser sends it, whatever the referrer policy
        if fetch_site not in ("same-origin", "none"):
            raise HTTPException(403, "This form did not come from this site.")
        return
    origin = request.headers.get("origin")
    if origin is None or origin == "null":  # nothing to go on: the CSRF token decides
        return
    own = {f"{request.url.scheme}://{request.url.netloc}", services_of(request).site_origin}
    if origin not in own:
        raise HTTPException(403, "This form did not come from this site.")


async def read_form(request: Request) -> FormData:
    """The posted form, refusing what no form of this site sends."""
    check_same_origin(request)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        raise HTTPException(415, "This page takes a form post. Go back and use the form.")
    try:
        form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
    except ClientDisconnect:
        raise HTTPException(400, "The form did not arrive whole.") from None
    for value in form.values():
        if not isinstance(value, str) or len(value) > MAX_FIELD_LENGTH:
            raise HTTPException(413, "A field of this form is too long.")
        if not is_acceptable(value):
            raise HTTPException(
                400, "A field of this form has characters this site does not accept."
            )
    return form


async def login_page(request: Request) -> Response:
    if await logged_in(request):
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return _login_form(request, next_path=safe_next(request.query_params.get("next")))


def client_address(request: Request) -> str | None:
    """The client's address; behind TRUSTED_PROXIES, uvicorn has put the forwarded one here."""
    return request.client.host if request.client else None


async def login(request: Request) -> Response:
    form = await read_form(request)
    next_path = safe_next(form.get("next"))
    csrf.check(request.cookies.get(csrf.LOGIN_CSRF_COOKIE), form.get(csrf.FIELD))
    username, password = form.get("username"), form.get("password")
    username = username if isinstance(username, str) else ""
    services = services_of(request)
    if not username.strip() or not isinstance(password, str) or not password:
        return _login_form(
            request,
            next_path=next_path,
            error="Enter your user name and your password.",
            username=username,
            status_code=400,
        )
    try:
        user = await services.login.log_in(username, password, client_address(request))
    except LoginLocked as error:
        response = _login_form(
            request, next_path=next_path, error=str(error), username=username, status_code=429
        )
        response.headers["Retry-After"] = str(error.retry_after)
        return response
    except LoginFailed as error:
        return _login_form(
            request, next_path=next_path, error=str(error), username=username, status_code=400
        )
    # A fresh session ID at every login, so a planted cookie is never promoted (no fixation).
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await services.sessions.end(old)
    token = await services.sessions.start(user.id)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="lax", secure=services.secure_cookies
    )
    response.delete_cookie(csrf.LOGIN_CSRF_COOKIE, path="/login")
    return response


async def logout(request: Request) -> Response:
    form = await read_form(request)
    current = await logged_in(request)
    if current is not None:
        csrf.check(current.session.csrf_token, form.get(csrf.FIELD))
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            await services_of(request).sessions.end(token)
        await services_of(request).audit.record(
            AuditEvent.LOGOUT, Actor(user=current.user, client=client_address(request))
        )
    response = templates.TemplateResponse(
        request, "logged_out.html", {"app_name": services_of(request).internal_app_name}
    )
    response.delete_cookie(SESSION_COOKIE)
    # A pending link belongs to whoever opened it, not to the next person at this browser.
    response.delete_cookie("binding_link", path="/bind")
    return response


def _login_form(
    request: Request,
    *,
    next_path: str,
    error: str | None = None,
    username: str = "",
    status_code: int = 200,
) -> Response:
    token = request.cookies.get(csrf.LOGIN_CSRF_COOKIE) or csrf.new_login_token()
    response = templates.TemplateResponse(
        request,
        "login.html",
        {
            "app_name": services_of(request).internal_app_name,
            "next": next_path,
            "error": error,
            "username": username[:64],
            "csrf_token": token,
        },
        status_code=status_code,
    )
    response.set_cookie(
        csrf.LOGIN_CSRF_COOKIE,
        token,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=services_of(request).secure_cookies,
    )
    return response
