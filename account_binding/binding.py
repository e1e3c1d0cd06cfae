"""The binding rules: issuing links, confirming them, reading and removing bindings.

Every bind, unbind, cancellation and refusal goes to the audit log.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from .audit import Actor, AuditEvent, AuditLog
from .clock import Clock, system_clock
from .crypto import TokenCipher
from .errors import (
    AccountDisabled,
    AlreadyBound,
    BindingExpired,
    EmailMismatch,
    LinkError,
    LinkExpired,
    LinkNotFound,
    LinkUsed,
    SlackUnavailable,
    StoreBusy,
)
from .models import Binding, BindingRequest, SlackIdentity, SlackPerson, SlackProfile, User
from .outbox import NoticeKind
from .resume import PendingCommand, ResumedCommand
from .store import LinkLimit, NewGrant, Rekeyed, RemovedBinding, Store
from .text import ascii_lower
from .token_validity import TokenValidity
from .tokens import digest, new_api_token, new_secret

if TYPE_CHECKING:
    from .oauth_grants import OAuthGrants

log = logging.getLogger(__name__)

#: The period LINKS_PER_HOUR counts over, in seconds.
LINK_LIMIT_WINDOW = 3600

#: Used links are kept this long after they expire, so that a late click is told "already
#: used" rather than "not valid"; then they are purged.
PURGE_AFTER_SECONDS = 24 * 3600

REFUSAL_REASONS: dict[type[Exception], str] = {
    LinkNotFound: "unknown",
    LinkUsed: "used",
    LinkExpired: "expired",
    EmailMismatch: "email_mismatch",
    AlreadyBound: "already_bound",
    AccountDisabled: "account_disabled",  # Issue 10, lifecycle
}


#: Why a link stopped working before it expired, other than being used to bind
#: (`BindingRequest.ended_reason`): the audit names these rather than `used`.
ENDED_REASONS = frozenset({"replaced", "cancelled", "refused", "ended"})


@dataclass(frozen=True)
class IssuedLink:
    nonce: str = field(repr=False)
    expires_at: int


@dataclass(frozen=True)
class PendingLink:
    """A link that can still be confirmed, with the Slack person as Slack reports them."""

    request: BindingRequest
    person: SlackPerson | None


@dataclass(frozen=True)
class BoundAccount:
    """A binding, its internal user, and the personal API token the Slack side acts with.

    `api_token` is None when tokens are not issued: under ACT_AS=service the Slack side then
    acts with its service credential and names `subject`; under ACT_AS=oauth2, with the
    binding's OAuth grant (`OAuthGrants`).
    """

    binding: Binding
    user: User
    api_token: str | None = field(repr=False)

    @property
    def subject(self) -> str:
        """The bound user's identifier that never changes: the local username."""
        return self.user.subject


class Notifier(Protocol):
    """Told after a change to a binding has committed. The confirmation DM itself is not its
    job (issue 11): the change's own transaction wrote it to the outbox
    (account_binding.outbox), and a background sender delivers it; the notifier does what
    may stay best effort (the Slack side republishes the person's Home tab)."""

    async def binding_created(self, binding: Binding, user: User) -> None: ...
    async def binding_removed(self, binding: Binding) -> None: ...
    # Issue 10, Enterprise Grid
    async def bindings_merged(self, merged: MergedBindings) -> None:
        """Tell the Slack person which of their two bindings was kept and which removed."""
        ...


class SlackDirectory(Protocol):
    """Looks a Slack user up as Slack reports them now."""

    async def person(self, identity: SlackIdentity) -> SlackPerson | None:
        """The person, or None when Slack says there is no such readable user.

        Raises SlackUnavailable when Slack did not answer within the directory's deadline or
        answered with a temporary error (rate limited, 5xx, a network failure).
        """
        ...


@dataclass(frozen=True)
class BindingPolicy:
    ttl_seconds: int = 600
    require_email_match: bool = False
    internal_app_name: str = "Acme"
    #: Links one Slack identity may be issued in LINK_LIMIT_WINDOW seconds.
    links_per_hour: int = 10
    #: Whether binding issues a personal API token (ACT_AS=token); False for ACT_AS=service,
    #: where the Slack side acts with one service credential and no binding has a token.
    issue_api_tokens: bool = True
    #: Seconds a personal API token works after binding (API_TOKEN_TTL); None: no expiry.
    #: It bounds every token by its issue time, also tokens issued before it was set.
    api_token_ttl: int | None = None

    @cached_property
    def tokens(self) -> TokenValidity:
        """The rule personal tokens are judged by, here and everywhere else (introspection,
        the stand-in's API): the composition root shares this one object."""
        return TokenValidity(personal_tokens=self.issue_api_tokens, ttl=self.api_token_ttl)


class BindingService:
    def __init__(
        self,
        store: Store,
        cipher: TokenCipher,
        audit: AuditLog,
        directory: SlackDirectory,
        policy: BindingPolicy,
        clock: Clock = system_clock,
        *,
        grants: OAuthGrants | None = None,
    ) -> None:
        """`grants`: under ACT_AS=oauth2, the bindings' OAuth grants; every binding must then
        have one, and each removal revokes it at the provider."""
        self._store = store
        self._cipher = cipher
        self._audit = audit
        self._directory = directory
        self._policy = policy
        self._clock = clock
        self._grants = grants

    async def issue_link(
        self,
        identity: SlackIdentity,
        profile: SlackProfile,
        resume: PendingCommand | None = None,
    ) -> IssuedLink:
        """A new one-time link for `identity`; older unused links of theirs stop working.

        With `resume`, the link keeps that command (its response_url encrypted) to run once
        it binds, if the person ticks it at Connect; older links' commands are dropped.
        Raises LinkRateLimited, storing and recording nothing, when `identity` was issued
        `links_per_hour` links in the last hour.
        """
        now = self._clock()
        nonce = new_secret()
        expires_at = now + self._policy.ttl_seconds
        await self._store.add_binding_request(
            digest(nonce),
            identity,
            profile,
            now,
            expires_at,
            limit=LinkLimit(
                count=self._policy.links_per_hour,
                since=now - LINK_LIMIT_WINDOW + 1,
                window=LINK_LIMIT_WINDOW,
            ),
            resume_text=resume.text if resume else None,
            resume_response_url=self._sealed_response_url(resume),
        )
        await self._audit.record(AuditEvent.LINK_ISSUED, identity=identity)
        return IssuedLink(nonce=nonce, expires_at=expires_at)

    async def pending(self, nonce: str, actor: Actor) -> BindingRequest:
        """The link's request, if it can still be confirmed; else LinkError (audited)."""
        request = await self._store.get_binding_request(digest(nonce))
        try:
            if request is None:
                raise LinkNotFound()
            if request.used_at is not None:
                raise LinkUsed()
            if request.expires_at <= self._clock():
                raise LinkExpired()
        except LinkError as error:
            await self._refused(
                error,
                actor,
                request.identity if request else None,
                request.ended_reason if request else None,
            )
            raise
        return request

    async def lookup(self, nonce: str) -> BindingRequest | None:
        """The link's request whatever its state, or None."""
        return await self._store.get_binding_request(digest(nonce))

    async def describe(self, nonce: str, actor: Actor) -> PendingLink:
        """The pending link and who the Slack person is, for the confirm page."""
        request = await self.pending(nonce, actor)
        try:
            person = await self._directory.person(request.identity)
        except SlackUnavailable:
            person = None  # the page falls back to what the link knows
        return PendingLink(request=request, person=person)

    def seconds_left(self, request: BindingRequest) -> int:
        return max(1, request.expires_at - self._clock())

    async def confirm(
        self, nonce: str, user: User, actor: Actor, grant: NewGrant | None = None
    ) -> Binding:
        """Bind the link's Slack identity to `user`, consuming the link, in one transaction;
        with `grant` (ACT_AS=oauth2: the tokens the person granted, sealed by
        `OAuthGrants.seal`), the binding holds it, written in the same transaction.

        The Slack person is looked up (users.info) so that the binding keeps their real name.
        Raises LinkError (LinkNotFound, LinkUsed, LinkExpired, EmailMismatch), AlreadyBound,
        or AccountDisabled when `user` was disabled or removed meanwhile (the link stays usable).
        When Slack does not answer in time: with REQUIRE_EMAIL_MATCH, records `slack_error` and
        raises SlackUnavailable, leaving the link usable; without it, binds all the same.
        """
        request = await self.pending(nonce, actor)
        try:
            person = await self._directory.person(request.identity)
        except SlackUnavailable:
            if self._policy.require_email_match:
                await self._audit.record(
                    AuditEvent.SLACK_ERROR,
                    Actor(user=user, client=actor.client),
                    request.identity,
                    detail="users.info at bind",
                )
                raise
            person = None  # the name is only shown; the link already says who it is for
        if self._policy.require_email_match:
            slack_email = ascii_lower((person.email or "").strip()) if person else ""
            if not slack_email or slack_email != ascii_lower(user.email.strip()):
                await self._store.void_binding_request(digest(nonce), self._clock())
                error = EmailMismatch(self._policy.internal_app_name)
                await self._refused(error, actor, request.identity)
                raise error
        now = self._clock()
        api_token = new_api_token() if self._policy.issue_api_tokens else None
        ttl = self._policy.api_token_ttl
        try:
            binding = await self._store.complete_binding(
                digest(nonce),
                user.id,
                now,
                digest(api_token) if api_token else None,
                self._cipher.encrypt(api_token) if api_token else None,
                real_name=(person.real_name or None) if person else None,
                api_token_expires_at=now + ttl if api_token and ttl is not None else None,
                grant=grant,
                notice=NoticeKind.BOUND,  # Issue 11, outbox: the DM, in the same transaction
            )
        except (LinkError, AlreadyBound, AccountDisabled) as error:
            await self._refused(error, actor, request.identity)
            raise
        await self._audit.record(AuditEvent.BOUND, actor, binding.identity)
        return binding

    async def cancel(self, nonce: str, actor: Actor) -> None:
        """Void the link without binding: whoever cancelled did not want it used."""
        request = await self._store.get_binding_request(digest(nonce))
        if request is None:
            # Nothing to void; recorded within the cap, as anyone can make links up.
            await self._audit.record_capped(AuditEvent.LINK_CANCELLED, actor, detail="unknown")
            return
        await self._store.void_binding_request(digest(nonce), self._clock(), "cancelled")
        await self._audit.record(AuditEvent.LINK_CANCELLED, actor, request.identity)

    async def bound_account(self, identity: SlackIdentity) -> BoundAccount | None:
        """The identity's binding and what the Slack side acts with; None when not bound.

        When tokens are issued (ACT_AS=token) and the binding's token has expired (at the
        earlier of its stamped expiry and its issue time plus the current API_TOKEN_TTL, as
        `BindingPolicy.tokens` judges) or it has none (made under ACT_AS=service), the
        binding is removed,
        its token revoked, the removal audited as `unbound` with the reason, and
        BindingExpired raised; later calls return None. A token that cannot be decrypted
        (SECRET_KEY changed) removes the binding the same way but returns None. When tokens
        are not issued (ACT_AS=service), the binding is used whether or not it has a token,
        and `api_token` is None.
        """
        stored = await self._store.find_binding(identity)
        if stored is None:
            return None
        if self._grants is not None:
            return await self._with_grant(identity, stored.binding, stored.user)
        validity = self._policy.tokens
        if not validity.personal_tokens:
            return BoundAccount(binding=stored.binding, user=stored.user, api_token=None)
        issued_at = stored.api_token_issued_at
        if issued_at is None:  # a token always has one; the binding was made with it
            issued_at = stored.binding.created_at
        if stored.api_token_ciphertext is None:
            reason, detail = "no_token", "no token for ACT_AS=token"
        elif not validity.honours(issued_at, stored.api_token_expires_at, self._clock()):
            reason, detail = "expired", "token expired"
        else:
            reason = detail = ""
        if reason:
            if await self._remove(identity, detail):
                raise BindingExpired(reason)
            return None  # another call removed it (and raised) first
        assert stored.api_token_ciphertext is not None
        api_token = self._cipher.decrypt(stored.api_token_ciphertext)
        if api_token is None:
            # SECRET_KEY has changed: the binding is useless. Remove it (revoking its token) so
            # that the person can simply link again.
            log.error(
                "The API token of binding %s cannot be decrypted (SECRET_KEY has changed); "
                "removed the binding so that the person can link again",
                stored.binding.id,
            )
            await self._remove(identity, "token unreadable: SECRET_KEY changed")
            return None
        return BoundAccount(binding=stored.binding, user=stored.user, api_token=api_token)

    async def _with_grant(
        self, identity: SlackIdentity, binding: Binding, user: User
    ) -> BoundAccount | None:
        """Under ACT_AS=oauth2: the binding, when it has an OAuth grant this key can read.
        One made without a grant (under another ACT_AS) is removed and BindingExpired raised;
        one whose grant cannot be decrypted (SECRET_KEY changed) is removed, returning None."""
        assert self._grants is not None
        usable = await self._grants.is_usable(binding)
        if usable:
            return BoundAccount(binding=binding, user=user, api_token=None)
        if usable is None:
            log.error(
                "The OAuth tokens of binding %s cannot be decrypted (SECRET_KEY has changed); "
                "removed the binding so that the person can link again",
                binding.id,
            )
            await self._remove(identity, "grant unreadable: SECRET_KEY changed")
            return None
        if await self._remove(identity, "no OAuth grant for ACT_AS=oauth2"):
            raise BindingExpired("no_grant")
        return None

    async def _remove(self, identity: SlackIdentity, detail: str) -> bool:
        """Remove the binding the app can no longer use (revoking its token) and audit it as
        `unbound` with `detail`; False when another call removed it first."""
        removed = await self._store.remove_binding_and_grant(identity, self._clock())
        if removed is None:
            return False
        await self._audit.record(
            AuditEvent.UNBOUND,
            await self._owner_as_actor(removed.binding, Actor()),
            identity,
            detail,
        )
        await self._revoke_grant(removed)
        return True

    async def _revoke_grant(self, removed: RemovedBinding) -> None:
        """After a removal: revoke the binding's OAuth grant at the provider, if it had one."""
        if removed.grant is None:
            return
        if self._grants is None:
            log.warning(
                "Binding %s had OAuth tokens, but no ACT_AS=oauth2 provider is configured now, "
                "so they were not revoked at their provider (%s)",
                removed.binding.id,
                removed.grant.issuer,
            )
            return
        await self._grants.revoke(removed.grant)

    async def bindings_of(self, user: User) -> list[Binding]:
        """The Slack accounts bound to `user`, oldest first."""
        return await self._store.bindings_of(user.id)

    async def is_bound(self, identity: SlackIdentity) -> bool:
        return await self._store.find_binding(identity) is not None

    async def unbind(
        self, identity: SlackIdentity, actor: Actor, notice: NoticeKind | None = None
    ) -> Binding | None:
        """Remove the binding and revoke its API token; None when there was none. Its OAuth
        grant (ACT_AS=oauth2) is revoked at the provider after the binding is gone (RFC 7009,
        within the provider's deadline); a failure there is logged and undoes nothing. With
        `notice` (issue 11), the DM telling the Slack person is written to the outbox in the
        removal's own transaction."""
        removed = await self._store.remove_binding_and_grant(identity, self._clock(), notice)
        if removed is None:
            return None
        binding = removed.binding
        await self._audit.record(
            AuditEvent.UNBOUND, await self._owner_as_actor(binding, actor), identity
        )
        await self._revoke_grant(removed)
        return binding

    async def _owner_as_actor(self, binding: Binding, actor: Actor) -> Actor:
        """The actor an unbind is recorded with: it names the internal account the binding
        belonged to, whoever asked for the unbind (the Slack person, or the app itself)."""
        owner = await self._store.get_user(binding.user_id)
        return Actor(user=owner, client=actor.client) if owner else actor

    async def purge(self) -> int:
        return await self._store.purge_binding_requests(self._clock() - PURGE_AFTER_SECONDS)

    async def _refused(
        self,
        error: Exception,
        actor: Actor,
        identity: SlackIdentity | None,
        ended_reason: str | None = None,
    ) -> None:
        """Audit a refused link, the detail saying why: a link that stopped working before
        it expired says how (`replaced`, `cancelled`, `refused`, `ended`), not `used`."""
        detail = REFUSAL_REASONS.get(type(error), "other")
        if isinstance(error, LinkUsed) and ended_reason in ENDED_REASONS:
            detail = ended_reason
        # Capped per client and reason: anyone can present made-up, used or expired links.
        await self._audit.record_capped(AuditEvent.LINK_REFUSED, actor, identity, detail=detail)

    # Issue 10, unbinding: disconnecting from Slack after a confirmation, removing from the
    # web page, and when the Slack side last acted with a binding.

    async def connection_of(self, identity: SlackIdentity) -> Connection | None:
        """The identity's binding and the internal user it acts as; None when not bound.
        Unlike `bound_account`, it only looks: it records no use and removes nothing."""
        stored = await self._store.find_binding(identity)
        return Connection(stored.binding, stored.user) if stored else None

    async def unbind_binding(
        self, identity: SlackIdentity, public_id: str, actor: Actor
    ) -> Binding | None:
        """Slack's Disconnect button: remove the binding whose public ID is `public_id` (the
        one the question named) if it is `identity`'s, revoke its API token and, after, its
        OAuth grant; audited as `unbound` with the owner, like `unbind`. None when `identity`
        has no binding of that ID: it was removed meanwhile, or (a stale question) the person
        has a newer binding, which is left alone."""
        if not is_public_id(public_id):
            return None
        removed = await self._store.remove_binding_by_public_id(
            public_id, self._clock(), identity=identity, notice=NoticeKind.UNBOUND
        )
        if removed is None:
            return None
        await self._audit.record(
            AuditEvent.UNBOUND,
            await self._owner_as_actor(removed.binding, actor),
            removed.binding.identity,
        )
        await self._revoke_grant(removed)
        return removed.binding

    async def binding_of(self, user: User, public_id: str) -> Binding | None:
        """`user`'s binding whose public ID is `public_id`; None when there is none (no such
        binding, or another person's)."""
        if not is_public_id(public_id):
            return None
        return next((b for b in await self.bindings_of(user) if b.public_id == public_id), None)

    async def remove_binding_of(self, user: User, public_id: str, actor: Actor) -> Binding | None:
        """The web page's Remove: remove `user`'s binding whose public ID is `public_id`,
        revoke its API token and, after, its OAuth grant; audited as `unbound` with `actor`
        (the logged-in person) and the detail "web". None when `user` has no such binding
        (removed meanwhile, or another person's): nothing is removed."""
        if not is_public_id(public_id):
            return None
        removed = await self._store.remove_binding_by_public_id(
            public_id, self._clock(), user_id=user.id, notice=NoticeKind.UNBOUND
        )
        if removed is None:
            return None
        await self._audit.record(
            AuditEvent.UNBOUND, actor, removed.binding.identity, detail=WEB_REMOVAL
        )
        await self._revoke_grant(removed)
        return removed.binding

    async def record_use(self, binding: Binding) -> None:
        """Note that the Slack side acted with `binding` now (`last_used_at`), writing at most
        once per USE_RECORD_SECONDS per binding: no write at all when `binding`, as read,
        was noted within that time. It never fails the command it records: a database too
        busy to take the write (StoreBusy) skips it, logged."""
        now = self._clock()
        if binding.public_id is None:
            return
        if binding.last_used_at is not None and now - binding.last_used_at < USE_RECORD_SECONDS:
            return
        try:
            await self._store.note_binding_used(
                binding.id, binding.public_id, now, now - USE_RECORD_SECONDS + 1
            )
        except StoreBusy:
            log.info("Binding %s: its use was not recorded (the database was busy)", binding.id)

    # Issue 10, Enterprise Grid: one binding per Slack person of an organisation

    async def settle_identity(
        self, identity: SlackIdentity, team_name: str | None = None
    ) -> SettledIdentity:
        """Call with every identity that arrives from Slack, before anything looks its binding
        up: a workspace that joined an Enterprise Grid organisation keeps its bindings.

        For a Grid identity (team T, organisation E, user U), whatever is still keyed on the
        workspace, (T, U), moves to the organisation's key, (E, U), in one transaction (the
        binding, pending links, ended-binding and resend records), audited `binding_rekeyed`.
        When both keys have a binding (the person bound from the workspace before it joined,
        and from the organisation or another workspace of it), the older is kept and the
        other removed as unbinding removes one (token revoked, OAuth grant revoked at the
        provider), audited `binding_merged`; the result's `merged` says which, for the Slack
        person to be told (the outbox row, written in the same transaction, and
        `Notifier.bindings_merged`). `team_name`: the organisation's name
        as the payload gives it, shown for what moved. Outside Grid, or with nothing keyed
        on the workspace (one indexed read), nothing is written. Raises StoreBusy when the
        database stays locked.
        """
        if identity.enterprise_id is None or identity.scope_id == identity.team_id:
            return SettledIdentity()
        rekeyed = await self._store.rekey_to_organisation(
            identity, self._clock(), team_name, notice=NoticeKind.MERGED
        )
        if not rekeyed.changed:
            return SettledIdentity()
        client = f"slack:{identity.user_id}"
        if rekeyed.moved is not None or rekeyed.links_moved:
            owner = await self._store.get_user(rekeyed.moved.user_id) if rekeyed.moved else None
            await self._audit.record(
                AuditEvent.BINDING_REKEYED,
                Actor(user=owner, client=client),
                identity,
                _rekeyed_detail(identity, rekeyed),
            )
        merged = None
        if rekeyed.removed is not None and rekeyed.kept is not None:
            removed, kept = rekeyed.removed.binding, rekeyed.kept
            merged = MergedBindings(
                identity=identity,
                kept=kept,
                kept_user=await self._store.get_user(kept.user_id),
                removed=removed,
                removed_user=await self._store.get_user(removed.user_id),
            )
            await self._audit.record(
                AuditEvent.BINDING_MERGED,
                Actor(user=merged.removed_user, client=client),
                identity,
                merged.detail,
            )
            await self._revoke_grant(rekeyed.removed)
        return SettledIdentity(moved=rekeyed.moved, links_moved=rekeyed.links_moved, merged=merged)

    # Issue 10, resume: the command a link was issued for (account_binding.resume)

    def _sealed_response_url(self, resume: PendingCommand | None) -> str | None:
        """The command's response_url encrypted under SECRET_KEY, as API tokens are: it can
        post into the person's conversation as the app."""
        url = resume.response_url if resume else None
        return self._cipher.encrypt(url) if url else None

    async def drop_resume(self, nonce: str) -> None:
        """Forget the link's command: the person unticked it at Connect."""
        await self._store.drop_resume(digest(nonce))

    async def take_resume(self, nonce: str, binding: Binding, user: User) -> ResumedCommand | None:
        """The command to run for `binding`, just made from the link `nonce` for `user`, taken
        from the link once (a second call, or a replayed Connect, gets None). None also when
        the link kept no command, or the link's Slack identity is not the binding's."""
        stored = await self._store.take_resume(digest(nonce))
        if stored is None or stored.request.resume_text is None:
            return None
        link, text = stored.request, stored.request.resume_text
        if (link.identity.scope_id, link.identity.user_id) != (
            binding.identity.scope_id,
            binding.identity.user_id,
        ) or binding.user_id != user.id:
            log.error("A link's command was not resumed: the binding is not the link's")
            return None
        ciphertext = stored.response_url_ciphertext
        return ResumedCommand(
            binding=binding,
            user=user,
            command=link.profile.command or "",
            text=text,
            # None when SECRET_KEY changed meanwhile: the answer then goes by DM.
            response_url=self._cipher.decrypt(ciphertext) if ciphertext else None,
            issued_at=link.created_at,
        )


# Issue 10, unbinding

#: `last_used_at` is written at most once per this many seconds per binding.
USE_RECORD_SECONDS = 60
#: The audit detail of an `unbound` entry made from the web page (its actor is the person).
WEB_REMOVAL = "web"
_PUBLIC_ID = re.compile(r"[0-9a-f]{32}")


def is_public_id(value: object) -> bool:
    """Whether `value` has the shape of a binding's public ID (32 lower-case hex digits)."""
    return isinstance(value, str) and _PUBLIC_ID.fullmatch(value) is not None


@dataclass(frozen=True)
class Connection:
    """A Slack identity's binding and the internal user it acts as (no credential)."""

    binding: Binding
    user: User


# Issue 10, Enterprise Grid


@dataclass(frozen=True)
class MergedBindings:
    """Two bindings of one Slack person that came under one key when their workspace joined
    an Enterprise Grid organisation: `kept` (the older, now keyed on the organisation) and
    `removed` (its token and grant revoked), with the internal users each acted as (None for
    a user that no longer exists). `identity` is the Slack person, keyed on the organisation.
    """

    identity: SlackIdentity
    kept: Binding
    kept_user: User | None
    removed: Binding
    removed_user: User | None

    @property
    def detail(self) -> str:
        """The audit entry's detail: which binding was kept and which removed."""
        return (
            f"kept binding {self.kept.id} as {_name(self.kept_user)} (bound "
            f"{_utc(self.kept.created_at)} from workspace {self.kept.identity.team_id}, the "
            f"older); removed binding {self.removed.id} as {_name(self.removed_user)} (bound "
            f"{_utc(self.removed.created_at)} from workspace {self.removed.identity.team_id})"
        )


@dataclass(frozen=True)
class SettledIdentity:
    """What `BindingService.settle_identity` did: the binding it moved to the organisation's
    key, how many pending links it moved, and the two bindings it merged, if any."""

    moved: Binding | None = None
    links_moved: int = 0
    merged: MergedBindings | None = None


def _rekeyed_detail(identity: SlackIdentity, rekeyed: Rekeyed) -> str:
    what = [f"binding {rekeyed.moved.id}"] if rekeyed.moved else []
    if rekeyed.links_moved:
        what.append(f"{rekeyed.links_moved} link{'s' if rekeyed.links_moved > 1 else ''}")
    return (
        f"{' and '.join(what)} moved from workspace {identity.team_id} to organisation "
        f"{identity.scope_id}"
    )


def _name(user: User | None) -> str:
    return user.username if user else "a removed account"


def _utc(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")
