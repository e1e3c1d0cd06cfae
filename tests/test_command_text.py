from __future__ import annotations

import pytest

from bolt_app.command_text import (
    AddTodo,
    CompleteTodo,
    Help,
    Link,
    ListTodos,
    Unlink,
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
        ("todo done 7", CompleteTodo(7)),
        ("todo done #7", CompleteTodo(7)),
        ("todo done seven", Help(unknown="todo done seven")),
        ("todo done ٣", Help(unknown="todo done ٣")),  # a non-ASCII digit is not a number here
        ("todo done 99999999999", Help(unknown="todo done 99999999999")),
        ("todo add", Help(unknown="todo add")),
        ("link now", Help(unknown="link now")),
        ("dance", Help(unknown="dance")),
    ],
)
def test_parse(text: str, expected: object) -> None:
    assert parse(text) == expected


def test_an_unknown_word_is_cut_short() -> None:
    result = parse("x" * 10_000)
    assert isinstance(result, Help) and result.unknown is not None and len(result.unknown) == 100
