"""Who a Slack interaction or event comes from: the person, checked before anything uses it.

Slack documents the payloads: block_actions and shortcuts
(https://api.slack.com/reference/interaction-payloads) carry `user` (`id`, `username`,
`name`, `team_id`), `team` (`id`, `domain`; null for some org-wide installs), `enterprise`
(`id`, `name`; an object on Enterprise Grid, else null) and `api_app_id` (block_actions); an Events API
envelope (https://api.slack.com/apis/events-api#callback-field) carries `team_id`,
`enterprise_id`, `context_team_id` and `context_enterprise_id`, and its event names the user
(`app_home_opened`: `event.user`).

An interaction acts only for the Slack user the payload names in `user.id` (the person who
clicked or ran the shortcut), never for an ID carried in a button's value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from account_binding.models import SlackIdentity, SlackProfile
from account_binding.text import first_display_name

from .command_payload import slack_unescape

#: Slack IDs: an upper-case letter then upper-case letters and digits (T…, U…, W…, E…, A…).
_SLACK_ID = re.compile(r"[A-Z][A-Z0-9]{1,39}")


class MalformedInteraction(ValueError):
    """The payload lacks an ID the app needs or has one of the wrong shape; `fields` names
    them (for the log; their values are not repeated)."""

    def __init__(self, fields: list[str]) -> None:
        self.fields = fields
        super().__init__(f"missing or malformed: {', '.join(fields)}")


@dataclass(frozen=True)
class Interaction:
    """The person behind an interaction or event: their identity, and what a link shows of
    them until Slack is asked (`profile`)."""

    identity: SlackIdentity
    profile: SlackProfile
    #: The Enterprise Grid organisation's name as the payload gives it; None when it gives none.
    organisation_name: str | None = None

    @classmethod
    def from_interaction(cls, body: object) -> Interaction:
        """A block_actions or shortcut payload. Raises MalformedInteraction."""
        if not isinstance(body, dict):
            raise MalformedInteraction(["payload"])
        user, team, enterprise = (
            _object(body, "user"),
            _object(body, "team"),
            _object(body, "enterprise"),
        )
        wrong: list[str] = []
        user_id = _slack_id(user.get("id"), "user.id", wrong, required=True)
        team_id = _slack_id(user.get("team_id") or team.get("id"), "team.id", wrong, required=True)
        enterprise_id = _slack_id(enterprise.get("id"), "enterprise.id", wrong, required=False)
        app_id = _slack_id(body.get("api_app_id"), "api_app_id", wrong, required=False)
        if wrong:
            raise MalformedInteraction(wrong)
        assert user_id and team_id
        return cls(
            identity=SlackIdentity.from_ids(
                team_id=team_id, user_id=user_id, enterprise_id=enterprise_id
            ),
            profile=SlackProfile(
                user_name=first_display_name(
                    _unescaped(user.get("username")), _unescaped(user.get("name"))
                )
                or user_id,
                team_name=first_display_name(
                    _unescaped(enterprise.get("name")), _unescaped(team.get("domain"))
                )
                or team_id,
                app_id=app_id,
            ),
            organisation_name=first_display_name(_unescaped(enterprise.get("name")))
            if enterprise_id
            else None,
        )

    @classmethod
    def from_event(cls, body: object) -> Interaction:
        """An Events API payload whose event names its user in `event.user`. Raises
        MalformedInteraction."""
        if not isinstance(body, dict):
            raise MalformedInteraction(["payload"])
        event = _object(body, "event")
        wrong: list[str] = []
        user_id = _slack_id(event.get("user"), "event.user", wrong, required=True)
        team_id = _slack_id(
            body.get("context_team_id") or body.get("team_id"), "team_id", wrong, required=True
        )
        enterprise_id = _slack_id(
            body.get("context_enterprise_id") or body.get("enterprise_id"),
            "enterprise_id",
            wrong,
            required=False,
        )
        app_id = _slack_id(body.get("api_app_id"), "api_app_id", wrong, required=False)
        if wrong:
            raise MalformedInteraction(wrong)
        assert user_id and team_id
        return cls(
            identity=SlackIdentity.from_ids(
                team_id=team_id, user_id=user_id, enterprise_id=enterprise_id
            ),
            profile=SlackProfile(user_name=user_id, team_name=team_id, app_id=app_id),
        )


def _object(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    return value if isinstance(value, dict) else {}


def _slack_id(value: object, name: str, wrong: list[str], *, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            wrong.append(name)
        return None
    if not isinstance(value, str) or not _SLACK_ID.fullmatch(value):
        wrong.append(name)
        return None
    return value


def _unescaped(value: object) -> object:
    return slack_unescape(value) if isinstance(value, str) else value
