"""OAuth 2.0 endpoints for a company's own API: token introspection and server metadata.

POST /oauth/introspect                        RFC 7662: is this personal API token active,
                                              and whom does it act for?
GET  /.well-known/oauth-authorization-server  RFC 8414: where that endpoint is, and how
                                              its clients authenticate

Introspection is machine to machine: the caller authenticates as the one client of
INTROSPECTION_CLIENT_ID / INTROSPECTION_CLIENT_SECRET, by HTTP Basic (client_secret_basic)
or in the form body (client_secret_post), RFC 6749 section 2.3.1. No browser posts here, so
the forms' origin check and CSRF token do not apply; the site-wide body cap
(MAX_BODY_BYTES) does.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from account_binding.audit import Actor, AuditEvent
from account_binding.introspection import API_TOKEN_SCOPE, INACTIVE

from .auth import client_address
from .services import OAuthServices, services_of

log = logging.getLogger(__name__)

INTROSPECT_PATH = "/oauth/introspect"
METADATA_PATH = "/.well-known/oauth-authorization-server"
AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
#: An introspection request has token, token_type_hint and maybe the client's two fields.
MAX_FIELDS = 10

#: RFC 6749 section 5.1 and RFC 7662 section 2.2: answers about tokens are never cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class _Refusal(Exception):
    """An answer of RFC 6749 section 5.2's shape; `audit` names a failed client
    authentication for the audit log (None: not one)."""

    def __init__(self, status: int, error: str, description: str, audit: str | None = None):
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.audit = audit


@dataclass(frozen=True)
class _Credentials:
    client_id: str
    client_secret: str


def _invalid_request(description: str) -> _Refusal:
    return _Refusal(400, "invalid_request", description)


def _invalid_client(reason: str) -> _Refusal:
    return _Refusal(
        401,
        "invalid_client",
        "Client authentication failed: send the introspection client's id and secret with "
        "HTTP Basic authentication.",
        audit=reason,
    )


async def introspect(request: Request) -> Response:
    """RFC 7662 section 2: POST a form with `token` (and optionally `token_type_hint`, which
    is ignored, as section 2.1 allows). An active token gets its claims
    (`account_binding.introspection.ActiveToken.claims`); any other token, exactly
    `{"active": false}`.

    Errors (RFC 6749 section 5.2): 401 `invalid_client` with `WWW-Authenticate: Basic` for
    missing, malformed or wrong client credentials, or when introspection is not configured
    (each failure audited as `introspection_refused`, within the audit cap); 400
    `invalid_request` for a body that is not a URL-encoded form of UTF-8, a repeated field,
    two ways of authenticating at once, or no `token`.
    """
    services = services_of(request)
    oauth = services.oauth
    try:
        form = await _form(request)
        credentials = _credentials(request, form)
        if credentials is None:
            raise _invalid_client("no_credentials")
        if oauth is None or oauth.client is None:
            raise _invalid_client("not_configured")
        if not oauth.client.accepts(credentials.client_id, credentials.client_secret):
            raise _invalid_client("wrong_credentials")
        token = form.get("token")
        if not token:
            raise _invalid_request("The form must have a token field.")
    except _Refusal as refusal:
        if refusal.audit is not None:
            await services.audit.record_capped(
                AuditEvent.INTROSPECTION_REFUSED,
                Actor(client=client_address(request)),
                detail=refusal.audit,
            )
        headers = dict(NO_STORE)
        if refusal.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="introspection", charset="UTF-8"'
        return JSONResponse(
            {"error": refusal.error, "error_description": refusal.description},
            status_code=refusal.status,
            headers=headers,
        )
    active = await oauth.introspector.introspect(token)
    body: dict[str, Any] = active.claims(oauth.issuer) if active else INACTIVE
    return JSONResponse(body, headers=NO_STORE)


async def _form(request: Request) -> dict[str, str]:
    """The URL-encoded form body (RFC 7662 section 2.1), each field at most once (RFC 6749
    section 3.2). Raises _Refusal (400) otherwise."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "application/x-www-form-urlencoded":
        raise _invalid_request("The body must be application/x-www-form-urlencoded.")
    body = await request.body()  # at most MAX_BODY_BYTES: web.body_limit refuses more
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError):
        raise _invalid_request("The body must be a short URL-encoded form of UTF-8.") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise _invalid_request(f"The field {name} must not be repeated.")
        form[name] = value
    return form


def _credentials(request: Request, form: dict[str, str]) -> _Credentials | None:
    """The client's id and secret from HTTP Basic or the form (RFC 6749 section 2.3.1), or
    None when there are none. Raises _Refusal: 401 for an Authorization header that is not
    Basic or not well formed, 400 for both methods at once (section 2.3: one method per
    request)."""
    header = request.headers.get("authorization")
    posted = "client_id" in form or "client_secret" in form
    if header is None:
        if not posted:
            return None
        return _Credentials(form.get("client_id", ""), form.get("client_secret", ""))
    if posted:
        raise _invalid_request("Authenticate the client one way: HTTP Basic or the form.")
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise _invalid_client("not_basic")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise _invalid_client("malformed_credentials") from None
    client_id, colon, client_secret = decoded.partition(":")
    if not colon:
        raise _invalid_client("malformed_credentials")
    # RFC 6749 section 2.3.1: each is form-urlencoded before it is joined and encoded.
    return _Credentials(unquote_plus(client_id), unquote_plus(client_secret))


def metadata(oauth: OAuthServices) -> dict[str, Any]:
    """The authorization server metadata (RFC 8414 section 2), honest about what this server
    does: it introspects the personal API tokens binding issues, and nothing else.

    `issuer` is PUBLIC_URL, which has no path, so the metadata sits at the root's
    /.well-known/oauth-authorization-server (section 3) and `issuer` equals the URL it was
    fetched from less that suffix (section 3.3).

    Left out: `authorization_endpoint` and `token_endpoint` (no OAuth flow issues tokens
    here; binding does), and `response_types_supported`. Section 2 marks that one REQUIRED,
    but this server supports no response type and section 3.2 says members with zero
    elements MUST be omitted; reported erratum 7793 makes it required only where a grant
    type uses the authorization endpoint, and none does here. `grant_types_supported` is left
    out for the same reason (its default names flows this server does not offer, and with
    no endpoints to run them a client cannot try).
    """
    return {
        "issuer": oauth.issuer,
        "introspection_endpoint": oauth.issuer + INTROSPECT_PATH,
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        "scopes_supported": [API_TOKEN_SCOPE],
    }


async def server_metadata(request: Request) -> Response:
    """RFC 8414 section 3.2: the metadata as JSON, 200."""
    oauth = services_of(request).oauth
    if oauth is None:
        return JSONResponse({"error": "not_found"}, status_code=404)
    return JSONResponse(metadata(oauth))


routes = [
    Route(INTROSPECT_PATH, introspect, methods=["POST"]),
    Route(METADATA_PATH, server_metadata, methods=["GET"]),
]
