"""Sending the browser to a provider's authorization endpoint, and taking its answer back.

The one place where an authorization request begins (OIDC login, the OAuth grant at Connect,
Sign in with Slack): `AuthorizationFlows` keeps its state, nonce and PKCE verifier on the
server, `relying_party` builds the request, and the browser key goes into the site's flow
cookie (`cookies.FLOW`), SameSite=Lax so that it comes back on the provider's top-level
redirect. `take_back` gives the flow of a callback once, to that browser only.

Each request begins with a button's form post, which is answered with a page of this site
that goes on to the provider (a meta refresh, and a link), not with a redirect: browsers apply
CSP's `form-action` to every redirect that follows a form post, and a provider may send the
browser on to another site of its own (an identity-provider redirector, a federated domain),
which no `form-action` list made in advance can name. So `form-action` stays `'self'`.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from account_binding.authorization_flows import FLOW_TTL_SECONDS, Flow, Purpose
from relying_party import Provider

from . import cookies
from .services import services_of
from .templating import templates


async def redirect_to_provider(
    request: Request,
    provider: Provider,
    purpose: Purpose,
    *,
    redirect_uri: str,
    scopes: str,
    provider_name: str,
    next_path: str,
    link_hash: str | None = None,
    session_hash: str | None = None,
    prompt: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> Response:
    """A page that goes on to `provider`'s authorization request (named `provider_name`) for
    a new flow of `purpose`, with the flow cookie set. `extra` adds parameters a provider
    documents (Slack's `team`). Raises ProviderUnavailable when the provider's metadata
    cannot be read."""
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
    response = templates.TemplateResponse(
        request,
        "continue.html",
        {
            "app_name": services_of(request).internal_app_name,
            "provider_name": provider_name,
            "url": url,
        },
    )
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
