"""The OpenID provider on loopback (tests/oidc_provider.py) does what the single sign-on tests
need, driven over HTTP with httpx as a relying party would: discovery, the authorization code
flow with PKCE (RFC 7636, S256) and state and nonce, client_secret_basic at the token endpoint
(RFC 6749 section 2.3.1), an ID token whose signature, issuer, audience, expiry and nonce check
(OpenID Connect Core 1.0, section 3.1.3.7), refresh tokens that rotate, revocation (RFC 7009)
that makes the next refresh fail, introspection (RFC 7662) and userinfo."""

from __future__ import annotations

import base64
import hashlib
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from tests.oidc_provider import (
    ACCOUNTS,
    REDIRECT_URI,
    RunningProvider,
    oidc_provider,
    running_provider,
)

__all__ = ["oidc_provider"]  # the fixture, imported for the tests here


@dataclass
class Authorization:
    """What the provider sent back to the redirect URI, and what the client kept."""

    params: dict[str, str]
    state: str
    nonce: str
    verifier: str


def s256(verifier: str) -> str:
    """RFC 7636 section 4.2: BASE64URL(SHA256(ASCII(code_verifier))), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize(
    provider: RunningProvider,
    *,
    account: str = "alice",
    scope: str = "openid email profile offline_access",
    pkce: bool = True,
    by_form: bool = False,
) -> Authorization:
    """Run the authorization request through the provider's login (by `login_hint`, or by its
    sign-in form as a person would) up to the redirect to the client; returns that redirect's
    query parameters."""
    metadata = provider.metadata()
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    params = {
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": state,
        "nonce": nonce,
    }
    if not by_form:
        params["login_hint"] = account
    if "offline_access" in scope.split():
        params["prompt"] = "consent"  # OpenID Connect Core 1.0 section 11
    if pkce:
        params |= {"code_challenge": s256(verifier), "code_challenge_method": "S256"}
    with httpx.Client(timeout=10) as browser:
        response = browser.get(metadata["authorization_endpoint"], params=params)
        for _ in range(10):
            if by_form and response.status_code == 200 and "<form" in response.text:
                response = browser.post(response.url, data={"account": account})
            assert response.is_redirect, (response.status_code, response.text)
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(REDIRECT_URI):
                query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
                return Authorization(query, state, nonce, verifier)
            response = browser.get(location)
    raise AssertionError("the provider never redirected back to the client")


def token_request(provider: RunningProvider, **form: str) -> httpx.Response:
    """POST to the token endpoint, authenticated with client_secret_basic."""
    return httpx.post(
        provider.metadata()["token_endpoint"],
        data=form,
        auth=(provider.client_id, provider.client_secret),
        timeout=10,
    )


def tokens_for(provider: RunningProvider, authorization: Authorization) -> dict[str, Any]:
    response = token_request(
        provider,
        grant_type="authorization_code",
        code=authorization.params["code"],
        redirect_uri=REDIRECT_URI,
        code_verifier=authorization.verifier,
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def jose() -> Any:
    """authlib.jose, imported without its deprecation warning (Authlib 1.6+ points to joserfc,
    its successor; authlib.jose stays until Authlib 2.0)."""
    with warnings.catch_warnings():
        import authlib.deprecate  # installs an "always" filter for its own warnings

        warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
        import authlib.jose
        import authlib.jose.errors

    return authlib.jose


def verified_id_token(provider: RunningProvider, id_token: str, nonce: str) -> dict[str, Any]:
    """Verify the ID token with Authlib against the provider's JWKS: signature (RS256), iss,
    aud, exp and nonce. Raises authlib.jose.errors.JoseError when any of them is wrong."""
    jwt = jose()
    jwks = httpx.get(provider.metadata()["jwks_uri"], timeout=10).json()
    claims = jwt.JsonWebToken(["RS256"]).decode(
        id_token,
        jwt.JsonWebKey.import_key_set(jwks),
        claims_options={
            "iss": {"essential": True, "value": provider.issuer},
            "aud": {"essential": True, "value": provider.client_id},
            "exp": {"essential": True},
            "nonce": {"essential": True, "value": nonce},
        },
    )
    claims.validate()
    return dict(claims)


def test_discovery_names_the_endpoints_and_methods(oidc_provider: RunningProvider) -> None:
    metadata = oidc_provider.metadata()
    assert metadata["issuer"] == oidc_provider.issuer
    for endpoint in (
        "authorization",
        "token",
        "userinfo",
        "revocation",
        "introspection",
        "end_session",
    ):
        assert metadata[f"{endpoint}_endpoint"].startswith(oidc_provider.issuer + "/")
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert "client_secret_basic" in metadata["token_endpoint_auth_methods_supported"]
    assert {"openid", "email", "profile", "offline_access"} <= set(metadata["scopes_supported"])


def test_code_flow_with_pkce_gives_verified_tokens(oidc_provider: RunningProvider) -> None:
    authorization = authorize(oidc_provider)
    assert authorization.params["state"] == authorization.state
    assert authorization.params["iss"] == oidc_provider.issuer  # RFC 9207
    tokens = tokens_for(oidc_provider, authorization)
    assert tokens["token_type"] == "Bearer"
    assert tokens["access_token"] and tokens["refresh_token"]
    claims = verified_id_token(oidc_provider, tokens["id_token"], authorization.nonce)
    assert claims["sub"] == "alice"
    assert claims["nonce"] == authorization.nonce
    assert claims["email"] == "alice@example.com"
    assert claims["email_verified"] is True
    assert claims["preferred_username"] == "alice"


def test_id_token_checks_refuse_a_wrong_nonce_or_a_forged_signature(
    oidc_provider: RunningProvider,
) -> None:
    errors = jose().errors
    authorization = authorize(oidc_provider)
    id_token = tokens_for(oidc_provider, authorization)["id_token"]
    with pytest.raises(errors.InvalidClaimError, match="nonce"):
        verified_id_token(oidc_provider, id_token, "another-nonce")
    header, payload, signature = id_token.split(".")
    forged = base64.urlsafe_b64decode(payload + "==").replace(b'"alice"', b'"mallo"')
    forged_payload = base64.urlsafe_b64encode(forged).rstrip(b"=").decode()
    with pytest.raises(errors.BadSignatureError):
        verified_id_token(
            oidc_provider, f"{header}.{forged_payload}.{signature}", authorization.nonce
        )


def test_an_authorization_request_without_pkce_is_refused(oidc_provider: RunningProvider) -> None:
    authorization = authorize(oidc_provider, pkce=False)
    assert "code" not in authorization.params
    assert authorization.params["error"] == "invalid_request"
    assert "PKCE" in authorization.params["error_description"]


def test_a_code_with_the_wrong_verifier_is_refused(oidc_provider: RunningProvider) -> None:
    authorization = authorize(oidc_provider)
    response = token_request(
        oidc_provider,
        grant_type="authorization_code",
        code=authorization.params["code"],
        redirect_uri=REDIRECT_URI,
        code_verifier=secrets.token_urlsafe(32),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_wrong_client_secret_is_refused(oidc_provider: RunningProvider) -> None:
    authorization = authorize(oidc_provider)
    response = httpx.post(
        oidc_provider.metadata()["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": authorization.params["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": authorization.verifier,
        },
        auth=(oidc_provider.client_id, "not-the-secret"),
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_refresh_rotates_and_the_old_refresh_token_is_refused(
    oidc_provider: RunningProvider,
) -> None:
    tokens = tokens_for(oidc_provider, authorize(oidc_provider))
    refreshed = token_request(
        oidc_provider, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refreshed.status_code == 200, refreshed.text
    new = refreshed.json()
    assert new["access_token"] != tokens["access_token"]
    assert new["refresh_token"] != tokens["refresh_token"]
    replayed = token_request(
        oidc_provider, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_grant"


def test_revoking_the_refresh_token_makes_the_next_refresh_fail(
    oidc_provider: RunningProvider,
) -> None:
    tokens = tokens_for(oidc_provider, authorize(oidc_provider))
    metadata = oidc_provider.metadata()
    auth = (oidc_provider.client_id, oidc_provider.client_secret)
    revoked = httpx.post(
        metadata["revocation_endpoint"],
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        auth=auth,
        timeout=10,
    )
    assert revoked.status_code == 200
    refresh = token_request(
        oidc_provider, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refresh.status_code == 400
    assert refresh.json()["error"] == "invalid_grant"
    # Revoking the refresh token revoked the grant: its access token is dead as well.
    introspected = httpx.post(
        metadata["introspection_endpoint"],
        data={"token": tokens["access_token"]},
        auth=auth,
        timeout=10,
    )
    assert introspected.status_code == 200
    assert introspected.json() == {"active": False}


def test_introspection_describes_a_live_access_token(oidc_provider: RunningProvider) -> None:
    tokens = tokens_for(oidc_provider, authorize(oidc_provider))
    introspected = httpx.post(
        oidc_provider.metadata()["introspection_endpoint"],
        data={"token": tokens["access_token"]},
        auth=(oidc_provider.client_id, oidc_provider.client_secret),
        timeout=10,
    )
    body = introspected.json()
    assert body["active"] is True
    assert body["sub"] == "alice"
    assert body["client_id"] == oidc_provider.client_id


def test_userinfo_answers_the_claims(oidc_provider: RunningProvider) -> None:
    tokens = tokens_for(oidc_provider, authorize(oidc_provider, account="mallory"))
    response = httpx.get(
        oidc_provider.metadata()["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json() == {"sub": "mallory", **ACCOUNTS["mallory"]}


def test_the_sign_in_form_logs_in_the_account_typed(oidc_provider: RunningProvider) -> None:
    authorization = authorize(oidc_provider, account="mallory", by_form=True)
    tokens = tokens_for(oidc_provider, authorization)
    claims = verified_id_token(oidc_provider, tokens["id_token"], authorization.nonce)
    assert claims["sub"] == "mallory"
    assert claims["email_verified"] is False


def test_an_unknown_account_cannot_log_in(oidc_provider: RunningProvider) -> None:
    with pytest.raises(AssertionError, match="400"):
        authorize(oidc_provider, account="nobody")


def test_token_lifetimes_are_set_per_provider(tmp_path: Path) -> None:
    with running_provider(tmp_path, ttl={"AccessToken": 7}) as provider:
        tokens = tokens_for(provider, authorize(provider))
    assert tokens["expires_in"] == 7
