"""Proof that the person confirming a binding link is the Slack user it was issued to
(VERIFY_SLACK_IDENTITY).

A link issued in Slack can be forwarded: whoever opens it and logs in could bind someone
else's Slack account to their own account. With VERIFY_SLACK_IDENTITY the person also signs in
with Slack (OpenID Connect, done by `web.slack_identity`) in the session whose login was made
for the link. Who Slack says they are is compared here with the link's Slack identity:

- the same person: the session records the SHA-256 of the link (`accept`), and only then may
  it Connect (`proven`);
- someone else: the link is voided, since it was forwarded, and the mismatch is audited with
  both Slack identities (`refuse`).

On Enterprise Grid a user keeps one user ID across the organisation's workspaces, so there the
organisation is compared, not the workspace the person happened to sign in to.
"""

from __future__ import annotations

import hmac

from .audit import Actor, AuditEvent, AuditLog
from .clock import Clock, system_clock
from .models import SlackIdentity
from .sessions import ActiveSession
from .store import Store
from .tokens import digest


def same_person(expected: SlackIdentity, signed_in: SlackIdentity) -> bool:
    """True when `signed_in` (who Slack says signed in) is the Slack user `expected` names.

    The user IDs must be equal, and the place they belong to: the Enterprise Grid organisation
    when both name one (a Grid user ID is one person across the organisation's workspaces),
    else the workspace (team) ID. IDs are compared exactly, as Slack issues them.
    """
    if signed_in.user_id != expected.user_id:
        return False
    if expected.enterprise_id and signed_in.enterprise_id:
        return signed_in.enterprise_id == expected.enterprise_id
    return signed_in.team_id == expected.team_id


def proven(session: ActiveSession, nonce: str) -> bool:
    """True when `session` proved the Slack identity of the link `nonce` (see `accept`)."""
    proof = session.slack_verified_link_hash
    return proof is not None and hmac.compare_digest(proof.encode(), digest(nonce).encode())


def describe(identity: SlackIdentity) -> str:
    """`TEAM/USER`, with ` of ENTERPRISE` on Enterprise Grid: how the audit detail names who
    signed in."""
    text = f"{identity.team_id}/{identity.user_id}"
    return f"{text} of {identity.enterprise_id}" if identity.enterprise_id else text


class SlackProofs:
    """Records the outcome of comparing a Slack sign-in with a link's Slack identity."""

    def __init__(self, store: Store, audit: AuditLog, clock: Clock = system_clock) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock

    async def accept(self, session_token: str, nonce: str) -> None:
        """The session whose cookie value is `session_token` proved the Slack identity of the
        link `nonce`: from now on it may Connect that link (and only that one)."""
        await self._store.set_session_slack_verified(digest(session_token), digest(nonce))

    async def refuse(
        self, nonce: str, actor: Actor, expected: SlackIdentity, signed_in: SlackIdentity
    ) -> None:
        """The person signed in to Slack as `signed_in`, not as `expected`, the Slack user the
        link `nonce` was issued to: the link was forwarded. Void it, so that nobody can use
        it any more, and audit `slack_identity_mismatch` with both Slack identities (the
        entry's own is the link's; the detail names who signed in)."""
        await self._store.void_binding_request(digest(nonce), self._clock())
        await self._audit.record(
            AuditEvent.SLACK_IDENTITY_MISMATCH,
            actor,
            expected,
            detail=f"signed in to Slack as {describe(signed_in)}",
        )
