"""Who a request comes from: Starlette's `AuthenticationMiddleware` with one backend per AUTH
mode, giving `request.user` and `request.auth`.

Every mode keeps its sessions on the server (`SessionService`; the cookie holds a random ID),
and the binding page's rule is the same in each: only a session whose login was made for the
link in this browser may confirm it (`web.auth.made_for`). What differs is how a login
happens, so each mode is a `LoginBackend`: the authentication backend the middleware asks,
and the routes a person logs in through.

- AUTH=local (`web.auth.LocalLogin`): the login form, user name and password.
- AUTH=oidc (`web.oidc_login.OidcLogin`): "Sign in with <provider>", OpenID Connect's
  authorization code flow.
- AUTH=proxy (`web.proxy_identity.ProxyLogin`): an authenticating reverse proxy names the
  person in a header, believed only from TRUSTED_PROXIES.

`request.user` is a `SiteUser` (our `User`, and the `ActiveSession` when the session cookie
names a live one) or Starlette's `UnauthenticatedUser`; `request.auth.scopes` holds
"authenticated" for a `SiteUser`. Machine endpoints (`is_machine_path`) are never
authenticated here: they take their own credentials, and a health check never touches the
database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from account_binding.errors import StoreBusy
from account_binding.models import User
from account_binding.sessions import ActiveSession

from . import cookies, errors
from .services import services_of

#: The scope `request.auth` holds for a person the backend knows.
AUTHENTICATED = "authenticated"
MAX_COOKIE_LENGTH = cookies.MAX_VALUE_LENGTH
#: Paths that take no login and are never authenticated by the middleware: the health
#: checks and metrics (issue 11: /metrics takes METRICS_TOKEN's bearer token of its own),
#: static files, and the machine endpoints (bearer or client credentials of their own).
MACHINE_PATHS = ("/healthz", "/readyz", "/metrics")
MACHINE_PREFIXES = ("/static/", "/api/", "/oauth/", "/.well-known/")


def is_machine_path(path: str) -> bool:
    """True for /healthz, /readyz, /metrics, /static/*, /api/*, /oauth/* and
    /.well-known/*."""
    return path in MACHINE_PATHS or path == "/api" or path.startswith(MACHINE_PREFIXES)


class SiteUser(BaseUser):
    """A person the request's login backend knows: `user`, and `session` when the request's
    session cookie names a live session of theirs (None under AUTH=proxy before the login
    step made one)."""

    def __init__(self, user: User, session: ActiveSession | None) -> None:
        self.user = user
        self.session = session

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.user.username

    @property
    def identity(self) -> str:
        return str(self.user.id)

    def __repr__(self) -> str:
        return f"SiteUser(user_id={self.user.id}, session={self.session is not None})"


class AuthenticationRefused(AuthenticationError):
    """The backend refuses the request outright: answered with an error page of `status`
    (JSON under the machine paths), `title` and `message` (safe to show)."""

    def __init__(
        self,
        status: int,
        title: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
        self.headers = dict(headers or {})


def authenticated(user: SiteUser) -> tuple[AuthCredentials, BaseUser]:
    return AuthCredentials([AUTHENTICATED]), user


async def session_user(connection: HTTPConnection) -> SiteUser | None:
    """The person whose live session the request's session cookie names, or None (no cookie,
    two, too long, unknown, expired, or its account is gone or disabled). Raises
    AuthenticationRefused (503) when the database is locked past its busy timeout."""
    token = cookies.read(connection, cookies.SESSION)
    if not token or len(token) > MAX_COOKIE_LENGTH:
        return None
    services = services_of(connection)
    try:
        session = await services.sessions.resolve(token)
        if session is None:
            return None
        user = await services.accounts.user(session.user_id)
    except StoreBusy as error:
        raise AuthenticationRefused(503, "Busy", str(error), {"Retry-After": "60"}) from None
    if user is None or user.disabled_at is not None:
        return None  # Issue 10, lifecycle: a disabled account's session logs nobody in
    return SiteUser(user, session)


class SessionBackend(AuthenticationBackend):
    """AUTH=local and AUTH=oidc: the person is whoever the session cookie's session is of."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        if is_machine_path(conn.url.path):
            return None
        user = await session_user(conn)
        return authenticated(user) if user else None


class LoginBackend(Protocol):
    """One AUTH mode, as the site uses it (see the module's docstring)."""

    @property
    def authentication(self) -> AuthenticationBackend:
        """What the middleware asks who a request comes from."""
        ...

    def routes(self) -> Sequence[BaseRoute]:
        """The login routes: at least GET /login (with `next`, a local path; a login whose
        `next` is /bind is made for the link open in this browser)."""
        ...

    async def logged_out(self, request: Request) -> dict[str, Any]:
        """More for the logged-out page after POST /logout ended the local session (such
        as the provider's end-session address); {} for none."""
        ...


def refusal_page(connection: HTTPConnection, error: AuthenticationError) -> Response:
    """The middleware's answer when a backend raises: the refusal's page, or a 400."""
    request = Request(connection.scope)
    if isinstance(error, AuthenticationRefused):
        return errors.error_page(
            request, error.status, error.message, error.headers, title=error.title
        )
    return errors.error_page(request, 400, str(error) or "This request cannot be authenticated.")


def authentication_middleware(backend: AuthenticationBackend) -> Middleware:
    """Starlette's `AuthenticationMiddleware` asking `backend`, its refusals as pages."""
    return Middleware(AuthenticationMiddleware, backend=backend, on_error=refusal_page)
