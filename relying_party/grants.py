"""What a token endpoint grants."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TokenGrant:
    """A successful token response (RFC 6749 section 5.1), its ID token validated.

    `expires_at` is epoch seconds (from `expires_in`), None when the server gave no lifetime.
    `id_token_claims` are the validated claims of the ID token, None when none came.
    """

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: int | None
    scope: str | None
    id_token_claims: dict[str, Any] | None = None
