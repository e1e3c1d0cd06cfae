"""A slash command's payload, checked field by field before anything uses it.

Slack documents the fields (https://api.slack.com/interactivity/slash-commands): `team_id`,
`user_id`, `command`, `text`, `response_url`, and on Enterprise Grid `enterprise_id` and
`enterprise_name`, all strings. Text a person typed arrives with `&`, `<` and `>` escaped as
`&amp;`, `&lt;` and `&gt;`; it is unescaped here, once, so the rest of the app sees what was
typed (and escapes it again when it writes mrkdwn).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from account_binding.models import SlackIdentity, SlackProfile
from account_binding.text import cleaned, first_display_name

#: Slack's own limit on a slash command's text, in characters.
MAX_TEXT_LENGTH = 4000

#: Slack IDs: an upper-case letter then upper-case letters and digits (T…, U…, W…, E…, A…).
_SLACK_ID = re.compile(r"[A-Z][A-Z0-9]{1,39}")
#: A command name: a slash, then up to 31 characters, none of them space or mrkdwn syntax.
_COMMAND = re.compile(r"/[^\s&<>`*_~|]{1,31}")


class MalformedCommand(ValueError):
    """The payload lacks a field the app needs or has one of the wrong shape.

    `str(error)` is for the person who ran the command; `fields` names the fields at fault
    (for the log; their values are not repeated).
    """

    def __init__(self, fields: list[str]) -> None:
        self.fields = fields
        super().__init__(
            "Slack sent this command in a form the app cannot read, so nothing was done. "
            "Try again; if it keeps happening, tell your Slack administrator."
        )


@dataclass(frozen=True)
class CommandRequest:
    """A slash command as the app uses it: who, from where, and what they typed."""

    identity: SlackIdentity
    command: str  # such as "/acme"
    text: str  # as typed: unescaped, at most MAX_TEXT_LENGTH characters
    profile: SlackProfile  # what the link shows of the person until Slack is asked

    @classmethod
    def from_payload(cls, payload: object) -> CommandRequest:
        """Raises MalformedCommand naming every field that is missing or of the wrong shape."""
        if not isinstance(payload, dict):
            raise MalformedCommand(["payload"])
        wrong: list[str] = []
        team_id = _slack_id(payload, "team_id", wrong, required=True)
        user_id = _slack_id(payload, "user_id", wrong, required=True)
        enterprise_id = _slack_id(payload, "enterprise_id", wrong, required=False)
        app_id = _slack_id(payload, "api_app_id", wrong, required=False)
        command = payload.get("command")
        if not isinstance(command, str) or not _COMMAND.fullmatch(command):
            wrong.append("command")
        text = payload.get("text", "")
        if text is None:
            text = ""
        if not isinstance(text, str):
            wrong.append("text")
        for name in ("user_name", "team_domain", "enterprise_name"):
            if payload.get(name) is not None and not isinstance(payload.get(name), str):
                wrong.append(name)
        if wrong:
            raise MalformedCommand(wrong)
        assert team_id and user_id and isinstance(command, str) and isinstance(text, str)
        # Names are shown on a page that escapes them: undoing an escape Slack may have made
        # is harmless, leaving one would show "&amp;".
        team_names = [payload.get("enterprise_name"), payload.get("team_domain")]
        return cls(
            identity=SlackIdentity.from_ids(
                team_id=team_id, user_id=user_id, enterprise_id=enterprise_id
            ),
            command=command,
            text=slack_unescape(cleaned(text, MAX_TEXT_LENGTH)),
            profile=SlackProfile(
                user_name=first_display_name(_unescaped(payload.get("user_name"))) or user_id,
                team_name=first_display_name(*map(_unescaped, team_names)) or team_id,
                app_id=app_id,
                command=command,
            ),
        )


def slack_unescape(text: str) -> str:
    """Undo Slack's escaping of typed text: `&lt;` and `&gt;` first, `&amp;` last, so that a
    typed "&lt;" (delivered as "&amp;lt;") stays "&lt;"."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _unescaped(value: object) -> object:
    return slack_unescape(value) if isinstance(value, str) else value


def _slack_id(
    payload: dict[str, Any], name: str, wrong: list[str], *, required: bool
) -> str | None:
    value = payload.get(name)
    if value is None or value == "":
        if required:
            wrong.append(name)
        return None
    if not isinstance(value, str) or not _SLACK_ID.fullmatch(value):
        wrong.append(name)
        return None
    return value
