"""The app as an OAuth 2.0 client and OpenID Connect relying party, on Authlib and joserfc.

`Provider` is one OpenID provider or OAuth 2.0 authorization server and this app's client at
it: discovery, the authorization request (code flow with PKCE), the token, refresh, revocation
and userinfo endpoints, and ID token validation. Nothing here knows Slack, the site or the
store.
"""

from .errors import InvalidIdToken, ProviderError, ProviderRefused, ProviderUnavailable
from .grants import TokenGrant
from .metadata import ProviderMetadata
from .provider import Provider, new_code_verifier, new_secret_value

__all__ = [
    "InvalidIdToken",
    "Provider",
    "ProviderError",
    "ProviderMetadata",
    "ProviderRefused",
    "ProviderUnavailable",
    "TokenGrant",
    "new_code_verifier",
    "new_secret_value",
]
