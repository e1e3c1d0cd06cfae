"""The one table of subcommands: it parses what people type, says what to run, and writes
the help, so the help cannot drift from what runs."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .interface import CommandPlugin, Subcommand

log = logging.getLogger(__name__)

#: Slack's own limit on a slash command's text, in characters.
MAX_TEXT_LENGTH = 4000
#: The product's own subcommands' owner, as clashes name it.
CORE = "the product's own commands"


class CommandClash(Exception):
    """Two plugins (or a plugin and the product) declare one subcommand name. `str(error)` is
    one line naming both."""


@dataclass(frozen=True)
class Invocation:
    """A subcommand typed the right way: `arguments` by name, converted."""

    subcommand: Subcommand
    arguments: dict[str, Any]


@dataclass(frozen=True)
class BadArguments:
    """A known subcommand typed the wrong way: answer with its usage line, and `reason` when
    an argument's converter said what was wrong ("sides: not between 2 and 100: 1")."""

    subcommand: Subcommand
    reason: str | None = None


@dataclass(frozen=True)
class Unknown:
    """Nothing typed (`words` empty), or words no subcommand starts with (cut to 100
    characters): answer with the help."""

    words: str


Parsed = Invocation | BadArguments | Unknown


@dataclass(frozen=True)
class Entry:
    subcommand: Subcommand
    owner: str  # the plugin's name, or CORE
    plugin: CommandPlugin | None = None  # None for the product's own subcommands
    built_in: bool = False  # a plugin the product adds itself (the stand-in's)


class CommandTable:
    """Every subcommand the slash command runs: the product's own (`core`: listed first and
    last in the help as `first` and `last`) and each plugin's.

    Raises CommandClash when two declare the same name or alias.
    """

    def __init__(
        self,
        plugins: Sequence[CommandPlugin] = (),
        *,
        first: Sequence[Subcommand] = (),
        last: Sequence[Subcommand] = (),
        built_in: Sequence[CommandPlugin] = (),
    ) -> None:
        entries = [Entry(s, CORE) for s in first]
        entries += [
            Entry(s, plugin.name, plugin, built_in=True)
            for plugin in built_in
            for s in plugin.subcommands
        ]
        entries += [Entry(s, plugin.name, plugin) for plugin in plugins for s in plugin.subcommands]
        entries += [Entry(s, CORE) for s in last]
        self.entries: tuple[Entry, ...] = tuple(entries)
        self._by_name: dict[str, Entry] = {}
        for entry in entries:
            for name in (entry.subcommand.name, *entry.subcommand.aliases):
                taken = self._by_name.get(name)
                if taken is not None:
                    raise CommandClash(_clash(name, taken, entry))
                self._by_name[name] = entry
        self._longest = max((len(name.split(" ")) for name in self._by_name), default=1)

    @property
    def subcommands(self) -> list[Subcommand]:
        """In the help's order."""
        return [entry.subcommand for entry in self.entries]

    def owner_of(self, subcommand: Subcommand) -> str:
        return next(e.owner for e in self.entries if e.subcommand is subcommand)

    def parse(self, text: str) -> Parsed:
        """`text` as typed after the slash command (Slack's escaping already undone). The
        subcommand is the longest declared name its first words spell (case aside); the
        words after it are its arguments (case kept)."""
        words = text[:MAX_TEXT_LENGTH].split()
        for size in range(min(self._longest, len(words)), 0, -1):
            entry = self._by_name.get(" ".join(words[:size]).lower())
            if entry is not None:
                return _bind(entry.subcommand, words[size:])
        return Unknown(" ".join(words)[:100])


def _bind(subcommand: Subcommand, words: list[str]) -> Invocation | BadArguments:
    arguments: dict[str, Any] = {}
    rest = list(words)
    for argument in subcommand.arguments:
        if not rest:
            if argument.optional:
                break
            return BadArguments(subcommand)
        typed = " ".join(rest) if argument.rest else rest[0]
        rest = [] if argument.rest else rest[1:]
        try:
            arguments[argument.name] = argument.convert(typed)
        except ValueError as error:
            said = " ".join(str(error).split())[:200]
            return BadArguments(subcommand, f"{argument.name}: {said}" if said else None)
        except Exception:  # a converter's own fault: the person still gets the usage line
            log.exception(
                "The converter of argument %r of %r failed", argument.name, subcommand.name
            )
            return BadArguments(subcommand)
    if rest:
        return BadArguments(subcommand)
    return Invocation(subcommand, arguments)


def _clash(name: str, first: Entry, second: Entry) -> str:
    if first.plugin is not None and first.plugin is second.plugin:
        return f"Plugin {first.owner!r} declares the subcommand {name!r} twice: fix the plugin"
    if CORE in (first.owner, second.owner):
        plugin = second.owner if first.owner == CORE else first.owner
        return (
            f"Plugin {plugin!r} declares the subcommand {name!r}, which is one of the "
            f"product's own: rename it in the plugin"
        )
    if first.built_in or second.built_in:
        stand_in, yours = (first, second) if first.built_in else (second, first)
        return (
            f"Plugin {yours.owner!r} declares the subcommand {name!r}, which the stand-in's "
            f"plugin {stand_in.owner!r} has while INTERNAL_API_URL is unset: rename it in "
            f"your plugin, or set INTERNAL_API_URL to your application"
        )
    return (
        f"Plugins {first.owner!r} and {second.owner!r} both declare the subcommand {name!r}: "
        f"load only one of them (COMMAND_PLUGINS)"
    )
