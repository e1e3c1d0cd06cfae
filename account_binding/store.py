"""The storage interface the domain needs.

`SQLiteStore` implements it; another database (PostgreSQL, for several replicas) implements
the same protocol. Methods that must be atomic say so: an implementation keeps them in one
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .models import Binding, BindingRequest, SlackIdentity, SlackProfile, Todo, User


@dataclass(frozen=True)
class Session:
    user_id: int
    csrf_token: str = field(repr=False)
    created_at: int
    last_seen_at: int
    #: SHA-256 of the binding link this session's login was made for, if any.
    link_hash: str | None = None


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
    since: int | None = None
    limit: int = 100


@dataclass(frozen=True)
class StoredBinding:
    binding: Binding
    api_token_ciphertext: str


class Store(Protocol):
    # internal users
    async def create_user(
        self, username: str, email: str, password_hash: str, now: int
    ) -> User: ...
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
    ) -> None:
        """Store a link and void the identity's older unused links (atomic)."""
        ...

    async def get_binding_request(self, nonce_hash: str) -> BindingRequest | None: ...

    async def complete_binding(
        self,
        nonce_hash: str,
        user_id: int,
        now: int,
        api_token_hash: str,
        api_token_ciphertext: str,
        real_name: str | None = None,
    ) -> Binding:
        """Consume the link, issue the API token and write the binding (atomic).

        Raises LinkNotFound, LinkUsed, LinkExpired or AlreadyBound, changing nothing.
        """
        ...

    async def void_binding_request(self, nonce_hash: str, now: int) -> None: ...
    async def purge_binding_requests(self, expired_before: int) -> int: ...

    # bindings
    async def find_binding(self, identity: SlackIdentity) -> StoredBinding | None: ...
    async def bindings_of(self, user_id: int) -> list[Binding]: ...
    async def remove_binding(self, identity: SlackIdentity, now: int) -> Binding | None:
        """Delete the binding and revoke its API token (atomic)."""
        ...

    # personal API tokens
    async def find_token_user(self, api_token_hash: str, now: int) -> User | None: ...

    # sessions of the web site
    async def create_session(
        self,
        token_hash: str,
        user_id: int,
        csrf_token: str,
        now: int,
        link_hash: str | None = None,
    ) -> None: ...
    async def get_session(self, token_hash: str) -> Session | None: ...
    async def touch_session(self, token_hash: str, now: int) -> None: ...
    async def delete_session(self, token_hash: str) -> None: ...

    # the internal application's to-do items
    async def list_todos(self, user_id: int) -> list[Todo]: ...
    async def add_todo(self, user_id: int, title: str, now: int) -> Todo: ...
    async def complete_todo(self, user_id: int, todo_id: int) -> Todo | None: ...

    # the audit log
    async def add_audit(self, record: AuditRecord) -> None: ...
    async def list_audit(self, where: AuditFilter) -> list[AuditRecord]:
        """Newest first."""
        ...

    # login attempts, for throttling
    async def reserve_login_attempt(
        self, limits: dict[str, int], now: int, since: int
    ) -> list[int] | None:
        """Count each key's failures since `since`; if any key is at its limit, return None.
        Otherwise record one failure per key, counted until cleared, and return their IDs
        (atomic, so concurrent attempts cannot all slip under a limit)."""
        ...

    async def forget_login_attempt(self, attempt_ids: list[int], clear_key: str) -> None:
        """A successful login: drop this attempt's records and every failure of `clear_key`."""
        ...

    async def count_login_failures(self, key: str, since: int) -> int: ...
    async def purge_login_failures(self, before: int) -> None: ...

    async def delete_sessions_of(self, user_id: int) -> None: ...
    async def purge_sessions(self, idle_before: int, created_before: int) -> None: ...

    async def close(self) -> None: ...
