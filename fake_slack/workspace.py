"""The people and places of a fake Slack workspace.

A workspace may sit in an Enterprise Grid organisation (`enterprise_id`); its people then
carry Slack's `enterprise_user` object, and may have Grid's `W…` IDs, which stay the same in
every workspace of the organisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FakeUser:
    id: str
    name: str
    real_name: str
    email: str
    display_name: str = ""
    is_bot: bool = False
    #: The profile picture's address; Slack serves its own from *.slack-edge.com.
    image_72: str = ""
    #: Deactivated: Slack keeps the user and answers `users.info` with `deleted: true`.
    deleted: bool = False
    is_admin: bool = False
    is_owner: bool = False
    #: On Enterprise Grid, the organisation's other workspaces this person is in (besides
    #: the fake's own workspace).
    other_teams: tuple[str, ...] = ()

    def as_api_object(
        self, team_id: str, enterprise_id: str | None, enterprise_name: str | None = None
    ) -> dict[str, object]:
        """The user object of `users.info` and of the `user_change` event, with the fields
        Slack documents (https://docs.slack.dev/reference/objects/user-object); on Enterprise
        Grid with `enterprise_user` {id, enterprise_id, enterprise_name, is_admin, is_owner,
        is_primary_owner, teams}."""
        profile: dict[str, object] = {
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": self.display_name,
            "display_name_normalized": self.display_name,
            "email": self.email,
            "image_72": self.image_72,
            "team": team_id,
        }
        user: dict[str, object] = {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name,
            "tz": "Europe/London",
            "is_admin": self.is_admin,
            "is_owner": self.is_owner,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": 1_700_000_000,
            "profile": profile,
        }
        if enterprise_id:
            user["enterprise_user"] = {
                "id": self.id,
                "enterprise_id": enterprise_id,
                "enterprise_name": enterprise_name or enterprise_id,
                "is_admin": self.is_admin,
                "is_owner": self.is_owner,
                "is_primary_owner": False,
                "teams": [team_id, *self.other_teams],
            }
        return user


@dataclass(frozen=True)
class FakeWorkspace:
    team_id: str = "T0SANDBOX"
    team_name: str = "Sandbox"
    team_domain: str = "sandbox"
    enterprise_id: str | None = None
    enterprise_name: str | None = None
    #: An org-wide install on Enterprise Grid (needs `enterprise_id`), not a workspace one.
    is_enterprise_install: bool = False
    app_id: str = "A0SANDBOX"
    bot_user_id: str = "U0BOT"
    bot_id: str = "B0BOT"
    channel_id: str = "C0GENERAL"
    channel_name: str = "general"
    command: str = "/acme"
    users: tuple[FakeUser, ...] = field(
        default=(
            FakeUser("U0ADA", "ada", "Ada Lovelace", "ada@example.com", "Ada"),
            FakeUser("U0GRACE", "grace", "Grace Hopper", "grace@example.com", "Grace"),
            FakeUser("U0ALAN", "alan", "Alan Turing", "alan@example.com", ""),
        )
    )

    def user(self, user_id: str) -> FakeUser | None:
        return next((user for user in self.users if user.id == user_id), None)

    def dm_channel(self, user_id: str) -> str:
        """The ID of the app's DM with `user_id` (the fake's convention: D + the ID's tail)."""
        return "D" + user_id[1:]

    def dm_partner(self, channel_id: str) -> FakeUser | None:
        """The person whose DM with the app `channel_id` is, if it is one."""
        if not channel_id.startswith("D"):
            return None
        return next((u for u in self.users if self.dm_channel(u.id) == channel_id), None)


# Issue 11, durability: a workspace as large as a load test needs


def crowd(count: int, prefix: str = "U0P") -> tuple[FakeUser, ...]:
    """`count` ordinary people, IDs `prefix` + a zero-padded number (U0P0000, U0P0001, …),
    each with a name, a real name and an address of their own: add them to a workspace's
    `users` (FakeWorkspace(users=FakeWorkspace().users + crowd(1000)))."""
    width = len(str(max(count - 1, 0)))
    return tuple(
        FakeUser(
            f"{prefix}{n:0{width}d}",
            f"person{n}",
            f"Person {n}",
            f"person{n}@example.com",
            f"Person {n}",
        )
        for n in range(count)
    )
