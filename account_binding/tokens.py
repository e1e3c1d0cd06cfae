"""Random secrets and their hashes: binding nonces, personal API tokens, session IDs.

Every secret here has 256 bits from `secrets`. Only its SHA-256 is ever stored, so a copy of
the database gives nobody a usable link, token or session. A plain hash is enough: the input
is random and long, so there is nothing to guess.
"""

from __future__ import annotations

import hashlib
import secrets

SECRET_BYTES = 32  # 256 bits
API_TOKEN_PREFIX = "abt_"  # noqa: S105 - a prefix, not a secret


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def new_api_token() -> str:
    """A personal API token; the prefix lets secret scanners and people recognise it."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
