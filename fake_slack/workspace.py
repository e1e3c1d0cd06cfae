"""The people and places of a fake Slack workspace."""

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

    def as_api_object(self, team_id: str, enterprise_id: str | None) -> dict[str, object]:
        """The user object of `users.info`, with the fields Slack documents."""
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
            "deleted": False,
            "real_name": self.real_name,
            "tz": "Europe/London",
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": 1_700_000_000,
            "profile": profile,
        }
        if enterprise_id:
            user["enterprise_user"] = {
                "id": self.id,
                "enterprise_id": enterprise_id,
                "teams": [team_id],
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
