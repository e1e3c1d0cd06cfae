"""relying_party.Provider against the real OpenID provider on loopback: discovery, the code
flow with PKCE, state and nonce, ID token validation (OpenID Connect Core 1.0 section
3.1.3.7), refresh, revocation (RFC 7009), userinfo, and deadlines.

The provider signs with a key this module made, so that tests can also sign ID tokens as the
provider and check each refusal: wrong issuer, wrong audience, expired, issued in the future,
another login's nonce, several audiences without `azp`, another key, `alg: none` and an HMAC
keyed with the client secret."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from relying_party import (
    InvalidIdToken,
    Provider,
    ProviderRefused,
    ProviderUnavailable,
    TokenGrant,
    new_code_verifier,
    new_secret_value,
)
from tests.oidc_provider import REDIRECT_URI, RunningProvider, running_provider, sign_in_at_provider

KEY = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig", "alg": "RS256"})


@pytest.fixture(scope="module")
def provider_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProvider]:
    with running_provider(
        tmp_path_factory.mktemp("provider"), signing_key=KEY.as_dict(private=True)
    ) as running:
        yield running


def client_of(running: RunningProvider, **kwargs: Any) -> Provider:
    return Provider(running.issuer, running.client_id, running.client_secret, timeout=10, **kwargs)


async def log_in(
    provider: Provider, scopes: str = "openid email profile offline_access"
) -> tuple[TokenGrant, str]:
    state, nonce, verifier = new_secret_value(), new_secret_value(), new_code_verifier()
    url = await provider.authorization_url(
        REDIRECT_URI,
        scopes,
        state=state,
        nonce=nonce,
        code_verifier=verifier,
        prompt="consent" if "offline_access" in scopes else None,
    )
    with httpx.Client(timeout=10) as browser:
        answer = sign_in_at_provider(browser, url, REDIRECT_URI)
    assert answer["state"] == state
    grant = await provider.exchange_code(
        REDIRECT_URI, answer["code"], code_verifier=verifier, nonce=nonce
    )
    return grant, nonce


async def test_discovery_reads_the_endpoints(provider_process: RunningProvider) -> None:
    metadata = await client_of(provider_process).metadata()
    assert metadata.issuer == provider_process.issuer
    assert metadata.token_endpoint.startswith(provider_process.issuer)
    assert metadata.revocation_endpoint and metadata.userinfo_endpoint
    assert metadata.end_session_endpoint
    assert metadata.id_token_algorithms == ("RS256",)


async def test_metadata_naming_another_issuer_is_refused(
    provider_process: RunningProvider,
) -> None:
    """OpenID Connect Discovery 1.0 section 4.3: the document must name the issuer it was
    fetched for, character for character (here a trailing slash differs)."""
    impostor = Provider(
        provider_process.issuer + "/", provider_process.client_id, "x" * 32, timeout=10
    )
    with pytest.raises(ProviderUnavailable, match="names another issuer"):
        await impostor.metadata()


async def test_the_code_flow_gives_tokens_and_validated_claims(
    provider_process: RunningProvider,
) -> None:
    grant, nonce = await log_in(client_of(provider_process))
    assert grant.access_token and grant.refresh_token
    assert grant.expires_at is not None and grant.expires_at > time.time()
    assert grant.id_token_claims is not None
    assert grant.id_token_claims["sub"] == "alice"
    assert grant.id_token_claims["nonce"] == nonce
    assert grant.id_token_claims["email"] == "alice@example.com"
    assert "access_token" not in repr(grant) and grant.access_token not in repr(grant)


async def test_the_authorization_request_carries_pkce_state_and_nonce(
    provider_process: RunningProvider,
) -> None:
    url = await client_of(provider_process).authorization_url(
        REDIRECT_URI, "openid", state="s" * 43, nonce="n" * 43, code_verifier=new_code_verifier()
    )
    query = httpx.URL(url).params
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert query["state"] == "s" * 43 and query["nonce"] == "n" * 43
    assert query["response_type"] == "code" and query["client_id"] == provider_process.client_id


async def test_a_code_exchanged_with_another_logins_nonce_is_refused(
    provider_process: RunningProvider,
) -> None:
    provider = client_of(provider_process)
    state, verifier = new_secret_value(), new_code_verifier()
    url = await provider.authorization_url(
        REDIRECT_URI, "openid", state=state, nonce="the-nonce-of-this-login", code_verifier=verifier
    )
    with httpx.Client(timeout=10) as browser:
        answer = sign_in_at_provider(browser, url, REDIRECT_URI)
    with pytest.raises(InvalidIdToken, match="nonce"):
        await provider.exchange_code(
            REDIRECT_URI, answer["code"], code_verifier=verifier, nonce="another-logins-nonce"
        )


async def test_a_code_is_refused_with_the_wrong_verifier(
    provider_process: RunningProvider,
) -> None:
    provider = client_of(provider_process)
    state, nonce = new_secret_value(), new_secret_value()
    url = await provider.authorization_url(
        REDIRECT_URI, "openid", state=state, nonce=nonce, code_verifier=new_code_verifier()
    )
    with httpx.Client(timeout=10) as browser:
        answer = sign_in_at_provider(browser, url, REDIRECT_URI)
    with pytest.raises(ProviderRefused) as refused:
        await provider.exchange_code(
            REDIRECT_URI, answer["code"], code_verifier=new_code_verifier(), nonce=nonce
        )
    assert refused.value.error == "invalid_grant"


def id_token(running: RunningProvider, key: Any = KEY, alg: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    values = {
        "iss": running.issuer,
        "sub": "alice",
        "aud": running.client_id,
        "iat": now,
        "exp": now + 300,
        "nonce": "n",
    } | claims
    values = {k: v for k, v in values.items() if v is not None}
    header = {"alg": alg, "kid": "test-key"}
    return jwt.encode(header, values, key, algorithms=[alg])


async def test_an_id_token_signed_as_the_provider_passes(
    provider_process: RunningProvider,
) -> None:
    """The control for the refusals below: the same token, every claim right."""
    claims = await client_of(provider_process).validate_id_token(
        id_token(provider_process), nonce="n"
    )
    assert claims["sub"] == "alice"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"iss": "http://127.0.0.1:1"}, "iss"),
        ({"aud": "another-client"}, "aud"),
        ({"exp": int(time.time()) - 3600}, "exp"),
        ({"iat": int(time.time()) + 3600, "exp": int(time.time()) + 7200}, "iat"),
        ({"nonce": "another-login"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"sub": None}, "sub"),
        ({"aud": ["test-client", "another-client"]}, "azp"),
    ],
    ids=[
        "wrong-issuer",
        "wrong-audience",
        "expired",
        "issued-in-the-future",
        "replayed-nonce",
        "no-nonce",
        "no-subject",
        "several-audiences-no-azp",
    ],
)
async def test_an_id_token_with_a_wrong_claim_is_refused(
    provider_process: RunningProvider, changes: dict[str, Any], reason: str
) -> None:
    token = id_token(provider_process, **changes)
    with pytest.raises(InvalidIdToken) as refused:
        await client_of(provider_process, leeway=60).validate_id_token(token, nonce="n")
    assert refused.value.reason.startswith(reason), refused.value.reason


async def test_an_id_token_signed_by_another_key_or_none_or_the_secret_is_refused(
    provider_process: RunningProvider,
) -> None:
    provider = client_of(provider_process)
    other = RSAKey.generate_key(2048, parameters={"kid": "test-key"})
    forged = id_token(provider_process, key=other)
    with pytest.raises(InvalidIdToken, match="signature"):
        await provider.validate_id_token(forged, nonce="n")
    secret = OctKey.import_key(provider_process.client_secret)
    hmac_token = id_token(provider_process, key=secret, alg="HS256")
    with pytest.raises(InvalidIdToken):
        await provider.validate_id_token(hmac_token, nonce="n")
    _header, payload, _ = id_token(provider_process).split(".")
    none_header = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=")
    with pytest.raises(InvalidIdToken):
        await provider.validate_id_token(f"{none_header.decode()}.{payload}.", nonce="n")
    with pytest.raises(InvalidIdToken):
        await provider.validate_id_token("not a token", nonce="n")


async def test_refresh_rotates_and_revocation_ends_the_grant(
    provider_process: RunningProvider,
) -> None:
    provider = client_of(provider_process)
    grant, _ = await log_in(provider)
    assert grant.refresh_token is not None
    refreshed = await provider.refresh(grant.refresh_token)
    assert refreshed.access_token != grant.access_token
    assert refreshed.refresh_token and refreshed.refresh_token != grant.refresh_token
    assert (await provider.userinfo(refreshed.access_token))["sub"] == "alice"
    assert await provider.revoke(refreshed.refresh_token) is True
    with pytest.raises(ProviderRefused) as refused:
        await provider.refresh(refreshed.refresh_token)
    assert refused.value.error == "invalid_grant"


async def test_userinfo_refuses_an_unknown_token(provider_process: RunningProvider) -> None:
    with pytest.raises(ProviderRefused):
        await client_of(provider_process).userinfo("not-a-token-it-issued")


async def test_a_provider_that_is_not_there_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = Provider(f"http://127.0.0.1:{port}", "c", "s" * 32, timeout=2)
    with pytest.raises(ProviderUnavailable, match="could not be reached"):
        await provider.metadata()


async def test_a_provider_that_never_answers_is_given_up_on_at_the_deadline(
    tmp_path: Path,
) -> None:
    """A listening socket that accepts and never answers: the call ends with
    ProviderUnavailable after `timeout` seconds instead of hanging."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        provider = Provider(f"http://127.0.0.1:{port}", "c", "s" * 32, timeout=1)
        with pytest.raises(ProviderUnavailable):
            await provider.metadata()
