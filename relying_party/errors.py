"""What can go wrong talking to a provider. Messages are safe to log: no token, no secret."""

from __future__ import annotations


class ProviderError(Exception):
    """A call to the provider did not give what was asked."""


class ProviderUnavailable(ProviderError):
    """The provider could not be reached in time, answered 5xx, or answered something that is
    not what its protocol says (a document without its endpoints, a body that is not JSON)."""


class ProviderRefused(ProviderError):
    """The provider answered with an OAuth 2.0 error (RFC 6749 section 5.2), such as
    `invalid_grant` for a refresh token it no longer honours."""

    def __init__(self, error: str, description: str | None = None) -> None:
        self.error = error
        self.description = description
        detail = f": {description}" if description else ""
        super().__init__(f"the provider refused ({error}){detail}")


class InvalidIdToken(ProviderError):
    """An ID token failed validation (OpenID Connect Core 1.0 section 3.1.3.7): `reason` says
    which check."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"the ID token is not valid: {reason}")
