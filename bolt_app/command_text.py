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


@dataclass(frozen=True)
class Usage:
    """A known subcommand typed the wrong way: answer with its own usage line."""

    form: str  # a key of FORMS, such as "todo done"


Subcommand = Help | Link | Unlink | WhoAmI | ListTodos | AddTodo | CompleteTodo | Usage

#: Subcommands that act in the internal application, so need a binding.
ACTING = (WhoAmI, ListTodos, AddTodo, CompleteTodo)

#: Every subcommand as typed after the command, with what it does ("{app}": the internal
#: application's name). The help lists them; a wrong use of one gets its own line.
FORMS: dict[str, tuple[str, str]] = {
    "whoami": ("whoami", "shows your {app} account"),
    "todo": ("todo", "lists your to-do items"),
    "todo add": ("todo add <title>", "adds one"),
    "todo done": ("todo done <number>", "completes the one with that number, as `todo` lists it"),
    "link": ("link", "connects your Slack account to {app}"),
    "unlink": ("unlink", "disconnects it"),
    "help": ("help", "shows this help"),
}

#: The largest to-do number: a SQLite integer (signed 64-bit).
MAX_TODO_NUMBER = 2**63 - 1


def parse(text: str) -> Subcommand:
    """`text` as typed (already unescaped) after the slash command."""
    words = text[:MAX_TEXT_LENGTH].split()
    if not words:
        return Help()
    verb, rest = words[0].lower(), words[1:]
    if verb == "help":
        return Help()
    if verb in ("link", "unlink", "whoami"):
        if rest:
            return Usage(verb)
        return Link() if verb == "link" else Unlink() if verb == "unlink" else WhoAmI()
    if verb == "todo":
        if not rest or (rest[0].lower() == "list" and len(rest) == 1):
            return ListTodos()
        action = rest[0].lower()
        if action == "add":
            return AddTodo(" ".join(rest[1:])) if len(rest) > 1 else Usage("todo add")
        if action == "done":
            number = _todo_number(rest[1]) if len(rest) == 2 else None
            return CompleteTodo(number) if number is not None else Usage("todo done")
        return Usage("todo")
    return Help(unknown=" ".join(words)[:100])


def _todo_number(word: str) -> int | None:
    """A to-do number typed as `7` or `#7`: ASCII digits, 1 to MAX_TODO_NUMBER; else None."""
    digits = word[1:] if word.startswith("#") else word
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19:
        return None
    number = int(digits)
    return number if 1 <= number <= MAX_TODO_NUMBER else None
