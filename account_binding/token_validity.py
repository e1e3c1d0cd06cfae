"""Which personal API tokens are honoured now: one rule for every place that judges a token.

The store's token lookups, introspection (RFC 7662), the stand-in's API and the Slack side
(`BindingService.bound_account`) all judge a token by one `TokenValidity`, built once from
the settings by the composition root.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TokenValidity:
    """The current settings' rule for personal API tokens.

    `personal_tokens`: whether personal tokens are in use (ACT_AS=token). Under ACT_AS=service
    the Slack side presents none, so none is honoured anywhere; the tokens stay stored
    (unrevoked) and work again, within their lifetime, when ACT_AS returns to token.
    `ttl`: API_TOKEN_TTL in seconds, or None (no expiry). It bounds every token by its issue
    time under the current setting, also tokens issued before it was set or lowered.
    """

    personal_tokens: bool = True
    ttl: int | None = None

    def expires_at(self, issued_at: int, stored_expires_at: int | None) -> int | None:
        """When a token issued at `issued_at` stops working (Unix seconds; None: never): the
        earlier of the expiry stamped at issue (`stored_expires_at`) and `issued_at + ttl`."""
        bounds = [stored_expires_at] if stored_expires_at is not None else []
        if self.ttl is not None:
            bounds.append(issued_at + self.ttl)
        return min(bounds) if bounds else None

    def honours(self, issued_at: int, stored_expires_at: int | None, now: int) -> bool:
        """Whether an unrevoked token works at `now`: personal tokens are in use and `now` is
        before `expires_at(...)` (that second is the first it no longer works)."""
        if not self.personal_tokens:
            return False
        expires_at = self.expires_at(issued_at, stored_expires_at)
        return expires_at is None or now < expires_at
