"""AUTH=proxy: an authenticating reverse proxy in front (oauth2-proxy and the like) names the
person in `PROXY_USER_HEADER` (and their email address in `PROXY_EMAIL_HEADER`).

The headers are believed only when the socket's peer (`web.peer`: never `request.client`,
which a trusted proxy's `X-Forwarded-For` rewrites) is in TRUSTED_PROXIES. A request carrying
either header from any other peer is refused with 403 and audited (`proxy_header_refused`,
capped per hour and client, so a flood cannot fill the log): someone is reaching the site
around the proxy. A header sent twice is refused too (400): a proxy that appends its header
beside the client's own would otherwise let the client choose.

The person's account is found by ("proxy:" + the header's name in lower case, the user name
in lower case) through `AccountService.sign_in_external`, made at their first request; an
existing account of that name that single sign-on did not make is never taken over.

Logging in is automatic: `GET /login?next=/bind` with the header starts a session made for
the link open in this browser (the binding page's rule, `web.auth.made_for`, is the same as
in every mode) and redirects. A session of another person than the header names is ended.
Without the header, from a trusted proxy or not, `/login` answers 401: the proxy did not say
who this is. `/healthz`, `/readyz`, `/metrics` and the machine endpoints never need the
headers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from account_binding.accounts import ExternalAccountRefused, normalise_username
from account_binding.audit import Actor, AuditEvent
from account_binding.errors import StoreBusy
from account_binding.text import is_acceptable

from . import cookies, errors
from .auth import (
    begin_session,
    link_hash_for_login,
    link_nonce,
    logged_in,
    made_for,
    safe_next,
)
from .authentication import (
    MAX_COOKIE_LENGTH,
    AuthenticationRefused,
    SiteUser,
    authenticated,
    is_machine_path,
    session_user,
)
from .peer import Network, is_within, networks, peer_address
from .services import services_of

#: Longest header value believed; longer ones are refused (no user name or address is).
MAX_HEADER_LENGTH = 320

UNTRUSTED = (
    "This request carries a sign-in header that only the site's authenticating proxy may "
    "set, and it did not come through that proxy, so it was refused. Open the site at its "
    "usual address."
)
NOT_NAMED = (
    "The sign-in proxy in front of this site did not say who you are, so you cannot log in "
    "here. Open the site at its usual address, through your company's sign-in; if you did, "
    "ask your administrator (the proxy must send {header} to this site)."
)


class ProxyBackend(AuthenticationBackend):
    """Who a request comes from under AUTH=proxy (see the module's docstring)."""

    def __init__(self, user_header: str, email_header: str, trusted: Sequence[str]) -> None:
        self.user_header = user_header
        self.email_header = email_header
        self.trusted: tuple[Network, ...] = networks(trusted)
        #: The issuer of the accounts this proxy vouches for, in `user_identities`.
        self.issuer = "proxy:" + user_header.lower()

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        names = conn.headers.getlist(self.user_header)
        emails = conn.headers.getlist(self.email_header)
        if (names or emails) and not is_within(peer_address(conn), self.trusted):
            await self._refuse_untrusted(conn, bool(names), bool(emails))
        if is_machine_path(conn.url.path):
            return None
        if len(names) > 1 or len(emails) > 1:
            raise AuthenticationRefused(
                400,
                "Bad request",
                "The sign-in proxy sent who you are twice, so neither was believed. "
                "Ask your administrator to have the proxy replace these headers.",
            )
        name = _value(names[0]) if names else ""
        if not name:
            return None
        email = _value(emails[0]) if emails else ""
        services = services_of(conn)
        try:
            user = await services.accounts.sign_in_external(
                self.issuer, normalise_username(name), name, email
            )
        except ExternalAccountRefused as error:
            await services.audit.record_capped(
                AuditEvent.LOGIN_FAILED,
                Actor(client=_client(conn), username=normalise_username(name)[:64]),
                detail=f"proxy:{error.reason}",
            )
            raise AuthenticationRefused(error.status, error.title, str(error)) from None
        except StoreBusy as error:
            raise AuthenticationRefused(503, "Busy", str(error), {"Retry-After": "60"}) from None
        found = await session_user(conn)
        if found is not None and found.user.id != user.id:
            # Another person's session in this browser: the proxy says who is here now.
            token = cookies.read(conn, cookies.SESSION)
            if token and len(token) <= MAX_COOKIE_LENGTH:
                await services.sessions.end(token)
            found = None
        return authenticated(SiteUser(user, found.session if found else None))

    async def _refuse_untrusted(self, conn: HTTPConnection, user: bool, email: bool) -> None:
        carried = [self.user_header] * user + [self.email_header] * email
        await services_of(conn).audit.record_capped(
            AuditEvent.PROXY_HEADER_REFUSED,
            Actor(client=_client(conn)),
            detail=",".join(carried).lower(),
        )
        raise AuthenticationRefused(403, "Not allowed", UNTRUSTED)


def _value(raw: str) -> str:
    """A header value as sent, trimmed; "" when it is too long or has control characters."""
    value = raw.strip()
    if len(value) > MAX_HEADER_LENGTH or not is_acceptable(value):
        return ""
    return value


def _client(conn: HTTPConnection) -> str | None:
    return conn.client.host if conn.client else None


class ProxyLogin:
    """AUTH=proxy's login step, automatic (see the module's docstring)."""

    def __init__(self, user_header: str, email_header: str, trusted: Sequence[str]) -> None:
        self.backend = ProxyBackend(user_header, email_header, trusted)

    @property
    def authentication(self) -> AuthenticationBackend:
        return self.backend

    def routes(self) -> Sequence[BaseRoute]:
        return [Route("/login", self.login, methods=["GET"])]

    async def login(self, request: Request) -> Response:
        """GET /login?next=PATH: with the proxy's header, a session for that person (made
        for the link open here when PATH is /bind) and a 303 to PATH; without it, 401."""
        next_path = safe_next(request.query_params.get("next"))
        named = request.scope.get("user")
        if not isinstance(named, SiteUser):
            return errors.error_page(
                request,
                401,
                NOT_NAMED.format(header=self.backend.user_header),
                title="Who are you?",
            )
        link_hash = link_hash_for_login(request, next_path)
        current = await logged_in(request)
        nonce = link_nonce(request) if link_hash else None
        if current is not None and (nonce is None or made_for(current, nonce)):
            return RedirectResponse(next_path, status_code=303)
        services = services_of(request)
        await services.audit.record_capped(
            AuditEvent.LOGIN, Actor(user=named.user, client=_client(request)), detail="proxy"
        )
        return await begin_session(request, named.user, link_hash, next_path)

    async def logged_out(self, request: Request) -> dict[str, Any]:
        return {"behind_proxy": True}
