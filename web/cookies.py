"""The site's cookies: their names, how they are read, set and forgotten.

Every cookie of this site has the path "/" and is HttpOnly; under an https `PUBLIC_URL` each
is also Secure and its name takes the `__Host-` prefix (RFC 6265bis section 4.1.3.2), which a
browser accepts only from this very host, over https, with path "/" and no Domain attribute:
so neither a sibling subdomain nor a plain-http neighbour can plant or shadow it. The path is
"/" for all of them for that reason, and because the login form must see the link cookie to
tie a login to the link it was made for (see `web.auth`).

A request that carries two cookies of one name (a planted copy with `Domain=` the parent
domain or another path beside the site's own) is treated as carrying none of that name:
nothing says which copy the site set, so it trusts neither.
"""

from __future__ import annotations

from typing import Literal

from starlette.requests import HTTPConnection
from starlette.responses import Response

from .services import services_of

SESSION = "session"
LOGIN_CSRF = "login_csrf"
LINK = "binding_link"
#: The browser's key to an authorization request under way (single sign-on, the OAuth grant
#: at binding, Sign in with Slack): `AuthorizationFlows` ties the request's state to it.
FLOW = "sso_flow"

HOST_PREFIX = "__Host-"
#: Longer values are not this site's (its values are at most 43 characters) and are ignored.
MAX_VALUE_LENGTH = 100

#: Paths these cookies had before they all moved to "/": a copy left at the old path would
#: be sent beside the new one and make both unreadable, so setting one expires the old copy.
LEGACY_PATHS = {LOGIN_CSRF: "/login", LINK: "/bind"}


def name(connection: HTTPConnection, base: str) -> str:
    """The name `base` has on this site: `__Host-<base>` under https, else `base`."""
    return HOST_PREFIX + base if services_of(connection).secure_cookies else base


def parse_cookie_header(values: list[str]) -> dict[str, list[str]]:
    """Every value of every cookie name in the Cookie header(s), in order (RFC 6265 5.4).

    Unlike a plain mapping, this keeps duplicates, so that a caller can tell that a name came
    twice.
    """
    found: dict[str, list[str]] = {}
    for header in values:
        for chunk in header.split(";"):
            key, sep, value = chunk.partition("=")
            if not sep:
                continue
            key, value = key.strip(), value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            if key:
                found.setdefault(key, []).append(value)
    return found


def read(connection: HTTPConnection, base: str) -> str | None:
    """The value of this site's cookie `base`, or None when it is absent, empty or sent twice."""
    values = parse_cookie_header(connection.headers.getlist("cookie")).get(
        name(connection, base), []
    )
    if len(values) != 1 or not values[0]:
        return None
    return values[0]


def set_cookie(
    connection: HTTPConnection,
    response: Response,
    base: str,
    value: str,
    *,
    samesite: Literal["lax", "strict"],
    max_age: int | None = None,
) -> None:
    """Set this site's cookie `base`: path "/", HttpOnly, Secure and `__Host-` under https."""
    response.set_cookie(
        name(connection, base),
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite=samesite,
        secure=services_of(connection).secure_cookies,
    )
    _expire_legacy(connection, response, base)


def _expire_legacy(connection: HTTPConnection, response: Response, base: str) -> None:
    legacy = LEGACY_PATHS.get(base)
    if legacy is not None and not services_of(connection).secure_cookies:
        response.delete_cookie(base, path=legacy, httponly=True)


def forget(connection: HTTPConnection, response: Response, base: str) -> None:
    """Tell the browser to drop this site's cookie `base`."""
    secure = services_of(connection).secure_cookies
    response.delete_cookie(name(connection, base), path="/", secure=secure, httponly=True)
    _expire_legacy(connection, response, base)
