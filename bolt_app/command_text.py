"""What a person typed after the slash command, parsed into a subcommand."""

from __future__ import annotations

from dataclasses import dataclass

MAX_TEXT_LENGTH = 4000  # Slack's own limit on a slash command's text


@dataclass(frozen=True)
class Help:
    unknown: str | None = None  # the word that was not understood, if any


@dataclass(frozen=True)
class Link:
    pass


@dataclass(frozen=True)
class Unlink:
    pass


@dataclass(frozen=True)
class WhoAmI:
    pass


@dataclass(frozen=True)
class ListTodos:
    pass


@dataclass(frozen=True)
class AddTodo:
    title: str


@dataclass(frozen=True)
class CompleteTodo:
    todo_id: int


Subcommand = Help | Link | Unlink | WhoAmI | ListTodos | AddTodo | CompleteTodo

#: Subcommands that act in the internal application, so need a binding.
ACTING = (WhoAmI, ListTodos, AddTodo, CompleteTodo)


def parse(text: str) -> Subcommand:
    words = text[:MAX_TEXT_LENGTH].split()
    if not words:
        return Help()
    verb, rest = words[0].lower(), words[1:]
    if verb == "help":
        return Help()
    if verb == "link" and not rest:
        return Link()
    if verb == "unlink" and not rest:
        return Unlink()
    if verb == "whoami" and not rest:
        return WhoAmI()
    if verb == "todo":
        if not rest or (rest[0].lower() == "list" and len(rest) == 1):
            return ListTodos()
        action = rest[0].lower()
        if action == "add" and len(rest) > 1:
            return AddTodo(" ".join(rest[1:]))
        if action == "done" and len(rest) == 2:
            number = rest[1].lstrip("#")
            if number.isascii() and number.isdigit() and len(number) <= 9:
                return CompleteTodo(int(number))
    return Help(unknown=" ".join(words)[:100])
