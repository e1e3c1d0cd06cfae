"""Headers every response carries.

Avatars come only from Slack's own image hosts (`img-src`), no script runs, no page can be
framed, and the Referer goes to this site only.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relying_party import Provider, ProviderUnavailable

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' https://*.slack-edge.com; "
    "form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of an http(s) URL, as a CSP source expression."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


async def authorization_endpoint(provider: Provider) -> str:
    """`provider`'s authorization endpoint, where a form that begins a sign-in is redirected;
    its issuer (whose origin it usually shares) while the provider cannot be asked."""
    try:
        return (await provider.metadata()).authorization_endpoint
    except ProviderUnavailable as error:
        log.warning("%s did not answer: %s", provider.issuer, error)
        return provider.issuer


def allow_forms_to(response: Response, *urls: str) -> None:
    """Let the page `response` post forms that are redirected on to `urls` (a provider's
    authorization endpoint): its policy's `form-action` names their origins."""
    response.headers["Content-Security-Policy"] = content_security_policy(
        tuple(dict.fromkeys(origin_of(url) for url in urls))
    )


def content_security_policy(form_targets: tuple[str, ...] = ()) -> str:
    """The policy, its `form-action` also allowing the origins `form_targets`: browsers apply
    `form-action` to where a form post is redirected too (CSP Level 3), so a page whose form
    leads on to a provider's authorization endpoint names that endpoint's origin."""
    if not form_targets:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace(
        "form-action 'self';", "form-action 'self' " + " ".join(form_targets) + ";"
    )


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                # same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on
                # this site's own posts, and over plain http (no Sec-Fetch-Site) that is all
                # the cross-site check (web.forms) would have to go on. Nothing leaves the site.
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("Cache-Control", "no-store")
                if self.https:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_with_headers)
