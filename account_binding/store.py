"""The storage interface the domain needs.

`SQLiteStore` implements it; another database (PostgreSQL, for several replicas) implements
the same protocol. Methods that must be atomic say so: an implementation keeps them in one
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .models import Binding, BindingRequest, SlackIdentity, SlackProfile, User
from .outbox import NoticeKind
from .token_validity import TokenValidity


class StoreUnavailable(Exception):
    """The database cannot be made, opened, locked in time or migrated.

    `str(error)` is one line naming DATABASE, the file and the reason.
    """

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"Cannot use DATABASE {path}: {reason}")


class NoDatabase(StoreUnavailable):
    """A command that only reads found no database file, and made none."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "there is no database there yet")


@dataclass(frozen=True)
class LinkLimit:
    """At most `count` links per Slack identity issued at or after `since` (Unix seconds);
    `window` is the length of that period in seconds, to say when to ask again."""

    count: int
    since: int
    window: int


@dataclass(frozen=True)
class LoginAttempt:
    """What `reserve_login_attempt` decided.

    `ids`: the failure records reserved for an attempt that may go on; None when refused.
    `first_refusal`: refused, and a key at its limit had no refusal noted in this window yet
    (so this one is worth an audit row; later ones in the window are not).
    """

    ids: list[int] | None
    first_refusal: bool = False


@dataclass(frozen=True)
class Session:
    user_id: int
    csrf_token: str = field(repr=False)
    created_at: int
    last_seen_at: int
    #: SHA-256 of the binding link this session's login was made for, if any.
    link_hash: str | None = None
    #: SHA-256 of the binding link whose Slack identity this session proved by signing in
    #: with Slack (VERIFY_SLACK_IDENTITY), if any.
    slack_verified_link_hash: str | None = None


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: int
    event: str
    user_id: int | None
    username: str | None
    scope_id: str | None
    slack_user_id: str | None
    client: str | None
    detail: str | None


@dataclass(frozen=True)
class AuditFilter:
    event: str | None = None
    username: str | None = None
    slack_user_id: str | None = None
    #: The workspace or organisation ID (SlackIdentity.scope_id) of `slack_user_id`.
    scope_id: str | None = None
    since: int | None = None
    limit: int = 100


@dataclass(frozen=True)
class StoredBinding:
    """A binding as stored, with its user and its personal API token's state.

    `api_token_ciphertext` is None for a binding made without a token (ACT_AS=service);
    `api_token_expires_at` (Unix seconds) is the expiry stamped at issue, None when it was
    issued without one or there is no token; `api_token_issued_at` (Unix seconds) is when the
    token was issued, None when there is none. Whether the token works now is
    `TokenValidity`'s to say (API_TOKEN_TTL bounds it by its issue time too).
    """

    binding: Binding
    api_token_ciphertext: str | None = field(repr=False)
    user: User
    api_token_expires_at: int | None = None
    api_token_issued_at: int | None = None


@dataclass(frozen=True)
class IssuedToken:
    """A personal API token that works now: not revoked, not expired.

    Times are Unix seconds; `expires_at` is when it stops working under the current
    settings, None when it does not expire.
    """

    user: User
    issued_at: int
    expires_at: int | None


@dataclass(frozen=True)
class StoredFlow:
    """An authorization request under way, as stored (hashes of its state and browser key)."""

    state_hash: str
    purpose: str
    browser_hash: str
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    next_path: str
    link_hash: str | None
    session_hash: str | None
    created_at: int
    expires_at: int


class Store(Protocol):
    # internal users
    async def create_user(self, username: str, email: str, password_hash: str, now: int) -> User:
        """Raises UsernameTaken, or EmailTaken when another account has this email, case
        aside (checked in the inserting transaction)."""
        ...

    async def get_user(self, user_id: int) -> User | None: ...
    async def find_credentials(self, username: str) -> tuple[User, str] | None: ...
    async def set_password_hash(self, user_id: int, password_hash: str) -> None: ...
    async def list_users(self) -> list[User]: ...

    # binding links
    async def add_binding_request(
        self,
        nonce_hash: str,
        identity: SlackIdentity,
        profile: SlackProfile,
        now: int,
        expires_at: int,
        limit: LinkLimit | None = None,
        *,
        resume_text: str | None = None,
        resume_response_url: str | None = None,
    ) -> None:
        """Store a link and void the identity's older unused links (atomic).

        With `limit`, raises LinkRateLimited and stores nothing when the identity already has
        `limit.count` links issued since `limit.since` (counted in the same transaction).
        `resume_text` and `resume_response_url` (encrypted) are the command to resume once
        the link binds (account_binding.resume); the older links' commands are dropped in the
        same transaction.
        """
        ...

    async def get_binding_request(self, nonce_hash: str) -> BindingRequest | None: ...

    async def complete_binding(
        self,
        nonce_hash: str,
        user_id: int,
        now: int,
        api_token_hash: str | None,
        api_token_ciphertext: str | None,
        real_name: str | None = None,
        api_token_expires_at: int | None = None,
        grant: NewGrant | None = None,
        notice: NoticeKind | None = None,
    ) -> Binding:
        """Consume the link, issue the API token and write the binding (atomic); with
        `grant` (ACT_AS=oauth2), store it as the binding's OAuth grant in the same write;
        with `notice` (issue 11), the outbox row telling the Slack person, in the same write.

        With `api_token_hash` and `api_token_ciphertext` None, no token is issued and the
        binding has none (ACT_AS=service). `api_token_expires_at` is when the token stops
        working, in Unix seconds; None: never.
        Raises LinkNotFound, LinkUsed, LinkExpired or AlreadyBound, changing nothing.
        """
        ...

    async def void_binding_request(
        self, nonce_hash: str, now: int, reason: str = "refused"
    ) -> None:
        """Stop the link working now, if it is still unused, recording why (`reason`: see
        `BindingRequest.ended_reason`)."""
        ...

    async def purge_binding_requests(self, expired_before: int) -> int: ...

    # bindings
    async def find_binding(self, identity: SlackIdentity) -> StoredBinding | None: ...
    async def bindings_of(self, user_id: int) -> list[Binding]: ...
    async def remove_binding(self, identity: SlackIdentity, now: int) -> Binding | None:
        """Delete the binding and revoke its API token, if it has one (atomic)."""
        ...

    # personal API tokens
    async def find_token(
        self, api_token_hash: str, now: int, validity: TokenValidity
    ) -> IssuedToken | None:
        """The token with this hash, or None when it is unknown, revoked, or not honoured at
        `now` (Unix seconds) by `validity`. Its `expires_at` is `validity.expires_at(...)`:
        the earlier of the stored expiry and the issue time plus the current TTL."""
        ...

    # sessions of the web site
    async def create_session(
        self,
        token_hash: str,
        user_id: int,
        csrf_token: str,
        now: int,
        link_hash: str | None = None,
        keep_at_most: int | None = None,
    ) -> None:
        """Store a session; with `keep_at_most`, end the user's oldest sessions beyond that
        many, in the same transaction."""
        ...

    async def get_session(self, token_hash: str) -> Session | None: ...
    async def touch_session(self, token_hash: str, now: int) -> None: ...
    async def delete_session(self, token_hash: str) -> None: ...

    # the audit log
    async def add_audit(self, record: AuditRecord) -> None: ...
    async def add_audit_capped(self, record: AuditRecord, limit: int, since: int) -> bool:
        """Add `record` unless `limit` entries of its event, detail and client were added
        since `since` (atomic); whether it was added."""
        ...

    async def purge_audit(self, before: int) -> int:
        """Delete entries older than `before`; how many."""
        ...

    async def list_audit(self, where: AuditFilter) -> list[AuditRecord]:
        """Newest first."""
        ...

    # login attempts, for throttling
    async def reserve_login_attempt(
        self, limits: dict[str, int], now: int, since: int
    ) -> LoginAttempt:
        """Count each key's failures since `since`. If any key is at its limit, refuse, and
        note the refusal for each such key that has none noted since `since`. Otherwise record
        one failure per key, counted until cleared, and return their IDs (atomic, so
        concurrent attempts cannot all slip under a limit)."""
        ...

    async def forget_login_attempt(self, attempt_ids: list[int], clear_key: str) -> None:
        """A successful login: drop this attempt's records and every failure of `clear_key`."""
        ...

    async def count_login_failures(self, key: str, since: int) -> int: ...
    async def purge_login_failures(self, before: int) -> None: ...

    async def delete_sessions_of(self, user_id: int) -> None: ...
    async def purge_sessions(self, idle_before: int, created_before: int) -> None: ...

    # Who users are at OpenID providers and proxies (user_identities)

    async def find_user_by_identity(self, issuer: str, subject: str) -> User | None: ...
    async def create_external_user(
        self, username: str, email: str, issuer: str, subject: str, now: int
    ) -> User:
        """A user without a password (hash "!"), known as `subject` at `issuer`, in one write.
        Raises UsernameTaken, EmailTaken (case aside; an `email` of "" clashes with nothing)
        or IdentityTaken."""
        ...

    async def add_user_identity(self, user_id: int, issuer: str, subject: str, now: int) -> None:
        """Record that `user_id` is `subject` at `issuer`; nothing when already so. Raises
        IdentityTaken when that identity belongs to another user."""
        ...

    async def set_user_email(self, user_id: int, email: str) -> None:
        """Raises EmailTaken when another account has it, case aside."""
        ...

    # Authorization flows under way (account_binding.authorization_flows)

    async def add_authorization_flow(self, flow: StoredFlow) -> None: ...
    async def take_authorization_flow(self, state_hash: str, now: int) -> StoredFlow | None:
        """The flow whose state has SHA-256 `state_hash`, marked used in the same write; None
        when there is none or it was already used."""
        ...

    async def purge_authorization_flows(self, expired_before: int) -> int: ...

    # ACT_AS=oauth2: the bindings' OAuth grants and the sessions' pending grants
    # (account_binding.oauth_grants)

    async def get_oauth_grant(self, binding_id: int) -> StoredGrant | None: ...

    async def lease_oauth_grant_refresh(
        self, binding_id: int, now: int, until: int
    ) -> StoredGrant | None:
        """Take the refresh lease of the binding's grant until `until` (Unix seconds), in one
        conditional write: only when nobody holds it (`refreshing_until` unset or past at
        `now`). The grant as it is under the lease; None when another holds the lease or
        there is no grant."""
        ...

    async def store_refreshed_oauth_grant(
        self, binding_id: int, lease: int, tokens: RefreshedTokens, now: int
    ) -> bool:
        """Replace the grant's tokens and release the lease, if the lease taken until `lease`
        is still held (atomic); whether it was."""
        ...

    async def release_oauth_grant_refresh(self, binding_id: int, lease: int) -> None:
        """Release the lease taken until `lease`, if still held."""
        ...

    async def remove_binding_and_grant(
        self, identity: SlackIdentity, now: int, notice: NoticeKind | None = None
    ) -> RemovedBinding | None:
        """Delete the binding and its OAuth grant and revoke its API token, if it has one
        (atomic); what was removed, None when there was no binding. With `notice` (issue 11),
        the outbox row telling the Slack person, in the same write."""
        ...

    async def keep_session_grant(self, token_hash: str, grant_ciphertext: str) -> bool:
        """Keep an encrypted grant with the session; False when there is no such session."""
        ...

    async def take_session_grant(self, token_hash: str) -> str | None:
        """The session's encrypted grant, cleared in the same write; None when none."""
        ...

    # Sign in with Slack (VERIFY_SLACK_IDENTITY): the session's proof of the link's Slack
    # identity (account_binding.slack_proof)

    async def set_session_slack_verified(self, token_hash: str, link_hash: str) -> None:
        """Record that the session `token_hash` proved the Slack identity of the link whose
        SHA-256 is `link_hash`; nothing when there is no such session."""
        ...

    # Issue 10, unbinding: one binding removed by its public ID (`Binding.public_id`), for its
    # owner or its Slack person only; when the Slack side last acted with a binding.

    async def remove_binding_by_public_id(
        self,
        public_id: str,
        now: int,
        *,
        user_id: int | None = None,
        identity: SlackIdentity | None = None,
        notice: NoticeKind | None = None,
    ) -> RemovedBinding | None:
        """Delete the binding whose public ID is `public_id` and its OAuth grant, and revoke
        its API token (atomic), only when it is bound to the internal user `user_id` and/or to
        the Slack `identity`, whichever are given (at least one must be: ValueError). What was
        removed; None when no such binding is theirs (removed already, or someone else's).
        With `notice` (issue 11), the outbox row telling the Slack person, in the same write."""
        ...

    async def note_binding_used(
        self, binding_id: int, public_id: str, now: int, not_since: int
    ) -> bool:
        """Set the `last_used_at` of the binding with this ID and public ID (the ID alone may
        have been reused) to `now` (Unix seconds), unless it is already at or after
        `not_since`; whether it was written (False too when there is no such binding)."""
        ...

    # Issue 10, never a dead button: "Send me a new link in Slack" from the expired-link page
    # (account_binding.link_renewal)

    async def resend_binding_request(
        self,
        old_hash: str,
        new_hash: str,
        now: int,
        expires_at: int,
        *,
        limit: LinkLimit,
        resend_after: int,
    ) -> ResendOutcome:
        """Issue a new link, `new_hash`, to the Slack identity of the link `old_hash`, only if
        that link expired unused (not used, replaced, cancelled or refused: `used_at` unset and
        `expires_at` <= `now`), the identity is not bound, and no resend went to it in the
        last `resend_after` seconds (table `link_resends`, set in the same write). All in one
        transaction: the older unused links (the old one with them) become "replaced", as
        `add_binding_request` does. Raises LinkRateLimited, changing nothing, when `limit`
        is reached; a refusal changes nothing either."""
        ...

    # Issue 10, Enterprise Grid: a workspace that joined an organisation keeps its bindings

    async def rekey_to_organisation(
        self,
        identity: SlackIdentity,
        now: int,
        team_name: str | None = None,
        notice: NoticeKind | None = None,
    ) -> Rekeyed:
        """Move what is keyed on the identity's workspace, (`team_id`, `user_id`), to its
        organisation's key, (`scope_id`, `user_id`), in one transaction: the binding, the
        pending links, and the rows other features key on the identity (ended bindings,
        link resends). `identity` is an Enterprise Grid one (`enterprise_id` set).

        When both keys have a binding, the older one (by `created_at`, then ID) is kept
        under the organisation's key and the other removed as `remove_binding_and_grant`
        removes one (its OAuth grant deleted, its API token revoked). Of the live links then
        under the organisation's key, only the newest stays usable (the others end as
        "replaced"). `team_name`, when given, becomes the name shown for whatever moved (the
        organisation's). Nothing keyed on the workspace: an empty `Rekeyed`, nothing written.
        With `notice` (issue 11) and two bindings merged, the outbox row telling the Slack
        person which was kept, in the same transaction.
        """
        ...

    # Issue 10, administration: the bindings an administrator lists and removes
    # (`account-binding binding list|remove`, account_binding.administration)

    async def list_bindings(self, where: BindingFilter) -> list[ListedBinding]:
        """The bindings `where` selects (every condition set must hold), oldest first, each
        with its internal user's name and the kind of credential it holds."""
        ...

    async def close(self) -> None: ...

    # Issue 10, lifecycle: Slack's lifecycle events and internal users disabled or removed
    # (account_binding.lifecycle)

    async def note_slack_event(self, event_id: str, now: int) -> bool:
        """Record that the Events API delivery `event_id` was received, in one write
        (insert-or-ignore); True the first time, False when it was recorded before."""
        ...

    async def purge_slack_events(self, received_before: int) -> int:
        """Forget deliveries received before `received_before` (Unix seconds); how many."""
        ...

    # Issue 11, socket: each Events API delivery acts once (account_binding.deliveries)

    async def slack_event_noted(self, event_id: str) -> bool:
        """Whether `note_slack_event` recorded `event_id` (and it was not purged since); a
        read, which waits for no writer."""
        ...

    async def remove_slack_bindings(self, where: SlackSelection, now: int) -> list[RemovedBinding]:
        """Delete every binding `where` selects with its OAuth grant, revoke their API tokens
        and void the selected identities' unused links (ended_reason "ended"), in one
        transaction; what was removed."""
        ...

    async def disable_user(
        self, user_id: int, now: int, notice: NoticeKind | None = None
    ) -> EndedUser | None:
        """Disable the user (`disabled_at`, kept from the first time), delete their bindings
        and OAuth grants, revoke all their API tokens, end their sessions, and note for each
        Slack identity that was bound to them why (`ended_bindings`, reason "disabled"), in
        one transaction; with `notice` (issue 11), an outbox row for each, in it too. None
        when there is no such user."""
        ...

    async def enable_user(self, user_id: int) -> bool:
        """Clear `disabled_at` and forget the "disabled" notes of the user's former Slack
        identities (they may be sent a link again); whether the user was disabled."""
        ...

    async def delete_user(
        self, user_id: int, now: int, notice: NoticeKind | None = None
    ) -> EndedUser | None:
        """Delete the user and everything keyed on them: bindings, OAuth grants, API tokens,
        sessions, identities at providers, and the rows of any other table that refers to
        them (the stand-in's to-do items). Each Slack identity that was bound to them, or
        noted when they were disabled, is noted with reason "removed". The audit log is kept.
        With `notice` (issue 11), an outbox row for each binding removed. One transaction;
        None when there is no such user."""
        ...

    async def ended_binding(self, identity: SlackIdentity) -> EndedBinding | None:
        """Why `identity`'s binding ended, when they are to be told (until they bind again)."""

    # Issue 10, resume: the command a link was issued for, run once it binds
    # (account_binding.resume)

    async def take_resume(self, nonce_hash: str) -> StoredResume | None:
        """The command kept with the link, cleared in the same write, only when the link was
        consumed by binding (`ended_reason` "bound"); None when it has none, was not bound,
        or the command was already taken. So a command is handed out at most once."""
        ...

    async def drop_resume(self, nonce_hash: str) -> None:
        """Forget the command kept with the link, if it is still unused (the person
        unticked it at Connect)."""
        ...

    # Issue 11, health: whether the database can be written now (/readyz, /metrics)

    async def check_writable(self, seconds: float) -> None:
        """Prove that a write could start now, writing nothing: take the database's write
        lock and let it go again, within `seconds` (> 0) whatever happens, never blocking
        the event loop. Checks asked while one runs share its outcome. Raises StoreBusy when
        the lock was not had in time (another connection held it, or the disk did not
        answer), StoreUnavailable when the database cannot be opened for writing (the file
        removed or made read-only)."""
        ...


# ACT_AS=oauth2: a binding's OAuth grant (table oauth_grants)


@dataclass(frozen=True)
class NewGrant:
    """A grant to store with a new binding: its tokens encrypted, who they are for at the
    provider (`issuer`, `subject`: the ID token's `iss` and `sub`), `expires_at` (Unix
    seconds; None: the server gave no lifetime) and the granted `scope`."""

    issuer: str
    subject: str
    access_token_ciphertext: str = field(repr=False)
    refresh_token_ciphertext: str | None = field(repr=False)
    expires_at: int | None
    scope: str | None


@dataclass(frozen=True)
class RefreshedTokens:
    """What a refresh replaces (encrypted, as in NewGrant)."""

    access_token_ciphertext: str = field(repr=False)
    refresh_token_ciphertext: str | None = field(repr=False)
    expires_at: int | None
    scope: str | None


@dataclass(frozen=True)
class StoredGrant:
    """A binding's grant as stored. `updated_at` is when its access token was stored (Unix
    seconds), so `expires_at - updated_at` is that token's lifetime; `refreshing_until` is
    the end of the refresh lease someone holds, None when nobody does."""

    binding_id: int
    issuer: str
    subject: str
    access_token_ciphertext: str = field(repr=False)
    refresh_token_ciphertext: str | None = field(repr=False)
    expires_at: int | None
    scope: str | None
    refreshing_until: int | None
    updated_at: int


@dataclass(frozen=True)
class RemovedBinding:
    """A binding removed, and its OAuth grant if it had one (for revocation)."""

    binding: Binding
    grant: StoredGrant | None


# Issue 10, lifecycle: what Slack's lifecycle events and disabling or removing users end


@dataclass(frozen=True)
class SlackSelection:
    """The bindings and links a Slack lifecycle event ends: one person's (`identity`), an
    Enterprise Grid organisation's (`enterprise_id`: every identity keyed on it, for an
    org-wide install) or one workspace's (`team_id`). Build it with a class method."""

    identity: SlackIdentity | None = None
    enterprise_id: str | None = None
    team_id: str | None = None

    @classmethod
    def person(cls, identity: SlackIdentity) -> SlackSelection:
        return cls(identity=identity)

    @classmethod
    def organisation(cls, enterprise_id: str) -> SlackSelection:
        return cls(enterprise_id=enterprise_id)

    @classmethod
    def workspace(cls, team_id: str) -> SlackSelection:
        return cls(team_id=team_id)

    def __str__(self) -> str:
        if self.identity is not None:
            return f"Slack user {self.identity.scope_id}/{self.identity.user_id}"
        if self.enterprise_id is not None:
            return f"organisation {self.enterprise_id}"
        return f"workspace {self.team_id}"


@dataclass(frozen=True)
class EndedBinding:
    """Why a Slack identity's binding ended (table ended_bindings): its internal account
    `username` was "disabled" or "removed" by an administrator at `ended_at` (Unix
    seconds). `user_id` is None once the account is removed."""

    scope_id: str
    slack_user_id: str
    user_id: int | None
    username: str
    reason: str
    ended_at: int


@dataclass(frozen=True)
class EndedUser:
    """A user disabled or removed: as they were before (`user`), and the bindings removed
    (with their OAuth grants, to revoke at the provider)."""

    user: User
    removed: list[RemovedBinding]


# Issue 10, never a dead button: what `resend_binding_request` decided


@dataclass(frozen=True)
class ResendOutcome:
    """`refusal` is None when the new link was stored, else why not: "unknown" (no such
    link), "used" (used to bind, or before reasons were kept), "replaced", "cancelled",
    "refused", "ended" (its `ended_reason`), "live" (it has not expired), "bound" (the
    identity is bound now), or "too_soon" (a resend went to the identity less than
    `resend_after` seconds ago; `retry_after` says in how many seconds one may go).
    `request` is the old link, when there is one."""

    refusal: str | None
    request: BindingRequest | None
    retry_after: int = 0


# Issue 10, Enterprise Grid: what `Store.rekey_to_organisation` did


@dataclass(frozen=True)
class Rekeyed:
    """What moved from a workspace's key to its organisation's.

    `moved`: the binding that was keyed on the workspace, now on the organisation (None when
    there was none, or it was the one removed). `kept`: the binding the organisation's key
    has after a move or a collapse (None when the workspace's key had no binding).
    `removed`: the binding removed because both keys had one (the newer), with its grant for
    revocation. `links_moved`: live links moved (unused, unexpired; used and expired ones
    move too, uncounted).
    """

    moved: Binding | None = None
    kept: Binding | None = None
    removed: RemovedBinding | None = None
    links_moved: int = 0

    @property
    def changed(self) -> bool:
        """Whether a binding or link moved or was removed."""
        return self.moved is not None or self.removed is not None or self.links_moved > 0


# Issue 10, resume


@dataclass(frozen=True)
class StoredResume:
    """A link's command as `take_resume` hands it out: the link (`request`, whose
    `resume_text` is the command's text) and the response_url's ciphertext, None when none
    was kept."""

    request: BindingRequest
    response_url_ciphertext: str | None = field(repr=False)


# Issue 10, administration: a binding as `account-binding binding list` shows it


@dataclass(frozen=True)
class BindingFilter:
    """Which bindings to list; None: any. `workspace` matches the team or the Enterprise Grid
    organisation ID; `since` (Unix seconds) keeps bindings made at or after it."""

    binding_id: int | None = None
    username: str | None = None
    slack_user_id: str | None = None
    workspace: str | None = None
    since: int | None = None


@dataclass(frozen=True)
class ListedBinding:
    """A binding with its internal user's name, when it was last used (`last_used_at`, Unix
    seconds; None: never, or not recorded) and `credential`, what the Slack side acts with:
    "token" (a personal API token, ACT_AS=token), "oauth2" (the person's OAuth grant,
    ACT_AS=oauth2) or "none" (made under ACT_AS=service, which acts with the service
    credential)."""

    binding: Binding
    username: str
    last_used_at: int | None
    credential: str
