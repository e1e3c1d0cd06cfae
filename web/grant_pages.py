"""ACT_AS=oauth2 at binding: the person grants their own OAuth 2.0 tokens before the binding is
made, by an authorization code grant with PKCE (RFC 6749 section 4.1, RFC 7636) at OAUTH2_ISSUER.

Connect on the confirm page (`web.binding_pages.confirm`, after its CSRF and made-for checks)
comes here. When the session already holds a grant (the login at the same provider asked for
these scopes too: one consent does both), the binding is made with it at once. Otherwise the
browser goes to the provider, with the request's state, nonce and verifier kept on the server
(`AuthorizationFlows`, purpose "grant") for this browser (the flow cookie), this session and
this link; `prompt=consent`, under which servers issue refresh tokens for `offline_access`
(OpenID Connect Core 1.0 section 11).

`GET /grant/callback` takes the flow back once, for the browser that began it, and acts only
when it was begun in this session for the link open in this browser. The code is exchanged
(the ID token checked against the flow's nonce), the ID token's subject is recorded as the
logged-in user's identity at the provider (refused when it is another user's), and the binding
is made as Connect makes it, holding the grant, in one write. Tokens granted but not bound are
dropped, not revoked (a server that keeps one grant per person and client would end that
person's other bindings' tokens with them). No page shows a token, and none is logged.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from account_binding.audit import Actor
from account_binding.authorization_flows import FlowRefused
from account_binding.errors import (
    AccountDisabled,
    AlreadyBound,
    IdentityTaken,
    LinkError,
    SlackUnavailable,
)
from account_binding.oauth_grants import GrantedTokens, OAuthGrants, PendingGrants
from account_binding.tokens import digest
from relying_party import InvalidIdToken, Provider, ProviderRefused, ProviderUnavailable

from . import binding_pages, cookies, errors
from .auth import BIND_PATH, LoggedIn, client_address, link_nonce, logged_in, made_for
from .authorization_requests import forget_flow, redirect_to_provider, take_back
from .services import services_of

log = logging.getLogger(__name__)

CALLBACK_PATH = "/grant/callback"
#: Longer codes are not the provider's.
MAX_CODE_LENGTH = 2048


@dataclass(frozen=True)
class GrantServices:
    """What binding with a grant needs (ACT_AS=oauth2)."""

    #: The authorization server (OAUTH2_ISSUER) and this app's client there.
    provider: Provider
    #: The bindings' grants: sealing, identities, revocation.
    grants: OAuthGrants
    #: OAUTH2_SCOPES, space-separated.
    scopes: str
    #: PUBLIC_URL + /grant/callback, as registered at the provider.
    redirect_uri: str
    #: Grants kept with sessions by a login at the same provider (AUTH=oidc with
    #: OAUTH2_ISSUER == OIDC_ISSUER); None otherwise.
    pending: PendingGrants | None = None

    async def discard_pending(self, session_token: str | None) -> None:
        """Forget the tokens a login made for a link left with the session `session_token`,
        when the session ends or its link is cancelled without Connect. They are dropped,
        not revoked: many servers keep one grant per person and client, and revoking these
        would end the tokens of that person's existing bindings too."""
        if self.pending is not None and session_token:
            await self.pending.take(session_token)


def grant_services_of(request: Request) -> GrantServices:
    grants = services_of(request).grants
    if grants is None:  # ACT_AS is not oauth2: there is no such page
        raise HTTPException(404)
    assert isinstance(grants, GrantServices)
    return grants


async def connect(request: Request, current: LoggedIn, nonce: str, actor: Actor) -> Response:
    """Connect pressed for the link `nonce` by `current` (checked by the caller: CSRF, the
    link the page showed, a login made for it). Raises LinkError or AlreadyBound, as
    `BindingService.confirm` does, for the caller to answer."""
    grant_services = grant_services_of(request)
    services = services_of(request)
    session_token = cookies.read(request, cookies.SESSION)
    assert session_token is not None  # `current` came from it
    if grant_services.pending is not None:
        tokens = await grant_services.pending.take(session_token)
        if tokens is not None:
            return await _bind(request, grant_services, current, nonce, actor, tokens)
    pending = await services.bindings.pending(nonce, actor)
    if await services.bindings.is_bound(pending.identity):
        raise AlreadyBound()
    try:
        return await redirect_to_provider(
            request,
            grant_services.provider,
            "grant",
            redirect_uri=grant_services.redirect_uri,
            scopes=grant_services.scopes,
            provider_name=grant_services.grants.provider_name,
            next_path=BIND_PATH,
            link_hash=digest(nonce),
            session_hash=digest(session_token),
            prompt="consent",  # servers issue refresh tokens for offline_access only so
        )
    except ProviderUnavailable as error:
        log.warning("Could not start the grant at %s: %s", grant_services.grants.issuer, error)
        return _unreachable(request, grant_services)


async def callback(request: Request) -> Response:
    """GET /grant/callback: the provider sends the browser back here (RFC 6749 section
    4.1.2), with `code` and `state`, or `error`."""
    grant_services = grant_services_of(request)
    response = await _callback(request, grant_services)
    forget_flow(request, response)  # the flow is used up, whatever happened
    return response


async def _callback(request: Request, grant_services: GrantServices) -> Response:
    services = services_of(request)
    query = request.query_params
    try:
        flow = await take_back(request, "grant")
    except FlowRefused as refused:
        log.warning("Refused a grant callback: %s", refused.reason)
        return _error(request, 400, "Not connected", str(refused))
    current = await logged_in(request)
    session_token = cookies.read(request, cookies.SESSION)
    if (
        current is None
        or session_token is None
        or flow.session_hash is None
        or not _same(flow.session_hash, digest(session_token))
    ):
        log.warning("Refused a grant callback: the flow was begun in another session")
        return _error(
            request,
            400,
            "Not connected",
            "This sign-in was started in another session, so nothing was done. Open the link "
            "from Slack again and press Connect.",
        )
    nonce = link_nonce(request)
    if (
        nonce is None
        or flow.link_hash is None
        or not _same(flow.link_hash, digest(nonce))
        or not made_for(current, nonce)
    ):
        log.warning("Refused a grant callback: the flow was begun for another link")
        return _error(
            request,
            409,
            "The link changed",
            "Another binding link was opened in this browser after you pressed Connect, so "
            "nothing was done. Open the link you mean to use again.",
        )
    name = grant_services.grants.provider_name
    if query.get("error") is not None:
        error = str(query.get("error"))[:64]
        log.info("The provider answered the grant request with error %r", error)
        return _error(
            request,
            400,
            "Not connected",
            f"{name} did not grant access ({error}), so nothing was connected. Your link "
            f"still works: press Connect again to retry.",
            link_kept=True,
        )
    code = query.get("code")
    if not code or len(code) > MAX_CODE_LENGTH:
        return _error(
            request, 400, "Not connected", f"{name} sent no code back, so nothing was connected."
        )
    try:
        tokens = await grant_services.provider.exchange_code(
            grant_services.redirect_uri, code, code_verifier=flow.code_verifier, nonce=flow.nonce
        )
    except ProviderUnavailable as error:
        log.warning(
            "The grant's code exchange at %s failed: %s", grant_services.grants.issuer, error
        )
        return _unreachable(request, grant_services)
    except (ProviderRefused, InvalidIdToken) as error:
        log.warning(
            "The grant's code exchange at %s was refused: %s", grant_services.grants.issuer, error
        )
        return _error(
            request,
            400,
            "Not connected",
            f"{name} did not confirm the sign-in, so nothing was connected. Your link still "
            f"works: press Connect again to retry.",
            link_kept=True,
        )
    actor = Actor(user=current.user, client=client_address(request))
    try:
        return await _bind(request, grant_services, current, nonce, actor, tokens)
    except SlackUnavailable as error:
        return await errors.slack_unavailable(request, error)
    except AlreadyBound:
        return await binding_pages._already_bound(
            request, await services.bindings.lookup(nonce), current
        )
    except LinkError as error:
        return await binding_pages._link_error(request, error, nonce, current)
    except AccountDisabled as error:  # Issue 10, lifecycle
        return binding_pages.account_disabled(request, error)


async def _bind(
    request: Request,
    grant_services: GrantServices,
    current: LoggedIn,
    nonce: str,
    actor: Actor,
    tokens: GrantedTokens,
) -> Response:
    """Bind the link to `current.user` with `tokens`, as Connect binds. Raises what
    `BindingService.confirm` raises. Tokens not bound are dropped, not revoked: many
    servers keep one grant per person and client, so revoking them would also end the
    tokens of that person's other bindings."""
    services = services_of(request)
    grants = grant_services.grants
    try:
        sealed = await grants.claim(current.user, tokens)
    except IdentityTaken:
        log.warning(
            "User %s granted tokens of a subject at %s that belongs to another user: nothing bound",
            current.user.id,
            grants.issuer,
        )
        return _error(
            request,
            409,
            "Not connected",
            f"That account at {grants.provider_name} belongs to another user, so nothing "
            f"was connected. Sign in there with your own account and press Connect again.",
            link_kept=True,
        )
    except ValueError:
        log.error(
            "%s granted tokens without an ID token naming their subject: add openid to "
            "OAUTH2_SCOPES",
            grants.issuer,
        )
        return _error(
            request,
            502,
            "Not connected",
            f"{grants.provider_name} did not say whose account it granted, so nothing was "
            f"connected. Tell your administrator.",
        )
    binding = await services.bindings.confirm(nonce, current.user, actor, grant=sealed)
    log.info(
        "User %s bound to Slack user %s of %s with a grant of %s",
        current.user.id,
        binding.identity.user_id,
        binding.identity.scope_id,
        grants.issuer,
    )
    return await binding_pages.success_page(request, nonce, binding, current.user)


def _same(stored_hash: str, computed_hash: str) -> bool:
    return hmac.compare_digest(stored_hash.encode(), computed_hash.encode())


def _unreachable(request: Request, grant_services: GrantServices) -> Response:
    response = _error(
        request,
        503,
        "Not connected",
        f"Could not reach {grant_services.grants.provider_name}, so nothing was connected. "
        f"Your link still works: try again in a minute.",
        link_kept=True,
    )
    response.headers["Retry-After"] = "60"
    return response


def _error(
    request: Request, status: int, title: str, message: str, *, link_kept: bool = False
) -> Response:
    context: dict[str, Any] = {"title": title, "message": message, "link_kept": link_kept}
    return binding_pages._page(request, "grant_error.html", context, status_code=status)
