"""What a command plugin declares: its subcommands, their arguments, and their handlers.

A plugin is a `CommandPlugin` object, found through the entry-point group
`account_binding.commands` or named in COMMAND_PLUGINS as `module:object`. Each subcommand is
declared once; the one table built from every plugin parses what people type, dispatches it,
and writes `help`, so the help always says what runs.

    async def shifts(ctx: CommandContext, args: Arguments) -> Reply:
        body = await ctx.api.get("/api/shifts", params={"user": ctx.user.username})
        return reply(f"You have {len(body['shifts'])} shifts")

    plugin = CommandPlugin(
        name="oncall",
        subcommands=[Subcommand("oncall shifts", "lists your on-call shifts", shifts)],
    )
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..blocks import Reply
from .api import InternalApiClient

#: Parsed arguments, by `Argument.name`; an optional argument not typed is absent.
Arguments = Mapping[str, Any]

#: A subcommand's handler: the reply to show the person (ephemeral), or None when it has
#: already answered through `ctx.respond` or `ctx.send_dm`.
Handler = Callable[["CommandContext", Arguments], Awaitable[Reply | None]]

_WORD = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_ARGUMENT = re.compile(r"[a-z][a-z0-9_-]{0,31}")


@dataclass(frozen=True)
class Argument:
    """One argument of a subcommand, shown as `<name>` in its usage line (`[name]` when
    optional).

    `convert` turns the typed word into the value the handler gets; it raises ValueError for a
    word it does not accept, and the person then gets the usage line. `rest` takes every word
    left (joined by single spaces), so only the last argument may have it.
    """

    name: str
    convert: Callable[[str], Any] = str
    rest: bool = False
    optional: bool = False

    def __post_init__(self) -> None:
        if not _ARGUMENT.fullmatch(self.name):
            raise ValueError(f"argument name {self.name!r}: use a-z, 0-9, - and _")

    @property
    def usage(self) -> str:
        return f"[{self.name}]" if self.optional else f"<{self.name}>"


@dataclass(frozen=True)
class Subcommand:
    """A subcommand: `name` is the words typed after the slash command ("todo add"; lower
    case a-z, 0-9, - and _), `help` one line ("{app}" stands for INTERNAL_APP_NAME),
    `handler` what runs, after the acknowledgement and only for a bound person.
    `aliases` are other names that run it (not shown in help).

    `changes_data` says whether running it changes anything in the internal application
    (adds, edits, deletes, sends). When a person not yet connected runs a subcommand, it can
    run by itself once they connect (README "Resuming the first command"); the confirm page
    shows it with a box to tick, ticked only for a subcommand declared `changes_data=False`.
    The default is True, the safe side: a subcommand that does not say it only reads never
    runs unless the person ticks the box.

    Raises ValueError for a malformed declaration, when the plugin is loaded.
    """

    name: str
    help: str
    handler: Handler = field(repr=False)
    arguments: Sequence[Argument] = ()
    aliases: Sequence[str] = ()
    changes_data: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "arguments", tuple(self.arguments))
        object.__setattr__(self, "aliases", tuple(self.aliases))
        if not _is_async(self.handler):
            raise ValueError(
                f"subcommand {self.name!r}: the handler must be an async function "
                f"(async def), not {type(self.handler).__name__}"
            )
        for name in (self.name, *self.aliases):
            words = name.split(" ")
            if not all(_WORD.fullmatch(word) for word in words) or len(words) > 3:
                raise ValueError(
                    f"subcommand name {name!r}: one to three words of a-z, 0-9, - and _"
                )
        if not self.help.strip() or "\n" in self.help or len(self.help) > 150:
            raise ValueError(f"subcommand {self.name!r}: help must be one line of 1-150 chars")
        seen_optional = False
        for position, argument in enumerate(self.arguments):
            if argument.rest and position != len(self.arguments) - 1:
                raise ValueError(f"subcommand {self.name!r}: only the last argument takes the rest")
            if seen_optional and not argument.optional:
                raise ValueError(
                    f"subcommand {self.name!r}: a required argument cannot follow an optional one"
                )
            seen_optional = seen_optional or argument.optional
        if len({a.name for a in self.arguments}) != len(self.arguments):
            raise ValueError(f"subcommand {self.name!r}: two arguments share a name")
        if not isinstance(self.changes_data, bool):
            raise ValueError(f"subcommand {self.name!r}: changes_data must be True or False")

    @property
    def usage(self) -> str:
        """The usage line after the slash command, such as "todo add <title>"."""
        return " ".join([self.name, *(a.usage for a in self.arguments)])


@dataclass(frozen=True)
class CommandPlugin:
    """A set of subcommands shipped together. `name` is how COMMAND_PLUGINS and the log
    name it (its entry-point name, when it comes from one)."""

    name: str
    subcommands: Sequence[Subcommand]

    def __post_init__(self) -> None:
        object.__setattr__(self, "subcommands", tuple(self.subcommands))
        if not self.subcommands:
            raise ValueError(f"plugin {self.name!r} declares no subcommands")


@dataclass(frozen=True)
class InternalUser:
    """The bound account in the internal application: `id` its local ID, `username` the
    identifier that never changes (ACT_AS=service names it in the impersonation header)."""

    id: int
    username: str
    email: str


@dataclass(frozen=True)
class SlackUser:
    """Who ran the command in Slack: IDs as Slack sends them; `user_name` their handle."""

    user_id: str
    team_id: str
    enterprise_id: str | None
    user_name: str


class CommandContext:
    """What a handler gets besides its arguments.

    `user`: the bound internal account. `slack`: the Slack person. `api`: the internal
    application, called as that person. `app_name`: INTERNAL_APP_NAME. `command`: the slash
    command as typed ("/acme"). `respond(reply)` answers again later (through the command's
    response_url, ephemeral, at most 5 times within 30 minutes: Slack's limits);
    `send_dm(reply)` sends the person a DM from the app. Both return whether Slack took it.
    """

    def __init__(
        self,
        *,
        user: InternalUser,
        slack: SlackUser,
        api: InternalApiClient,
        app_name: str,
        command: str,
        respond: Callable[[Reply], Awaitable[bool]],
        send_dm: Callable[[Reply], Awaitable[bool]],
    ) -> None:
        self.user = user
        self.slack = slack
        self.api = api
        self.app_name = app_name
        self.command = command
        self._respond = respond
        self._send_dm = send_dm

    async def respond(self, reply: Reply) -> bool:
        return await self._respond(reply)

    async def send_dm(self, reply: Reply) -> bool:
        return await self._send_dm(reply)

    def __repr__(self) -> str:
        return f"CommandContext(user={self.user!r}, slack={self.slack!r}, command={self.command!r})"


def _is_async(handler: object) -> bool:
    """Whether calling `handler` gives an awaitable: an async function, a partial of one, or
    an object whose __call__ is one."""
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004 - the method itself is what counts
    )


def whole_number(low: int = 1, high: int = 2**63 - 1) -> Callable[[str], int]:
    """A converter for `Argument`: ASCII digits (an optional leading `#`, as in "#7") for a
    number from `low` to `high`; ValueError otherwise (never int() of a huge string)."""

    def convert(word: str) -> int:
        digits = word[1:] if word.startswith("#") else word
        if not (digits.isascii() and digits.isdigit()) or len(digits) > len(str(high)):
            raise ValueError(f"not a whole number: {word!r}")
        number = int(digits)
        if not low <= number <= high:
            raise ValueError(f"not between {low} and {high}: {number}")
        return number

    return convert
