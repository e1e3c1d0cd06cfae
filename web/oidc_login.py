"""AUTH=oidc: single sign-on with OpenID Connect, the authorization code flow with PKCE
(OpenID Connect Core 1.0 section 3.1; RFC 7636, S256).

`GET /login` shows one button, "Sign in with <provider>": a POST form carrying the login CSRF
token (double submit, `web.csrf`), `next` and, for a login made for a binding link, the link's
SHA-256, exactly as the built-in login form does. `POST /login` begins a flow
(`AuthorizationFlows`: state, nonce and code verifier kept on the server, a browser key in the
cookie `cookies.FLOW`) and sends the browser to the provider. `GET /login/callback` takes the
flow back (only in the browser that began it, once, within 10 minutes; an `iss` naming another
issuer is refused, RFC 9207), trades the code for
tokens (`relying_party.Provider.exchange_code`: the ID token's signature, issuer, audience,
expiry and nonce are checked there), applies OIDC_ALLOWED_DOMAINS, finds or makes the account
by issuer and subject (`LoginService.log_in_external`) and starts a session, made for the
flow's link when the flow had one and that link is still the one open in this browser (else
409, as the built-in login). Every refusal is a page (400, 403, 409; 503 when the provider
does not answer), never a 500, and is audited as `login_failed` with a detail `oidc:...`,
capped per hour and client (anyone can send a made-up callback).

The login throttle of AUTH=local does not apply (there is no password here); successful logins
are capped in the audit log as local ones are.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from starlette.authentication import AuthenticationBackend
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from account_binding.accounts import ExternalAccountRefused
from account_binding.audit import Actor, AuditEvent
from account_binding.authorization_flows import Flow, FlowRefused
from account_binding.text import ascii_lower, ascii_strip
from relying_party import (
    InvalidIdToken,
    Provider,
    ProviderRefused,
    ProviderUnavailable,
    TokenGrant,
)

from . import cookies, csrf, errors
from .auth import (
    LINK_FIELD,
    MAX_COOKIE_LENGTH,
    begin_session,
    client_address,
    link_changed,
    link_hash_for_login,
    link_nonce,
    link_still_open,
    logged_in,
    made_for,
    safe_next,
)
from .authentication import SessionBackend
from .authorization_requests import forget_flow, redirect_to_provider, take_back
from .forms import read_form
from .services import services_of
from .templating import templates

log = logging.getLogger(__name__)

#: Where the provider sends the browser back (register PUBLIC_URL + this at the provider).
CALLBACK_PATH = "/login/callback"
#: An OAuth error code as RFC 6749 section 4.1.2.1 spells them; anything else is "other".
_ERROR_CODE = re.compile(r"[a-z_]{1,40}")

#: Called after a login made for a link, with the new session's cookie value and the grant
#: of that login (ACT_AS=oauth2 keeps the tokens for Connect).
LinkGrantHook = Callable[[str, TokenGrant], Awaitable[None]]


class SignInRefused(Exception):
    """The callback cannot log anyone in: `status`, `title` and `message` make the page
    (safe to show); `detail` goes to the audit log after "oidc:"."""

    def __init__(
        self,
        status: int,
        title: str,
        message: str,
        detail: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
        self.detail = detail
        self.headers = dict(headers or {})


class OidcLogin:
    """AUTH=oidc's routes (see the module's docstring).

    `redirect_uri` is PUBLIC_URL + /login/callback; `scopes` OIDC_SCOPES; `username_claim`
    OIDC_USERNAME_CLAIM (read from the ID token, else from userinfo); `allowed_domains`
    OIDC_ALLOWED_DOMAINS (lower case; empty: any person the provider logs in).

    The extension point for ACT_AS=oauth2 (one consent does both): `link_scopes` are asked
    besides `scopes` when the login is made for a link (with `prompt=consent`, OpenID Connect
    Core 1.0 section 11, so that a refresh token is issued), and `on_link_grant` is awaited
    after such a login with the new session's cookie value and the `TokenGrant`.
    """

    def __init__(
        self,
        provider: Provider,
        *,
        redirect_uri: str,
        scopes: str,
        username_claim: str,
        allowed_domains: Sequence[str],
        provider_name: str,
        post_logout_redirect_uri: str,
        link_scopes: str = "",
        on_link_grant: LinkGrantHook | None = None,
    ) -> None:
        self.provider = provider
        self.redirect_uri = redirect_uri
        self.scopes = scopes
        self.username_claim = username_claim
        self.allowed_domains = tuple(ascii_lower(d) for d in allowed_domains)
        self.provider_name = provider_name
        self.post_logout_redirect_uri = post_logout_redirect_uri
        self.link_scopes = link_scopes
        self.on_link_grant = on_link_grant

    # The LoginBackend

    @property
    def authentication(self) -> AuthenticationBackend:
        return SessionBackend()

    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.begin, methods=["POST"]),
            Route(CALLBACK_PATH, self.callback, methods=["GET"]),
        ]

    async def logged_out(self, request: Request) -> dict[str, Any]:
        """The provider's end-session address (OpenID Connect RP-Initiated Logout 1.0), when
        its metadata has one, with `client_id` and `post_logout_redirect_uri`."""
        try:
            endpoint = (await self.provider.metadata()).end_session_endpoint
        except ProviderUnavailable as error:
            log.warning("No end-session address for the logged-out page: %s", error)
            return {}
        if not endpoint:
            return {}
        query = urlencode(
            {
                "client_id": self.provider.client_id,
                "post_logout_redirect_uri": self.post_logout_redirect_uri,
            }
        )
        separator = "&" if "?" in endpoint else "?"
        return {
            "provider_name": self.provider_name,
            "provider_logout_url": f"{endpoint}{separator}{query}",
        }

    # The routes

    async def login_page(self, request: Request) -> Response:
        """GET /login?next=PATH: the sign-in button, or straight to PATH when this browser's
        session already counts (for /bind: only a session made for the open link)."""
        next_path = safe_next(request.query_params.get("next"))
        link_hash = link_hash_for_login(request, next_path)
        nonce = link_nonce(request) if link_hash else None
        current = await logged_in(request)
        if current is not None and (nonce is None or made_for(current, nonce)):
            return RedirectResponse(next_path, status_code=303)
        token = cookies.read(request, cookies.LOGIN_CSRF)
        if not token or len(token) > MAX_COOKIE_LENGTH:
            token = csrf.new_login_token()
        response = templates.TemplateResponse(
            request,
            "sso_login.html",
            {
                "app_name": services_of(request).internal_app_name,
                "provider_name": self.provider_name,
                "next": next_path,
                "link_id": link_hash,
                "csrf_token": token,
            },
        )
        cookies.set_cookie(request, response, cookies.LOGIN_CSRF, token, samesite="strict")
        return response

    async def begin(self, request: Request) -> Response:
        """POST /login: begin the flow and send the browser to the provider (303)."""
        form = await read_form(request)
        csrf.check(cookies.read(request, cookies.LOGIN_CSRF), form.get(csrf.FIELD))
        next_path = safe_next(form.get("next"))
        link_field = form.get(LINK_FIELD)
        link_hash = link_field if isinstance(link_field, str) and link_field else None
        if not link_still_open(request, link_hash):
            return link_changed(request)
        scopes = self.scopes
        prompt = None
        if link_hash is not None and self.link_scopes:
            scopes = " ".join(dict.fromkeys(f"{self.scopes} {self.link_scopes}".split()))
            prompt = "consent"
        try:
            return await redirect_to_provider(
                request,
                self.provider,
                "login",
                redirect_uri=self.redirect_uri,
                scopes=scopes,
                provider_name=self.provider_name,
                next_path=next_path,
                link_hash=link_hash,
                prompt=prompt,
            )
        except ProviderUnavailable as error:
            return self._unavailable(request, error)

    async def callback(self, request: Request) -> Response:
        """GET /login/callback?code=...&state=... (or ?error=...&state=...)."""
        try:
            flow = await self._take_flow(request)
        except SignInRefused as refused:
            # Not this browser's flow: its own flow cookie (if any) is left alone, so that a
            # forged callback cannot spoil a sign-in under way.
            return await self._refused(request, refused)
        try:
            response = await self._complete(request, flow)
        except SignInRefused as refused:
            response = await self._refused(request, refused)
        except ProviderUnavailable as error:
            await services_of(request).audit.record_capped(
                AuditEvent.LOGIN_FAILED,
                Actor(client=client_address(request)),
                detail="oidc:unavailable",
            )
            response = self._unavailable(request, error)
        forget_flow(request, response)  # the flow is used up whatever happened
        return response

    async def _refused(self, request: Request, refused: SignInRefused) -> Response:
        await services_of(request).audit.record_capped(
            AuditEvent.LOGIN_FAILED,
            Actor(client=client_address(request)),
            detail=f"oidc:{refused.detail}",
        )
        return errors.error_page(
            request, refused.status, refused.message, refused.headers, title=refused.title
        )

    async def _take_flow(self, request: Request) -> Flow:
        """The flow this callback's state names, begun in this browser, used up now."""
        try:
            return await take_back(request, "login")
        except FlowRefused as refused:
            raise SignInRefused(
                400,
                "Sign-in not recognised",
                "This sign-in was not started here or has expired; start again.",
                f"flow:{refused.reason}",
            ) from None

    async def _complete(self, request: Request, flow: Flow) -> Response:
        params = request.query_params
        services = services_of(request)
        issuer = params.get("iss")
        if issuer is not None and issuer != self.provider.issuer:
            # RFC 9207 section 2.4: an answer naming another issuer is not this provider's
            # (a mix-up attack); a provider that sends `iss` always sends its own.
            raise SignInRefused(
                400,
                "Sign-in failed",
                f"This answer did not come from {self.provider_name}; start again.",
                "iss",
            )
        error = params.get("error")
        if error is not None:
            raise self._provider_error(error)
        code = params.get("code")
        if not code or len(code) > 2048:
            raise SignInRefused(
                400,
                "Sign-in failed",
                "The sign-in came back without a code; start again.",
                "no_code",
            )
        if not link_still_open(request, flow.link_hash):
            return link_changed(request)
        try:
            grant = await self.provider.exchange_code(
                self.redirect_uri, code, code_verifier=flow.code_verifier, nonce=flow.nonce
            )
        except ProviderRefused as refused:
            if refused.error in ("invalid_client", "unauthorized_client"):
                # Nobody can sign in until an administrator fixes the client's settings.
                log.error(
                    "%s refused this site's client (%s): check OIDC_CLIENT_ID and "
                    "OIDC_CLIENT_SECRET, and that PUBLIC_URL%s is a redirect URI registered "
                    "for it",
                    self.provider.issuer,
                    refused.error,
                    CALLBACK_PATH,
                )
            raise SignInRefused(
                400,
                "Sign-in failed",
                f"{self.provider_name} did not accept this sign-in ({_code(refused.error)}); "
                "start again.",
                f"token:{_code(refused.error)}",
            ) from None
        except InvalidIdToken as invalid:
            log.warning("An ID token from %s was refused: %s", self.provider.issuer, invalid)
            raise SignInRefused(
                400,
                "Sign-in failed",
                f"The answer from {self.provider_name} could not be verified; start again.",
                "id_token",
            ) from None
        claims = await self._claims(grant)
        email = self._email(claims)
        username = claims.get(self.username_claim)
        try:
            user = await services.login.log_in_external(
                self.provider.issuer,
                str(claims["sub"]),
                username if isinstance(username, str) else "",
                email,
                client_address(request),
                via="oidc",
            )
        except ExternalAccountRefused as refused:
            return errors.error_page(request, refused.status, str(refused), title=refused.title)

        async def keep_grant(session_token: str) -> None:
            if flow.link_hash is not None and self.on_link_grant is not None:
                await self.on_link_grant(session_token, grant)

        return await begin_session(
            request, user, flow.link_hash, safe_next(flow.next_path), started=keep_grant
        )

    async def _claims(self, grant: TokenGrant) -> dict[str, Any]:
        """The ID token's claims, with userinfo's (OpenID Connect Core 1.0 section 5.3) beneath
        them when the ID token lacks the user name or email claims; userinfo naming another
        subject is ignored (section 5.3.2)."""
        claims = dict(grant.id_token_claims or {})
        if self.username_claim in claims and "email" in claims:
            return claims
        if (await self.provider.metadata()).userinfo_endpoint is None:
            return claims
        try:
            info = await self.provider.userinfo(grant.access_token)
        except ProviderRefused:
            return claims
        if info.get("sub") != claims.get("sub"):
            log.warning("userinfo at %s named another subject: ignored", self.provider.issuer)
            return claims
        return {**info, **claims}

    def _email(self, claims: Mapping[str, Any]) -> str:
        """The verified email address ("" when none is verified); raises SignInRefused when
        OIDC_ALLOWED_DOMAINS is set and it is not a verified address in one of them."""
        email = claims.get("email")
        verified = claims.get("email_verified")
        # A boolean (OpenID Connect Core 1.0 section 5.1); Amazon Cognito sends "true".
        verified = verified is True or verified == "true"
        address = ascii_strip(email) if isinstance(email, str) and verified else ""
        if not self.allowed_domains:
            return address
        if not address:
            raise SignInRefused(
                403,
                "Not allowed",
                f"Only people with a verified email address in an allowed domain may sign in, "
                f"and {self.provider_name} did not vouch for your email address.",
                "unverified_email",
            )
        domain = ascii_lower(address.rpartition("@")[2])
        if domain not in self.allowed_domains:
            raise SignInRefused(
                403,
                "Not allowed",
                f"Only people with an email address at {', '.join(self.allowed_domains)} may "
                "sign in here.",
                "domain",
            )
        return address

    def _provider_error(self, error: str) -> SignInRefused:
        """The provider's error answer (RFC 6749 section 4.1.2.1) as a page."""
        code = _code(error)
        if code == "access_denied":
            return SignInRefused(
                403,
                "Not signed in",
                f"The sign-in at {self.provider_name} was cancelled or not allowed, so you are "
                "not logged in. Start again if you meant to sign in.",
                "provider:access_denied",
            )
        if code in ("temporarily_unavailable", "server_error"):
            return SignInRefused(
                503,
                "Sign-in unavailable",
                f"{self.provider_name} could not sign you in just now; try again in a minute.",
                f"provider:{code}",
                {"Retry-After": "60"},
            )
        return SignInRefused(
            400,
            "Sign-in failed",
            f"{self.provider_name} refused the sign-in ({code}). Try again; if it keeps "
            "happening, ask your administrator.",
            f"provider:{code}",
        )

    def _unavailable(self, request: Request, error: ProviderUnavailable) -> Response:
        log.warning("The OpenID provider did not answer: %s", error)
        return errors.error_page(
            request,
            503,
            f"{self.provider_name} did not answer, so you cannot sign in just now. Try again "
            "in a minute.",
            {"Retry-After": "60"},
            title="Sign-in unavailable",
        )


def _code(error: object) -> str:
    """An OAuth error code fit to show and audit: as sent when it looks like one, else
    "other" (the parameter is anyone's to forge)."""
    return error if isinstance(error, str) and _ERROR_CODE.fullmatch(error) else "other"
