"""Resume: the command that started binding runs by itself once the binding is made.

A person not yet connected runs a command (`/acme todo add Buy milk`) and is answered with a
link. The link remembers the command's text and its `response_url` (`PendingCommand`). The
confirm page shows the command with a box to tick (ticked only for a command that declares
it changes no data); when the box is ticked at Connect, the binding, once made, hands the
command to the `Resumer` (`ResumedCommand`), which runs it as the newly bound person and
answers through the response_url while Slack still takes posts there, else by DM.

The link's command is taken once, and only from a link consumed by binding its own Slack
identity: a replayed Connect finds the link used, and the command already taken. No Slack
and no HTTP here: the Slack side implements `Resumer` (bolt_app.resume).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .models import Binding, SlackIdentity, User

#: How long Slack takes posts to a slash command's response_url, in seconds ("up to 5 times
#: within 30 minutes": https://api.slack.com/interactivity/handling#message_responses).
RESPONSE_URL_LIFETIME_SECONDS = 30 * 60

#: The longest command text (after the slash command) that is kept to resume, in
#: characters. A longer one is not resumed, so the confirm page always shows the whole
#: command that would run.
MAX_RESUME_TEXT = 300


@dataclass(frozen=True)
class PendingCommand:
    """The command a link was issued for: `text` as typed after the slash command (Slack's
    escaping undone), `response_url` the command's (a secret: it posts as the app into the
    person's conversation), None when Slack sent none."""

    text: str
    response_url: str | None = field(repr=False, default=None)

    @classmethod
    def of(cls, text: str, response_url: str | None) -> PendingCommand | None:
        """The command to keep with a link, or None when there is nothing worth resuming:
        empty text, or text longer than MAX_RESUME_TEXT."""
        text = text.strip()
        if not text or len(text) > MAX_RESUME_TEXT:
            return None
        return cls(text=text, response_url=response_url or None)


@dataclass(frozen=True)
class ResumedCommand:
    """A command to run now for the person a link was just bound for.

    `identity` is the link's Slack identity (the binding's), `user` the internal account it
    is now bound to, `command` the slash command ("/acme"), `text` what followed it,
    `issued_at` when the command arrived (Unix seconds: the link's issue time), from which
    the response_url's lifetime counts.
    """

    binding: Binding
    user: User
    command: str
    text: str
    response_url: str | None = field(repr=False)
    issued_at: int

    @property
    def identity(self) -> SlackIdentity:
        return self.binding.identity

    def response_url_usable(self, now: int) -> bool:
        """Whether Slack still takes posts to the response_url at `now` (Unix seconds)."""
        return (
            self.response_url is not None and now - self.issued_at < RESPONSE_URL_LIFETIME_SECONDS
        )


class Resumer(Protocol):
    """Runs a link's command once its binding is made (the Slack side implements it)."""

    def changes_data(self, text: str) -> bool:
        """Whether the command `text` (as typed after the slash command) may change data:
        False only for a subcommand that declares `changes_data=False`; True for every
        other, and for text that names no subcommand now. The confirm page ticks the box
        only when False."""
        ...

    async def resume(self, command: ResumedCommand) -> None:
        """Run `command` as its bound person and deliver the answer (response_url while
        usable, else DM), saying it is the command they ran before connecting. Never
        raises: a failure is told to the person and logged. Bounded by COMMAND_TIMEOUT and
        the DM deadline."""
        ...
