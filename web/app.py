"""Builds the Starlette site: pages, static files, headers and error pages, and the routes
the composition root adds (the stand-in internal application's API, when it is served)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Lifespan
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from account_binding.errors import SlackUnavailable, StoreBusy

from . import (
    auth,
    binding_pages,
    connections,
    errors,
    grant_pages,
    health,
    home,
    link_resend,
    oauth,
    slack_identity,
)
from .authentication import authentication_middleware
from .body_limit import DEFAULT_MAX_BODY_BYTES, BodySizeLimit
from .peer import RecordPeer
from .security_headers import SecurityHeaders
from .services import WebServices


def build_web_app(
    services: WebServices,
    lifespan: Lifespan[Starlette] | None = None,
    *,
    allowed_hosts: list[str] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    extra_routes: Sequence[BaseRoute] = (),
    trusted_proxies: Sequence[str] = (),
) -> Starlette:
    """The site. `max_body_bytes` caps every request body (MAX_BODY_BYTES; see web.body_limit).

    `trusted_proxies` (TRUSTED_PROXIES: addresses or networks) are the peers whose
    `X-Forwarded-For` and `X-Forwarded-Proto` the site believes, through uvicorn's
    `ProxyHeadersMiddleware` inside `web.peer.RecordPeer`, which keeps the socket's peer
    first: serve it with `uvicorn.Config(..., proxy_headers=False)`, or uvicorn's own copy of
    that middleware rewrites the peer before the site sees it.

    `allowed_hosts` are the Host headers it answers (400 otherwise); None answers any.
    `extra_routes` are served beside the pages, behind the same middleware and error
    handlers (JSON under /api/); the site knows nothing else of them.
    """
    login_backend = services.login_backend or auth.LocalLogin()
    routes = [
        Route("/", home.home, methods=["GET"]),
        # Issue 11, health: /healthz, /readyz and /metrics
        *health.routes,
        *login_backend.routes(),
        Route("/logout", auth.logout, methods=["POST"]),
        Route("/bind", binding_pages.confirm_page, methods=["GET"]),
        Route("/bind", binding_pages.confirm, methods=["POST"]),
        Route("/bind/{nonce:str}", binding_pages.open_link, methods=["GET"]),
        Route(grant_pages.CALLBACK_PATH, grant_pages.callback, methods=["GET"]),
        *oauth.routes,
        *slack_identity.routes,
        # Issue 10, unbinding: the connected Slack accounts page and Remove.
        *connections.routes,
        *link_resend.routes,
        *extra_routes,
        Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            # The socket's peer, before a trusted proxy's X-Forwarded-For replaces `client`.
            Middleware(RecordPeer),
            *(
                [Middleware(ProxyHeadersMiddleware, trusted_hosts=list(trusted_proxies))]
                if trusted_proxies
                else []
            ),
            Middleware(SecurityHeaders, https=services.secure_cookies),
            # Before anything reads a body: no route ever parses more than this.
            Middleware(BodySizeLimit, max_body_bytes=max_body_bytes),
            # A forged Host header (DNS rebinding) gets 400, never a redirect built from it.
            Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or ["*"]),
            # request.user, from the AUTH mode's backend (web.authentication).
            authentication_middleware(login_backend.authentication),
        ],
        exception_handlers={
            HTTPException: errors.http_error,
            # Wherever a page waits on Slack: "try again in a minute", never a 500.
            SlackUnavailable: errors.slack_unavailable,
            # Another process held the database's write lock too long: "try again", not 500.
            StoreBusy: errors.store_busy,
            Exception: errors.server_error,
        },
        lifespan=lifespan,
    )
    app.state.services = services
    return app
