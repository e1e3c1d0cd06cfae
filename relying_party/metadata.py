"""A provider's metadata: OpenID Connect Discovery 1.0 and OAuth 2.0 Authorization Server
Metadata (RFC 8414)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import ProviderUnavailable

#: ID token signature algorithms this relying party accepts: asymmetric ones only (never
#: `none`, never an HMAC keyed with the client secret).
ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)


@dataclass(frozen=True)
class ProviderMetadata:
    """The endpoints this app uses. `issuer` equals the configured issuer exactly."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str | None = None
    userinfo_endpoint: str | None = None
    revocation_endpoint: str | None = None
    end_session_endpoint: str | None = None
    #: ID token signature algorithms the provider uses and this app accepts.
    id_token_algorithms: tuple[str, ...] = ("RS256",)

    @classmethod
    def parse(cls, document: object, issuer: str) -> ProviderMetadata:
        """Read a discovery document fetched for `issuer`.

        Raises ProviderUnavailable when it is not a JSON object, names another issuer (OpenID
        Connect Discovery 1.0 section 4.3; RFC 8414 section 3.3: an impostor's document), or
        lacks the authorization or token endpoint, or when an endpoint is not an http(s) URL
        (https when the issuer is).
        """
        if not isinstance(document, dict):
            raise ProviderUnavailable(f"the metadata of {issuer} is not a JSON object")
        if document.get("issuer") != issuer:
            raise ProviderUnavailable(
                f"the metadata fetched for {issuer} names another issuer "
                f"({str(document.get('issuer'))[:200]!r})"
            )
        secure = issuer.startswith("https://")
        values: dict[str, Any] = {}
        for name in (
            "authorization_endpoint",
            "token_endpoint",
            "jwks_uri",
            "userinfo_endpoint",
            "revocation_endpoint",
            "end_session_endpoint",
        ):
            value = document.get(name)
            if value is None:
                continue
            if not _is_endpoint(value, secure=secure):
                raise ProviderUnavailable(f"the metadata of {issuer} has a bad {name}")
            values[name] = value
        for required in ("authorization_endpoint", "token_endpoint"):
            if required not in values:
                raise ProviderUnavailable(f"the metadata of {issuer} has no {required}")
        offered = document.get("id_token_signing_alg_values_supported")
        algorithms = ("RS256",)
        if isinstance(offered, list):
            algorithms = tuple(a for a in offered if a in ASYMMETRIC_ALGORITHMS) or algorithms
        return cls(issuer=issuer, id_token_algorithms=algorithms, **values)


def _is_endpoint(value: object, *, secure: bool) -> bool:
    if not isinstance(value, str) or len(value) > 2000:
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    if not parts.hostname or parts.fragment:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and (not secure or _is_loopback(parts.hostname))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def discovery_urls(issuer: str) -> list[str]:
    """Where the metadata of `issuer` is: OpenID Connect Discovery 1.0 section 4 (the issuer,
    its terminating "/" removed, then `/.well-known/openid-configuration`), then RFC 8414
    section 3.1 (`/.well-known/oauth-authorization-server` inserted before the path)."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    origin = f"{parts.scheme}://{parts.netloc}"
    return [
        f"{origin}{path}/.well-known/openid-configuration",
        f"{origin}/.well-known/oauth-authorization-server{path}",
    ]
