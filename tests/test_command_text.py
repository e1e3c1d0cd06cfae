from __future__ import annotations

import pytest

from bolt_app.command_payload import slack_unescape
from bolt_app.command_text import (
    MAX_TODO_NUMBER,
    AddTodo,
    CompleteTodo,
    Help,
    Link,
    ListTodos,
    Unlink,
    Usage,
    WhoAmI,
    parse,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Help()),
        ("   ", Help()),
        ("help", Help()),
        ("HELP", Help()),
        ("link", Link()),
        ("unlink", Unlink()),
        ("whoami", WhoAmI()),
        ("todo", ListTodos()),
        ("todo list", ListTodos()),
        ("todo add  Buy   milk ", AddTodo("Buy milk")),
        ("todo add Fish & chips <today>", AddTodo("Fish & chips <today>")),
        ("todo done 7", CompleteTodo(7)),
        ("todo done #7", CompleteTodo(7)),
        (f"todo done {MAX_TODO_NUMBER}", CompleteTodo(MAX_TODO_NUMBER)),
        ("dance", Help(unknown="dance")),
    ],
)
def test_parse(text: str, expected: object) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("todo done seven", "todo done"),
        ("todo done ٣", "todo done"),  # a non-ASCII digit is not a number here
        ("todo done 99999999999999999999", "todo done"),  # more than SQLite's integers hold
        (f"todo done {MAX_TODO_NUMBER + 1}", "todo done"),
        ("todo done " + "9" * 5000, "todo done"),  # more digits than int() takes
        ("todo done 0", "todo done"),
        ("todo done -3", "todo done"),
        ("todo done 1e9", "todo done"),
        ("todo done", "todo done"),
        ("todo done 1 2", "todo done"),
        ("todo add", "todo add"),
        ("todo frobnicate", "todo"),
        ("todo list all", "todo"),
        ("link now", "link"),
        ("unlink me", "unlink"),
        ("whoami really", "whoami"),
    ],
)
def test_a_known_subcommand_typed_wrong_gets_its_usage_not_the_help(text: str, form: str) -> None:
    assert parse(text) == Usage(form)


def test_an_unknown_word_is_cut_short() -> None:
    result = parse("x" * 10_000)
    assert isinstance(result, Help) and result.unknown is not None and len(result.unknown) == 100


@pytest.mark.parametrize(
    ("delivered", "typed"),
    [
        ("Fish &amp; chips &lt;today&gt;", "Fish & chips <today>"),
        ("&amp;lt;", "&lt;"),  # a typed entity stays as typed: &amp; is undone last
        ("&amp;amp;", "&amp;"),
        ("&quot;quoted&quot; &#39;", "&quot;quoted&quot; &#39;"),  # Slack escapes only three
        ("<@U0ADA|ada>", "<@U0ADA|ada>"),
    ],
)
def test_slack_escaping_is_undone_once(delivered: str, typed: str) -> None:
    assert slack_unescape(delivered) == typed
