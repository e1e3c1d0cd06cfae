"""Never a dead button: a fresh link in place of one that no longer works.

Two ways in. A click in Slack on an old link message's button (`after_click`): the button
carries the SHA-256 of its link, and the click names the Slack user who pressed it; only that
user ever gets a new link, and only for a link that was theirs. And "Send me a new link in
Slack" on the expired-link page (`resend`): whoever holds the expired link (its nonce, the
only credential a person who is not logged in has) may have a new one sent to the Slack user
it was issued to, never to the browser, only for a link that really expired unused, at most
once a minute per Slack user, and never voiding a newer link (a newer link marks this one
"replaced", which refuses the resend).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Literal

from .audit import Actor, AuditEvent, AuditLog
from .binding import LINK_LIMIT_WINDOW, BindingPolicy, BindingService, IssuedLink
from .clock import Clock, system_clock
from .errors import DomainError, LinkRateLimited
from .models import BindingRequest, SlackIdentity, SlackProfile
from .store import LinkLimit, Store
from .tokens import digest, new_secret

log = logging.getLogger(__name__)

#: At most one "Send me a new link in Slack" per Slack person in this many seconds.
RESEND_INTERVAL_SECONDS = 60

#: A link's ID as a button carries it: the SHA-256 of its nonce, in lower-case hex.
LINK_ID = re.compile(r"[0-9a-f]{64}")

#: What happened to an old link, as a click's answer says it: its `ended_reason`, or
#: "expired" (ran out of time unused), "used" (used before reasons were kept, or to bind a
#: connection since removed), "unknown" (no such link any more: purged a day after expiry).
Why = Literal["expired", "replaced", "used", "cancelled", "refused", "ended", "unknown"]


@dataclass(frozen=True)
class Renewal:
    """What a click on a link button comes to.

    - "usable": the link still works, or the button does not say which link it is;
      nothing to do (the button opened it).
    - "not_theirs": the button's link was issued to another Slack identity; nothing done.
    - "connected": the person who clicked is bound now, as `username`.
    - "renewed": `link` is a fresh link for the person who clicked; `why` says what had
      happened to the old one.
    - "refused": no fresh link (`error`, whose text is for the person: LinkRateLimited, or
      StoreBusy); `why` as for "renewed".
    """

    outcome: Literal["usable", "not_theirs", "connected", "renewed", "refused"]
    why: Why | None = None
    link: IssuedLink | None = None
    username: str | None = None
    error: DomainError | None = None


#: Why a resend was refused: the page's words for each `ResendOutcome.refusal`, and
#: "rate_limited" (LINKS_PER_HOUR).
RESEND_REFUSALS: dict[str, str] = {
    "unknown": "This link is not valid, so no new link was sent. Run the link command in Slack "
    "for a new one.",
    "used": "This link was already used, so no new link was sent. If you still need to "
    "connect, run the link command in Slack.",
    "replaced": "A newer link was already sent to you in Slack, so this one was not renewed. "
    "Use the newest link, or run the link command in Slack.",
    "cancelled": "This link was cancelled, so no new link was sent. If you still want to "
    "connect, run the link command in Slack.",
    "refused": "This link was refused when it was used, so no new link was sent.",
    "ended": "The Slack account this link was for is no longer connected to the app, so no "
    "new link was sent.",
    "live": "This link has not expired, so no new link was sent: open it again to connect.",
    "bound": "This Slack account is already connected, so no new link was sent.",
}


class ResendRefused(DomainError):
    """No new link was sent; `reason` is a key of RESEND_REFUSALS, "too_soon" or
    "rate_limited"; `retry_after` (seconds) for the last two. `str(error)` is for the person."""

    def __init__(self, reason: str, message: str, retry_after: int = 0) -> None:
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(message)


@dataclass(frozen=True)
class ResentLink:
    """A new link for the Slack person an expired one was issued to: DM it, show it nowhere
    else."""

    nonce: str = field(repr=False)
    identity: SlackIdentity
    profile: SlackProfile
    expires_at: int


class LinkRenewal:
    def __init__(
        self,
        store: Store,
        bindings: BindingService,
        audit: AuditLog,
        policy: BindingPolicy,
        clock: Clock = system_clock,
    ) -> None:
        self._store = store
        self._bindings = bindings
        self._audit = audit
        self._policy = policy
        self._clock = clock

    async def after_click(
        self, identity: SlackIdentity, profile: SlackProfile, link_id: str
    ) -> Renewal:
        """What a click by `identity` (the payload's user: never anyone the button names) on
        the button of the link whose ID is `link_id` comes to. A fresh link is issued (with
        `issue_link`: audited, LINKS_PER_HOUR applies, older links are replaced) only when
        the old link was `identity`'s own, or is no longer known, and `identity` is not
        bound. `profile` is what the click says of the person; an old link's own profile
        (with the command it came from) is kept when there is one."""
        if not LINK_ID.fullmatch(link_id):
            # A button without its link's ID (a message from before buttons carried one):
            # its link may well still work, and the click opened it; leave it be.
            return Renewal("usable")
        request = await self._store.get_binding_request(link_id)
        if request is not None and not _same_person(request.identity, identity):
            return Renewal("not_theirs")
        if request is not None and request.used_at is None and request.expires_at > self._clock():
            return Renewal("usable")
        bound = await self._store.find_binding(identity)
        if bound is not None:
            return Renewal("connected", username=bound.user.username)
        why = _why(request)
        try:
            link = await self._bindings.issue_link(
                identity, request.profile if request is not None else profile
            )
        except DomainError as error:  # LinkRateLimited; StoreBusy
            return Renewal("refused", why, error=error)
        return Renewal("renewed", why, link=link)

    async def resend(self, nonce: str, actor: Actor) -> ResentLink:
        """A new link for the Slack person the expired link `nonce` was issued to, stored in
        one write with every check (`Store.resend_binding_request`), audited as
        `link_resent`. Raises ResendRefused, audited as `link_resend_refused` within the cap
        (anyone holding an old link can ask)."""
        now = self._clock()
        fresh = new_secret()
        expires_at = now + self._policy.ttl_seconds
        try:
            outcome = await self._store.resend_binding_request(
                digest(nonce),
                digest(fresh),
                now,
                expires_at,
                limit=LinkLimit(
                    count=self._policy.links_per_hour,
                    since=now - LINK_LIMIT_WINDOW + 1,
                    window=LINK_LIMIT_WINDOW,
                ),
                resend_after=RESEND_INTERVAL_SECONDS,
            )
        except LinkRateLimited as error:
            old = await self._store.get_binding_request(digest(nonce))
            await self._refused(actor, old, "rate_limited")
            raise ResendRefused("rate_limited", str(error), error.retry_after) from None
        old = outcome.request
        if outcome.refusal is not None:
            await self._refused(actor, old, outcome.refusal)
            if outcome.refusal == "too_soon":
                raise ResendRefused(
                    "too_soon",
                    "A new link was sent to this Slack account less than a minute ago. Look "
                    f"for it in Slack, or try again in {outcome.retry_after} seconds.",
                    outcome.retry_after,
                )
            message = RESEND_REFUSALS.get(outcome.refusal, RESEND_REFUSALS["used"])
            raise ResendRefused(outcome.refusal, message)
        assert old is not None
        await self._audit.record(AuditEvent.LINK_RESENT, actor, old.identity, detail="page")
        return ResentLink(
            nonce=fresh, identity=old.identity, profile=old.profile, expires_at=expires_at
        )

    async def _refused(self, actor: Actor, old: BindingRequest | None, reason: str) -> None:
        await self._audit.record_capped(
            AuditEvent.LINK_RESEND_REFUSED, actor, old.identity if old else None, detail=reason
        )


def _same_person(a: SlackIdentity, b: SlackIdentity) -> bool:
    return a.scope_id == b.scope_id and a.user_id == b.user_id


def _why(request: BindingRequest | None) -> Why:
    if request is None:
        return "unknown"
    if request.used_at is None:
        return "expired"
    # "bound" (connected, then disconnected since) or not recorded: "used".
    return _ENDED.get(request.ended_reason or "", "used")


_ENDED: dict[str, Why] = {
    "replaced": "replaced",
    "cancelled": "cancelled",
    "refused": "refused",
    "ended": "ended",
}
