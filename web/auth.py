"""Logging in and out, who is logged in, and the built-in accounts' login (AUTH=local).

A login started from the binding page is made for that link: its form carries the SHA-256 of
the link (never the link itself, which stays in its HttpOnly cookie and out of every URL), the
post checks it against the link cookie, and the session records it. Only such a session can
confirm that link (`web.binding_pages`): a session planted by a neighbour, or an older login,
is asked to log in again first. The same rule holds under every AUTH mode: each mode's login
ends in `begin_session` with the link it was made for.

Who is logged in comes from the authentication middleware (`web.authentication`), which puts
a `SiteUser` in `request.user`; `logged_in(request)` reads it.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.authentication import AuthenticationBackend
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from account_binding.audit import Actor, AuditEvent
from account_binding.errors import AccountDisabled
from account_binding.login import LoginFailed, LoginLocked
from account_binding.models import User
from account_binding.sessions import ActiveSession
from account_binding.tokens import digest

from . import cookies, csrf
from .authentication import SessionBackend, SiteUser
from .forms import read_form
from .services import services_of
from .templating import templates

log = logging.getLogger(__name__)

#: Where the binding page lives; a login whose return address is this is made for the link.
BIND_PATH = "/bind"
#: Longer cookie values are not this site's and are ignored.
MAX_COOKIE_LENGTH = cookies.MAX_VALUE_LENGTH
#: The hidden field of the login form carrying the SHA-256 of the link it was made for.
LINK_FIELD = "link_id"


@dataclass(frozen=True)
class LoggedIn:
    user: User
    session: ActiveSession


async def logged_in(request: Request) -> LoggedIn | None:
    """Who this request's session logs in, as the authentication middleware found it
    (`request.user`), or None: no session cookie, two, unknown, expired, or (AUTH=proxy) a
    person the proxy names who has no session of this site yet."""
    user = request.scope.get("user")
    if isinstance(user, SiteUser) and user.session is not None:
        return LoggedIn(user.user, user.session)
    return None


def same_link(shown: object, nonce: str) -> bool:
    """Whether `shown` (a form's `link_id`: the SHA-256 of the link the page showed) names
    the link `nonce` this browser holds now; compared in constant time."""
    return isinstance(shown, str) and hmac.compare_digest(
        shown.encode("utf-8", "replace"), digest(nonce).encode()
    )


def link_nonce(request: Request) -> str | None:
    """The binding link opened in this browser (its cookie), or None."""
    nonce = cookies.read(request, cookies.LINK)
    return nonce if nonce and len(nonce) <= MAX_COOKIE_LENGTH else None


def made_for(current: LoggedIn | None, nonce: str) -> bool:
    """True when `current` is a session whose login was made for the link `nonce`."""
    if current is None or current.session.link_hash is None:
        return False
    return hmac.compare_digest(current.session.link_hash.encode(), digest(nonce).encode())


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


def _link_for_login(request: Request, next_path: str) -> str | None:
    """The link a login returning to `next_path` is made for: the open link, for /bind."""
    return link_nonce(request) if urlsplit(next_path).path == BIND_PATH else None


def link_hash_for_login(request: Request, next_path: str) -> str | None:
    """The SHA-256 of the link a login returning to `next_path` is made for (the link open in
    this browser, for /bind), or None: what the session `begin_session` starts records."""
    nonce = _link_for_login(request, next_path)
    return digest(nonce) if nonce else None


def link_still_open(request: Request, link_hash: str | None) -> bool:
    """True when a login made for the link `link_hash` may go on: it was made for no link, or
    that link is still the one open in this browser (its cookie)."""
    if link_hash is None:
        return True
    nonce = link_nonce(request)
    return nonce is not None and hmac.compare_digest(
        digest(nonce).encode(), link_hash.encode("utf-8", "replace")
    )


async def login_page(request: Request) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    nonce = _link_for_login(request, next_path)
    current = await logged_in(request)
    if current is not None and (nonce is None or made_for(current, nonce)):
        return RedirectResponse(next_path, status_code=303)
    return _login_form(request, next_path=next_path, link_id=digest(nonce) if nonce else None)


def client_address(request: Request) -> str | None:
    """The client's address; behind TRUSTED_PROXIES, uvicorn has put the forwarded one here."""
    return request.client.host if request.client else None


async def login(request: Request) -> Response:
    form = await read_form(request)
    next_path = safe_next(form.get("next"))
    csrf.check(cookies.read(request, cookies.LOGIN_CSRF), form.get(csrf.FIELD))
    link_id = form.get(LINK_FIELD) or None
    if link_id is not None:
        nonce = link_nonce(request)
        if nonce is None or not hmac.compare_digest(
            digest(nonce).encode(), str(link_id).encode("utf-8", "replace")
        ):
            return link_changed(request)
    username, password = form.get("username"), form.get("password")
    username = username if isinstance(username, str) else ""
    services = services_of(request)
    link_field = str(link_id) if link_id else None
    if not username.strip() or not isinstance(password, str) or not password:
        return _login_form(
            request,
            next_path=next_path,
            link_id=link_field,
            error="Enter your user name and your password.",
            username=username,
            status_code=400,
        )
    try:
        user = await services.login.log_in(username, password, client_address(request))
    except LoginLocked as error:
        response = _login_form(
            request,
            next_path=next_path,
            link_id=link_field,
            error=str(error),
            username=username,
            status_code=429,
        )
        response.headers["Retry-After"] = str(error.retry_after)
        return response
    except LoginFailed as error:
        return _login_form(
            request,
            next_path=next_path,
            link_id=link_field,
            error=str(error),
            username=username,
            status_code=400,
        )
    except AccountDisabled as error:  # Issue 10, lifecycle
        return _login_form(
            request,
            next_path=next_path,
            link_id=link_field,
            error=str(error),
            username=username,
            status_code=403,
        )
    return await begin_session(request, user, link_field, next_path)


async def begin_session(
    request: Request,
    user: User,
    link_hash: str | None,
    next_path: str,
    *,
    started: Callable[[str], Awaitable[None]] | None = None,
) -> RedirectResponse:
    """Log `user` in, in every AUTH mode: a new session made for the link `link_hash` (None:
    for no link), its cookie set, and a 303 to `next_path` (already checked by `safe_next`).
    `started`, when given, is awaited with the new session's cookie value first.

    Returns the response, to which a caller may add cookies. Any session the request's
    cookie names is ended first, so a planted cookie is never promoted (no fixation).
    """
    services = services_of(request)
    # A fresh session ID at every login, so a planted cookie is never promoted (no fixation).
    old = cookies.read(request, cookies.SESSION)
    if old and len(old) <= MAX_COOKIE_LENGTH:
        if services.grants is not None:  # tokens its login for a link left unused
            await services.grants.discard_pending(old)
        await services.sessions.end(old)
    token = await services.sessions.start(user.id, link_hash)
    if started is not None:
        await started(token)
    response = RedirectResponse(next_path, status_code=303)
    cookies.set_cookie(request, response, cookies.SESSION, token, samesite="lax")
    cookies.forget(request, response, cookies.LOGIN_CSRF)
    return response


async def logout(request: Request) -> Response:
    form = await read_form(request)
    current = await logged_in(request)
    if current is not None:
        csrf.check(current.session.csrf_token, form.get(csrf.FIELD))
        token = cookies.read(request, cookies.SESSION)
        if token:
            grants = services_of(request).grants
            if grants is not None:  # tokens a login for a link left unused are revoked
                await grants.discard_pending(token)
            await services_of(request).sessions.end(token)
        await services_of(request).audit.record(
            AuditEvent.LOGOUT, Actor(user=current.user, client=client_address(request))
        )
    services = services_of(request)
    more = await services.login_backend.logged_out(request) if services.login_backend else {}
    response = templates.TemplateResponse(
        request, "logged_out.html", {"app_name": services.internal_app_name, **more}
    )
    cookies.forget(request, response, cookies.SESSION)
    # A pending link belongs to whoever opened it, not to the next person at this browser.
    cookies.forget(request, response, cookies.LINK)
    return response


def link_changed(request: Request) -> Response:
    """409: a login made for a link that is no longer the one open in this browser."""
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "app_name": services_of(request).internal_app_name,
            "title": "The link changed",
            "message": "This login was for a binding link that is no longer the one open in "
            "this browser (another link was opened, or it was forgotten), so you were not "
            "logged in. Open the link you mean to use again from Slack.",
        },
        status_code=409,
    )


def _login_form(
    request: Request,
    *,
    next_path: str,
    link_id: str | None = None,
    error: str | None = None,
    username: str = "",
    status_code: int = 200,
) -> Response:
    token = cookies.read(request, cookies.LOGIN_CSRF)
    if not token or len(token) > MAX_COOKIE_LENGTH:
        token = csrf.new_login_token()
    response = templates.TemplateResponse(
        request,
        "login.html",
        {
            "app_name": services_of(request).internal_app_name,
            "next": next_path,
            "link_id": link_id,
            "error": error,
            "username": username[:64],
            "csrf_token": token,
        },
        status_code=status_code,
    )
    cookies.set_cookie(request, response, cookies.LOGIN_CSRF, token, samesite="strict")
    return response


class LocalLogin:
    """AUTH=local, the default: the built-in accounts' login form (GET and POST /login),
    behind the login throttle (`LoginService`)."""

    @property
    def authentication(self) -> AuthenticationBackend:
        return SessionBackend()

    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route("/login", login_page, methods=["GET"]),
            Route("/login", login, methods=["POST"]),
        ]

    async def logged_out(self, request: Request) -> dict[str, Any]:
        return {}
