"""People in the benchmark's database, made through the product's own services.

Bound people are made as binding makes them, minus the browser: an internal account
(`Store.create_user`, with one password hash computed once rather than an argon2 hash per
person), a link (`BindingService.issue_link`) and its confirmation
(`BindingService.confirm`), which issues and encrypts the personal API token under
SECRET_KEY. No row is written by hand.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from account_binding.audit import Actor, AuditLog
from account_binding.binding import BindingPolicy, BindingService
from account_binding.crypto import TokenCipher
from account_binding.models import SlackIdentity, SlackPerson, SlackProfile
from account_binding.passwords import hash_password
from account_binding.sqlite_store import SQLiteStore
from bench.stores import store_at

#: The password of every account the benchmark makes (the site's login uses it).
PASSWORD = "bench correct horse battery"  # noqa: S105 - the benchmark's own accounts
#: The client address the benchmark's actors are recorded with in the audit log.
CLIENT = "bench"


class NoDirectory:
    """A Slack directory that knows nobody: confirm() then keeps the name the link holds."""

    async def person(self, identity: SlackIdentity) -> SlackPerson | None:
        return None


@dataclass
class People:
    """Makes accounts and bindings in `store` (opened) for Slack workspace `team_id`."""

    store: SQLiteStore
    secret_key: str
    team_id: str
    team_name: str = "Sandbox"

    def __post_init__(self) -> None:
        self.audit = AuditLog(self.store)
        # Links per hour at its maximum: seeding issues one link per person, and growth
        # issues many for the same people.
        self.policy = BindingPolicy(links_per_hour=1000)
        self.bindings = BindingService(
            self.store, TokenCipher(self.secret_key), self.audit, NoDirectory(), self.policy
        )
        self._hash: str | None = None

    def identity(self, slack_user_id: str) -> SlackIdentity:
        return SlackIdentity.from_ids(
            team_id=self.team_id, user_id=slack_user_id, enterprise_id=None
        )

    def profile(self, slack_user_id: str) -> SlackProfile:
        return SlackProfile(user_name=slack_user_id.lower(), team_name=self.team_name)

    async def add_account(self, username: str) -> Actor:
        """An internal account named `username` with PASSWORD; the actor it binds as."""
        if self._hash is None:
            self._hash = hash_password(PASSWORD)
        user = await self.store.create_user(
            username, f"{username}@example.com", self._hash, int(time.time())
        )
        return Actor(user=user, client=CLIENT)

    async def issue_link(self, slack_user_id: str) -> str:
        """A pending link for the Slack person; its nonce."""
        issued = await self.bindings.issue_link(
            self.identity(slack_user_id), self.profile(slack_user_id)
        )
        return issued.nonce

    async def bind(self, username: str, slack_user_id: str) -> None:
        """A new account `username` bound to the Slack person, through a link."""
        actor = await self.add_account(username)
        assert actor.user is not None
        nonce = await self.issue_link(slack_user_id)
        await self.bindings.confirm(nonce, actor.user, actor)


async def bind_people(
    database: Path, secret_key: str, team_id: str, slack_user_ids: list[str]
) -> None:
    """Bind each Slack person to a new account of their own (`person-<user ID>`)."""
    store = store_at(database)
    try:
        await store.open()
        people = People(store, secret_key, team_id)
        for slack_user_id in slack_user_ids:
            await people.bind(f"person-{slack_user_id.lower()}", slack_user_id)
    finally:
        await store.close()
