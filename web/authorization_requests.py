"""Sending the browser to a provider's authorization endpoint, and taking its answer back.

The one place where an authorization request begins (OIDC login, the OAuth grant at Connect,
Sign in with Slack): `AuthorizationFlows` keeps its state, nonce and PKCE verifier on the
server, `relying_party` builds the request, and the browser key goes into the site's flow
cookie (`cookies.FLOW`), SameSite=Lax so that it comes back on the provider's top-level
redirect. `take_back` gives the flow of a callback once, to that browser only.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from account_binding.authorization_flows import FLOW_TTL_SECONDS, Flow, Purpose
from relying_party import Provider

from . import cookies
from .services import services_of


async def redirect_to_provider(
    request: Request,
    provider: Provider,
    purpose: Purpose,
    *,
    redirect_uri: str,
    scopes: str,
    next_path: str,
    link_hash: str | None = None,
    session_hash: str | None = None,
    prompt: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> RedirectResponse:
    """303 to `provider`'s authorization request for a new flow of `purpose`, with the flow
    cookie set. `extra` adds parameters a provider documents (Slack's `team`). Raises
    ProviderUnavailable when the provider's metadata cannot be read."""
    started = await services_of(request).flows.begin(
        purpose, next_path=next_path, link_hash=link_hash, session_hash=session_hash
    )
    url = await provider.authorization_url(
        redirect_uri,
        scopes,
        state=started.state,
        nonce=started.nonce,
        code_verifier=started.code_verifier,
        prompt=prompt,
        extra=extra,
    )
    response = RedirectResponse(url, status_code=303)
    cookies.set_cookie(
        request,
        response,
        cookies.FLOW,
        started.browser_key,
        samesite="lax",  # sent on the provider's top-level redirect back
        max_age=FLOW_TTL_SECONDS,
    )
    return response


async def take_back(request: Request, purpose: Purpose) -> Flow:
    """The flow this callback's `state` names, begun in this browser for `purpose`, used up
    now. Raises FlowRefused."""
    return await services_of(request).flows.finish(
        purpose, request.query_params.get("state"), cookies.read(request, cookies.FLOW)
    )


def forget_flow(request: Request, response: Response) -> None:
    """Drop the flow cookie: its flow is used up."""
    cookies.forget(request, response, cookies.FLOW)
