"""One OpenID provider or OAuth 2.0 authorization server, and this app's client at it.

Token requests go through Authlib's `AsyncOAuth2Client` (client_secret_basic, RFC 6749
section 2.3.1; PKCE, RFC 7636); ID tokens are checked with joserfc. A `Provider` holds no
connection and no lock: each call opens its own client, so that one instance serves the site's
event loop and the command handlers' loops alike. Every call has one deadline, `timeout`
seconds, for all of its requests.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import anyio
import httpx
import httpx2
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from .errors import InvalidIdToken, ProviderRefused, ProviderUnavailable
from .grants import TokenGrant
from .metadata import ProviderMetadata, discovery_urls

#: Seconds a fetched discovery document or key set is used before it is fetched again.
METADATA_MAX_AGE = 3600
#: Seconds at least between two fetches of the key set caused by an unknown key ID.
KEYS_REFETCH_INTERVAL = 60
#: Clock skew allowed when checking `exp` and `iat`, in seconds.
DEFAULT_LEEWAY = 60
#: The largest answer read from a provider, in bytes.
MAX_ANSWER_BYTES = 1024 * 1024


def new_secret_value() -> str:
    """A random state or nonce: 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def new_code_verifier() -> str:
    """A PKCE code verifier (RFC 7636 section 4.1): 64 characters of the unreserved set."""
    return secrets.token_urlsafe(48)


class Provider:
    """The provider whose issuer identifier is `issuer`, with this app's confidential client.

    `clock` gives epoch seconds (tests move it). Raises, from every call: ProviderUnavailable,
    ProviderRefused (an OAuth error answer) or, for ID tokens, InvalidIdToken.
    """

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float,
        leeway: int = DEFAULT_LEEWAY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self._client_secret = client_secret
        self._timeout = timeout
        self._leeway = leeway
        self._clock = clock
        self._metadata: tuple[float, ProviderMetadata] | None = None
        self._keys: tuple[float, KeySet] | None = None

    def __repr__(self) -> str:
        return f"Provider(issuer={self.issuer!r}, client_id={self.client_id!r})"

    # Metadata and keys

    async def metadata(self) -> ProviderMetadata:
        """The provider's metadata, fetched at first use and again after an hour."""
        cached = self._metadata
        if cached is not None and time.monotonic() - cached[0] < METADATA_MAX_AGE:
            return cached[1]
        with self._deadline("discovery"):
            last_status: int | None = None
            for url in discovery_urls(self.issuer):
                response = await self._get(url)
                if response.status_code == 404:
                    last_status = 404
                    continue
                metadata = ProviderMetadata.parse(self._json(response, "metadata"), self.issuer)
                self._metadata = (time.monotonic(), metadata)
                return metadata
        raise ProviderUnavailable(f"{self.issuer} publishes no metadata (HTTP {last_status})")

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        cached = self._keys
        now = time.monotonic()
        fresh_enough = KEYS_REFETCH_INTERVAL if refresh else METADATA_MAX_AGE
        if cached is not None and now - cached[0] < fresh_enough:
            return cached[1]
        metadata = await self.metadata()
        if metadata.jwks_uri is None:
            raise ProviderUnavailable(f"the metadata of {self.issuer} has no jwks_uri")
        with self._deadline("keys"):
            document = self._json(await self._get(metadata.jwks_uri), "key set")
        try:
            keys = KeySet.import_key_set(document)
        except (JoseError, ValueError, TypeError, KeyError):
            raise ProviderUnavailable(f"the key set of {self.issuer} cannot be read") from None
        self._keys = (now, keys)
        return keys

    # The authorization code flow (RFC 6749 section 4.1, with PKCE, RFC 7636)

    async def authorization_url(
        self,
        redirect_uri: str,
        scopes: str,
        *,
        state: str,
        nonce: str,
        code_verifier: str,
        prompt: str | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> str:
        """The authorization request to send the browser to: response_type=code, the S256
        code challenge of `code_verifier`, `state` and `nonce` (OpenID Connect Core 1.0
        section 3.1.2.1), and `extra` parameters the provider documents."""
        metadata = await self.metadata()
        params: dict[str, str] = {**(extra or {}), "nonce": nonce}
        if prompt:
            params["prompt"] = prompt
        client = self._oauth_client(scope=scopes, redirect_uri=redirect_uri)
        url, _ = client.create_authorization_url(
            metadata.authorization_endpoint, state=state, code_verifier=code_verifier, **params
        )
        return str(url)

    async def exchange_code(
        self, redirect_uri: str, code: str, *, code_verifier: str, nonce: str | None
    ) -> TokenGrant:
        """Trade an authorization code for tokens (RFC 6749 section 4.1.3). With `nonce`, an
        ID token is required and validated with it (`validate_id_token`)."""
        metadata = await self.metadata()
        with self._deadline("token"):
            async with self._oauth_client(redirect_uri=redirect_uri) as client:
                answer = await self._token_call(
                    client.fetch_token(
                        metadata.token_endpoint,
                        grant_type="authorization_code",
                        code=code,
                        code_verifier=code_verifier,
                    )
                )
        return await self._grant(answer, nonce=nonce, id_token_required=nonce is not None)

    async def refresh(self, refresh_token: str) -> TokenGrant:
        """New tokens for a refresh token (RFC 6749 section 6). A server that rotates refresh
        tokens returns a new one; otherwise the old one stays in `refresh_token`. Raises
        ProviderRefused (usually `invalid_grant`) when the server no longer honours it."""
        metadata = await self.metadata()
        with self._deadline("refresh"):
            async with self._oauth_client() as client:
                answer = await self._token_call(
                    client.refresh_token(metadata.token_endpoint, refresh_token=refresh_token)
                )
        grant = await self._grant(answer, nonce=None, id_token_required=False)
        if grant.refresh_token is None:
            grant = TokenGrant(
                grant.access_token,
                refresh_token,
                grant.expires_at,
                grant.scope,
                grant.id_token_claims,
            )
        return grant

    async def revoke(self, token: str, *, token_type_hint: str = "refresh_token") -> bool:  # noqa: S107
        """Revoke `token` (RFC 7009). False when the server offers no revocation endpoint.
        An unknown or already revoked token counts as revoked (section 2.2)."""
        metadata = await self.metadata()
        if metadata.revocation_endpoint is None:
            return False
        with self._deadline("revocation"):
            async with self._oauth_client() as client:
                try:
                    response = await client.revoke_token(
                        metadata.revocation_endpoint, token=token, token_type_hint=token_type_hint
                    )
                except (httpx2.HTTPError, OSError) as failure:
                    raise ProviderUnavailable(
                        f"revocation at {self.issuer} failed: {type(failure).__name__}"
                    ) from None
        if response.status_code >= 500:
            raise ProviderUnavailable(f"revocation at {self.issuer}: HTTP {response.status_code}")
        if response.status_code != 200:
            code = _oauth_error(response.content)
            raise ProviderRefused(code or f"http_{response.status_code}")
        return True

    async def userinfo(self, access_token: str) -> dict[str, Any]:
        """The claims the userinfo endpoint gives for `access_token` (OpenID Connect Core 1.0
        section 5.3). Raises ProviderRefused("invalid_token") when it refuses the token."""
        metadata = await self.metadata()
        if metadata.userinfo_endpoint is None:
            raise ProviderUnavailable(f"the metadata of {self.issuer} has no userinfo_endpoint")
        with self._deadline("userinfo"):
            response = await self._get(
                metadata.userinfo_endpoint, headers={"Authorization": f"Bearer {access_token}"}
            )
        if response.status_code in (401, 403):
            raise ProviderRefused("invalid_token")
        claims = self._json(response, "userinfo")
        if not isinstance(claims, dict) or not isinstance(claims.get("sub"), str):
            raise ProviderUnavailable(f"the userinfo answer of {self.issuer} has no subject")
        return claims

    # ID tokens (OpenID Connect Core 1.0 section 3.1.3.7)

    async def validate_id_token(self, id_token: str, *, nonce: str | None) -> dict[str, Any]:
        """The claims of `id_token` once its signature (a key of the provider's key set, an
        asymmetric algorithm the provider announces), `iss` (this issuer, exactly), `aud`
        (this client; `azp` too when there are several audiences), `exp` and `iat` (with
        `leeway` seconds of clock skew) and, when given, `nonce` are checked. Raises
        InvalidIdToken naming the failed check."""
        metadata = await self.metadata()
        if not isinstance(id_token, str) or len(id_token) > 64 * 1024:
            raise InvalidIdToken("not a JWT")
        keys = await self._key_set()
        try:
            token = jwt.decode(id_token, keys, algorithms=list(metadata.id_token_algorithms))
        except JoseError as error:
            if "key" not in str(error).lower() and "kid" not in str(error).lower():
                raise InvalidIdToken(f"signature ({error.error})") from None
            # An unknown key ID: the provider may have rotated its keys; fetch them once more.
            keys = await self._key_set(refresh=True)
            try:
                token = jwt.decode(id_token, keys, algorithms=list(metadata.id_token_algorithms))
            except JoseError as again:
                raise InvalidIdToken(f"signature ({again.error})") from None
        except (ValueError, TypeError):
            raise InvalidIdToken("not a JWT") from None
        claims = dict(token.claims)
        checks: dict[str, Any] = {
            "iss": {"essential": True, "value": self.issuer},
            "sub": {"essential": True},
            "aud": {"essential": True, "value": self.client_id},
            "exp": {"essential": True},
            "iat": {"essential": True},
        }
        if nonce is not None:
            checks["nonce"] = {"essential": True, "value": nonce}
        registry = JWTClaimsRegistry(now=lambda: int(self._clock()), leeway=self._leeway, **checks)
        try:
            registry.validate(claims)
        except JoseError as error:
            raise InvalidIdToken(_claim_failure(error)) from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.client_id:
            raise InvalidIdToken("azp: several audiences and this client is not the azp")
        if int(claims["iat"]) > self._clock() + self._leeway:
            raise InvalidIdToken("iat: issued in the future")
        return claims

    # Helpers

    def _oauth_client(self, **kwargs: Any) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self._client_secret,
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106
            code_challenge_method="S256",
            timeout=self._timeout,
            follow_redirects=False,
            **kwargs,
        )

    async def _token_call(self, call: Any) -> dict[str, Any]:
        try:
            answer = await call
        except OAuthError as error:
            raise ProviderRefused(
                str(error.error or "invalid_request"),
                _short(error.description),
            ) from None
        except (httpx2.HTTPError, OSError) as error:
            raise ProviderUnavailable(
                f"the token endpoint of {self.issuer} failed: {type(error).__name__}"
            ) from None
        except (ValueError, TypeError, KeyError):
            raise ProviderUnavailable(
                f"the token endpoint of {self.issuer} answered something unreadable"
            ) from None
        if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str):
            raise ProviderUnavailable(f"the token endpoint of {self.issuer} gave no access token")
        return dict(answer)

    async def _grant(
        self, answer: dict[str, Any], *, nonce: str | None, id_token_required: bool
    ) -> TokenGrant:
        token_type = str(answer.get("token_type", "")).lower()
        if token_type != "bearer":  # noqa: S105
            raise ProviderUnavailable(f"{self.issuer} issued a {token_type or 'typeless'} token")
        claims = None
        id_token = answer.get("id_token")
        if id_token is not None:
            claims = await self.validate_id_token(id_token, nonce=nonce)
        elif id_token_required:
            raise InvalidIdToken("the token response has no ID token")
        expires_in = answer.get("expires_in")
        expires_at = None
        if isinstance(expires_in, int | float | str) and str(expires_in).isdigit():
            expires_at = int(self._clock()) + int(expires_in)
        refresh_token = answer.get("refresh_token")
        scope = answer.get("scope")
        return TokenGrant(
            access_token=answer["access_token"],
            refresh_token=refresh_token if isinstance(refresh_token, str) else None,
            expires_at=expires_at,
            scope=scope if isinstance(scope, str) else None,
            id_token_claims=claims,
        )

    async def _get(self, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
        try:
            async with (
                httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as http,
                http.stream("GET", url, headers=headers) as response,
            ):
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:
                        raise ProviderUnavailable(f"{self.issuer} answered over 1 MiB")
                return httpx.Response(response.status_code, headers=response.headers, content=body)
        except httpx.HTTPError as error:
            raise ProviderUnavailable(
                f"{self.issuer} could not be reached: {type(error).__name__}"
            ) from None

    def _json(self, response: httpx.Response, what: str) -> Any:
        if response.status_code != 200:
            raise ProviderUnavailable(f"the {what} of {self.issuer}: HTTP {response.status_code}")
        try:
            return json.loads(response.content)
        except ValueError:
            raise ProviderUnavailable(f"the {what} of {self.issuer} is not JSON") from None

    def _deadline(self, what: str) -> _Deadline:
        return _Deadline(self._timeout, f"{what} at {self.issuer}")


class _Deadline:
    """`timeout` seconds for a block; then ProviderUnavailable naming it."""

    def __init__(self, timeout: float, what: str) -> None:
        self._scope = anyio.fail_after(timeout)
        self._what = what
        self._timeout = timeout

    def __enter__(self) -> None:
        self._scope.__enter__()

    def __exit__(self, *exc: object) -> Literal[False]:
        try:
            self._scope.__exit__(*exc)  # type: ignore[arg-type]
        except TimeoutError:
            raise ProviderUnavailable(
                f"{self._what} did not answer within {self._timeout:g} s"
            ) from None
        return False


def _claim_failure(error: JoseError) -> str:
    claim = getattr(error, "claim", None)
    return f"{claim}: {error.description or error.error}" if claim else str(error.error)


def _oauth_error(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    error = document.get("error") if isinstance(document, dict) else None
    return error if isinstance(error, str) else None


def _short(text: object) -> str | None:
    return str(text)[:200] if text else None
