"""Sign in with Slack before Connect (VERIFY_SLACK_IDENTITY): the person proves that they are
the Slack user the binding link was issued to, which closes the forwarded-link attack.

POST /slack-identity/start     from the confirm page's form (same origin, session CSRF token):
                               begins an authorization request and sends the browser to
                               Slack's authorization endpoint.
GET  /slack-identity/callback  where Slack sends the browser back (the redirect URL
                               PUBLIC_URL/slack-identity/callback of the manifest).

Sign in with Slack is OpenID Connect's authorization code flow (OpenID Connect Core 1.0
section 3.1) at the issuer SLACK_OPENID_ISSUER (https://slack.com; discovery at
/.well-known/openid-configuration), with the scope `openid` only: its ID token carries the
claims `https://slack.com/user_id` and `https://slack.com/team_id`, and on Enterprise Grid
`https://slack.com/enterprise_id`. The request carries `state` (RFC 6749 section 10.12),
`nonce` (Core section 3.1.2.1), a PKCE challenge (RFC 7636; a server that does not know PKCE
ignores the parameters, RFC 6749 section 3.1) and `team`, the workspace the link was issued
in, which Slack's authorize endpoint takes to pick that workspace (a convenience only: the
comparison below is the check).

The callback takes the flow back once, in the browser that began it
(`account_binding.authorization_flows`), and acts only when the session and the link are the
ones it was begun for. The code is exchanged and the ID token verified (signature, issuer,
audience, expiry, nonce) by `relying_party`; then who Slack says signed in is compared with
the link's Slack identity (`account_binding.slack_proof.same_person`):

- the same person: the session records that it proved this link, and the browser goes back
  to /bind, where Connect now works;
- someone else: 403, the link is voided (it was forwarded) and the mismatch is audited as
  `slack_identity_mismatch` with both Slack identities;
- Slack refused or the person declined (`error=`), an ID token that fails verification, or an
  answer without the Slack claims: a 4xx page, the link kept;
- Slack unreachable or too slow (PROVIDER_TIMEOUT): 503, the link kept, audited as
  `slack_error`.
"""

from __future__ import annotations

import hmac
import logging
import re
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from account_binding.audit import Actor, AuditEvent
from account_binding.authorization_flows import FlowRefused
from account_binding.errors import LinkError
from account_binding.models import SlackIdentity
from account_binding.slack_proof import same_person
from account_binding.tokens import digest
from relying_party import InvalidIdToken, ProviderRefused, ProviderUnavailable

from . import cookies, csrf
from .auth import (
    BIND_PATH,
    MAX_COOKIE_LENGTH,
    LoggedIn,
    client_address,
    link_nonce,
    logged_in,
    login_redirect,
    made_for,
    same_link,
)
from .authorization_requests import forget_flow, redirect_to_provider, take_back
from .errors import SLACK_UNAVAILABLE
from .forms import read_form
from .services import SlackSignIn, services_of
from .templating import templates

log = logging.getLogger(__name__)

START_PATH = "/slack-identity/start"
CALLBACK_PATH = "/slack-identity/callback"
#: Only who the person is: no email, no profile (the link already names them).
SCOPES = "openid"

#: Claims of Slack's ID token (Slack's documentation of openid.connect.token).
USER_ID_CLAIM = "https://slack.com/user_id"
TEAM_ID_CLAIM = "https://slack.com/team_id"
ENTERPRISE_ID_CLAIM = "https://slack.com/enterprise_id"
#: What a Slack ID looks like (U…, W…, T…, E…); anything else is not read as one.
SLACK_ID = re.compile(r"[A-Z0-9]{1,40}")
#: An OAuth error code (RFC 6749 section 4.1.2.1) shown back to the person only in this form.
ERROR_CODE = re.compile(r"[a-z_]{1,40}")
#: Longer authorization codes are not Slack's.
MAX_CODE_LENGTH = 1024


def redirect_uri(public_url: str) -> str:
    """The redirect URL to register in the manifest's `oauth_config.redirect_urls`."""
    return public_url + CALLBACK_PATH


async def start(request: Request) -> Response:
    """Begin Sign in with Slack for the open link, from its confirm page."""
    sign_in = _sign_in(request)
    form = await read_form(request)
    nonce = link_nonce(request)
    if nonce is None:
        return _page(request, "no_link.html", {}, status_code=400)
    if not same_link(form.get("link_id"), nonce):
        return _link_changed(request)
    current = await logged_in(request)
    if not made_for(current, nonce):
        return login_redirect(BIND_PATH)
    assert current is not None
    csrf.check(current.session.csrf_token, form.get(csrf.FIELD))
    session_token = cookies.read(request, cookies.SESSION)
    assert session_token is not None  # logged_in found the session by it
    services = services_of(request)
    try:
        pending = await services.bindings.pending(nonce, _actor(request, current))
    except LinkError:
        return RedirectResponse(BIND_PATH, status_code=303)  # the confirm page says why
    try:
        return await redirect_to_provider(
            request,
            sign_in.provider,
            "slack",
            redirect_uri=sign_in.redirect_uri,
            scopes=SCOPES,
            provider_name="Slack",
            next_path=BIND_PATH,
            link_hash=digest(nonce),
            session_hash=digest(session_token),
            # Slack's authorize endpoint takes `team` to pick the link's workspace.
            extra={"team": pending.identity.team_id},
        )
    except ProviderUnavailable as error:
        return await _slack_unavailable(request, current, pending.identity, str(error))


async def callback(request: Request) -> Response:
    """Where Slack sends the browser back: compare who signed in with the link's Slack user."""
    response = await _callback(request, _sign_in(request))
    forget_flow(request, response)  # used once, whatever the outcome
    return response


async def _callback(request: Request, sign_in: SlackSignIn) -> Response:
    services = services_of(request)
    params = request.query_params
    try:
        flow = await take_back(request, "slack")
    except FlowRefused as refused:
        log.warning("A Sign in with Slack callback was refused: %s", refused.reason)
        return _problem(request, 400, "Sign in with Slack did not work", str(refused))
    error = params.get("error")
    if error is not None:
        said = f" (Slack said: {error})" if ERROR_CODE.fullmatch(error) else ""
        return _problem(
            request,
            403 if error == "access_denied" else 400,
            "Not signed in with Slack",
            f"You did not sign in with Slack{said}, so nothing was connected. Your link still "
            "works: go back to sign in with Slack, or cancel.",
            retry=True,
        )
    current = await logged_in(request)
    session_token = cookies.read(request, cookies.SESSION)
    if (
        current is None
        or session_token is None
        or len(session_token) > MAX_COOKIE_LENGTH
        or flow.session_hash is None
        or not _equal(digest(session_token), flow.session_hash)
    ):
        return _problem(
            request,
            403,
            "Another session",
            "This Slack sign-in was started in another login session, so it proves nothing "
            "here. Open your link again and sign in with Slack from its page.",
        )
    nonce = link_nonce(request)
    if (
        nonce is None
        or flow.link_hash is None
        or not _equal(digest(nonce), flow.link_hash)
        or not made_for(current, nonce)
    ):
        return _link_changed(request)
    code = params.get("code")
    if not code or len(code) > MAX_CODE_LENGTH:
        return _problem(
            request, 400, "Sign in with Slack did not work", "Slack sent no sign-in code back."
        )
    actor = _actor(request, current)
    try:
        pending = await services.bindings.pending(nonce, actor)
    except LinkError:
        return RedirectResponse(BIND_PATH, status_code=303)  # the confirm page says why
    try:
        grant = await sign_in.provider.exchange_code(
            sign_in.redirect_uri, code, code_verifier=flow.code_verifier, nonce=flow.nonce
        )
    except ProviderUnavailable as error:
        return await _slack_unavailable(request, current, pending.identity, str(error))
    except ProviderRefused as error:
        log.warning("Slack refused the Sign in with Slack code: %s", error.error)
        return _problem(
            request,
            400,
            "Sign in with Slack did not work",
            "Slack did not accept this sign-in (it may have taken too long). Your link still "
            "works: sign in with Slack again.",
            retry=True,
        )
    except InvalidIdToken as error:
        log.warning("Sign in with Slack gave an ID token that fails verification: %s", error.reason)
        return _problem(
            request,
            400,
            "Sign in with Slack did not work",
            "Slack's answer could not be verified, so it proves nothing. Your link still "
            "works: sign in with Slack again.",
            retry=True,
        )
    signed_in = slack_identity_of(grant.id_token_claims or {})
    if signed_in is None:
        log.warning("Sign in with Slack gave an ID token without Slack's user and team claims")
        return _problem(
            request,
            502,
            "Sign in with Slack did not work",
            "Slack's answer did not say which Slack user signed in. Your link still works: "
            "try again in a minute.",
            retry=True,
        )
    expected = pending.identity
    if not same_person(expected, signed_in):
        await sign_in.proofs.refuse(nonce, actor, expected, signed_in)
        log.warning(
            "Sign in with Slack as %s/%s for a link issued to %s/%s: refused, link voided",
            signed_in.scope_id,
            signed_in.user_id,
            expected.scope_id,
            expected.user_id,
        )
        return _problem(
            request,
            403,
            "Signed in to Slack as someone else",
            "You signed in to Slack as someone other than the person this link was made for, "
            "so nothing was connected and the link no longer works. To connect your own Slack "
            "account, ask for a link in Slack yourself.",
        )
    await sign_in.proofs.accept(session_token, nonce)
    return RedirectResponse(BIND_PATH, status_code=303)


def slack_identity_of(claims: dict[str, Any]) -> SlackIdentity | None:
    """Who a verified Sign in with Slack ID token names: its `https://slack.com/user_id`,
    `https://slack.com/team_id` and, on Enterprise Grid, `https://slack.com/enterprise_id`
    claims. None when the user or team claim is missing or not a Slack ID (an enterprise
    claim that is not one is ignored)."""
    user_id, team_id = claims.get(USER_ID_CLAIM), claims.get(TEAM_ID_CLAIM)
    enterprise_id = claims.get(ENTERPRISE_ID_CLAIM)
    if not _is_slack_id(user_id) or not _is_slack_id(team_id):
        return None
    return SlackIdentity.from_ids(
        team_id=str(team_id),
        user_id=str(user_id),
        enterprise_id=str(enterprise_id) if _is_slack_id(enterprise_id) else None,
    )


def _is_slack_id(value: object) -> bool:
    return isinstance(value, str) and SLACK_ID.fullmatch(value) is not None


def _sign_in(request: Request) -> SlackSignIn:
    sign_in = services_of(request).slack_sign_in
    if sign_in is None:  # VERIFY_SLACK_IDENTITY is off: these pages do not exist
        raise HTTPException(404)
    return sign_in


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _actor(request: Request, current: LoggedIn) -> Actor:
    return Actor(user=current.user, client=client_address(request))


async def _slack_unavailable(
    request: Request, current: LoggedIn, identity: SlackIdentity, reason: str
) -> Response:
    log.warning("Sign in with Slack: Slack did not answer: %s", reason)
    await services_of(request).audit.record(
        AuditEvent.SLACK_ERROR, _actor(request, current), identity, detail="Sign in with Slack"
    )
    response = _problem(request, 503, "Slack did not answer", SLACK_UNAVAILABLE, retry=True)
    response.headers["Retry-After"] = "60"
    return response


def _link_changed(request: Request) -> Response:
    return _problem(
        request,
        409,
        "The link changed",
        "Another binding link was opened in this browser after this one, so nothing was done. "
        "Open the link you mean to use again.",
    )


def _problem(
    request: Request, status: int, title: str, message: str, *, retry: bool = False
) -> Response:
    """An error page; with `retry`, it leads back to the binding page (the link still works)."""
    return _page(
        request,
        "slack_identity_error.html",
        {"title": title, "message": message, "retry": retry},
        status_code=status,
    )


def _page(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    context = {"app_name": services_of(request).internal_app_name, **context}
    return templates.TemplateResponse(request, name, context, status_code=status_code)


routes = [
    Route(START_PATH, start, methods=["POST"]),
    Route(CALLBACK_PATH, callback, methods=["GET"]),
]
