"""The one table of subcommands: parsing, usage lines, clashes, and declarations refused."""

from __future__ import annotations

from typing import Any

import pytest

from bolt_app.command_payload import slack_unescape
from bolt_app.commands import (
    Argument,
    Arguments,
    CommandContext,
    CommandPlugin,
    Subcommand,
    core,
    whole_number,
)
from bolt_app.commands.table import BadArguments, CommandClash, CommandTable, Invocation, Unknown
from stand_in.commands import plugin as todo_plugin

MAX_NUMBER = 2**63 - 1
TABLE = CommandTable([todo_plugin], first=core.FIRST, last=core.LAST)


async def _noop(ctx: CommandContext, args: Arguments) -> None:
    return None


def parsed(text: str) -> tuple[str, dict[str, Any]]:
    result = TABLE.parse(text)
    assert isinstance(result, Invocation), result
    return result.subcommand.name, result.arguments


@pytest.mark.parametrize(
    ("text", "name", "arguments"),
    [
        ("help", "help", {}),
        ("HELP", "help", {}),
        ("link", "link", {}),
        ("unlink", "unlink", {}),
        ("whoami", "whoami", {}),
        ("todo", "todo", {}),
        ("todo list", "todo", {}),  # an alias
        ("Todo LIST", "todo", {}),
        ("todo add  Buy   milk ", "todo add", {"title": "Buy milk"}),
        ("todo add Fish & chips <today>", "todo add", {"title": "Fish & chips <today>"}),
        ("todo done 7", "todo done", {"number": 7}),
        ("todo done #7", "todo done", {"number": 7}),
        (f"todo done {MAX_NUMBER}", "todo done", {"number": MAX_NUMBER}),
    ],
)
def test_parse(text: str, name: str, arguments: dict[str, Any]) -> None:
    assert parsed(text) == (name, arguments)


@pytest.mark.parametrize("text", ["", "   ", "dance", "todoadd x"])
def test_nothing_or_an_unknown_word_is_answered_with_the_help(text: str) -> None:
    assert TABLE.parse(text) == Unknown(" ".join(text.split()))


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("todo done seven", "todo done"),
        ("todo done ٣", "todo done"),  # a non-ASCII digit is not a number here
        ("todo done 99999999999999999999", "todo done"),  # more than SQLite's integers hold
        (f"todo done {MAX_NUMBER + 1}", "todo done"),
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
def test_a_known_subcommand_typed_wrong_gets_its_usage_not_the_help(text: str, name: str) -> None:
    result = TABLE.parse(text)
    assert isinstance(result, BadArguments) and result.subcommand.name == name


def test_an_unknown_word_is_cut_short() -> None:
    result = TABLE.parse("x" * 10_000)
    assert isinstance(result, Unknown) and len(result.words) == 100


def test_the_help_lists_every_subcommand_of_the_table_in_order() -> None:
    assert [s.usage for s in TABLE.subcommands] == [
        "whoami",
        "todo",
        "todo add <title>",
        "todo done <number>",
        "link",
        "unlink",
        "help",
    ]


def test_the_longest_declared_name_wins_and_optional_arguments_may_be_left_out() -> None:
    table = CommandTable(
        [
            CommandPlugin(
                "deploy",
                [
                    Subcommand("deploy", "deploys", _noop, [Argument("service")]),
                    Subcommand(
                        "deploy status",
                        "says how it went",
                        _noop,
                        [Argument("service"), Argument("since", whole_number(), optional=True)],
                    ),
                ],
            )
        ]
    )
    status = table.parse("deploy status web")
    assert isinstance(status, Invocation) and status.subcommand.name == "deploy status"
    assert status.arguments == {"service": "web"}
    since = table.parse("deploy status web 3")
    assert isinstance(since, Invocation) and since.arguments == {"service": "web", "since": 3}
    plain = table.parse("deploy web")
    assert isinstance(plain, Invocation) and plain.subcommand.name == "deploy"


def test_a_converter_that_fails_gives_the_usage_line() -> None:
    def broken(word: str) -> int:
        raise KeyError(word)

    table = CommandTable(
        [CommandPlugin("p", [Subcommand("x", "x", _noop, [Argument("n", broken)])])]
    )
    assert isinstance(table.parse("x 1"), BadArguments)


def test_two_plugins_claiming_one_name_are_refused_in_one_line_naming_both() -> None:
    one = CommandPlugin("oncall", [Subcommand("page", "pages", _noop)])
    two = CommandPlugin("pager", [Subcommand("status", "s", _noop, aliases=["page"])])
    with pytest.raises(CommandClash) as raised:
        CommandTable([one, two], first=core.FIRST, last=core.LAST)
    message = str(raised.value)
    assert "'oncall'" in message and "'pager'" in message and "'page'" in message
    assert "\n" not in message


def test_a_plugin_claiming_a_core_name_is_refused() -> None:
    plugin = CommandPlugin("mine", [Subcommand("link", "links", _noop)])
    with pytest.raises(CommandClash, match="'mine' declares the subcommand 'link'"):
        CommandTable([plugin], first=core.FIRST, last=core.LAST)


def test_a_plugin_declaring_a_name_twice_is_refused() -> None:
    plugin = CommandPlugin("mine", [Subcommand("a", "a", _noop), Subcommand("a", "b", _noop)])
    with pytest.raises(CommandClash, match="'mine' declares the subcommand 'a' twice"):
        CommandTable([plugin])


@pytest.mark.parametrize(
    "declare",
    [
        lambda: Subcommand("Todo", "x", _noop),
        lambda: Subcommand("", "x", _noop),
        lambda: Subcommand("a b c d", "x", _noop),
        lambda: Subcommand("todo", "", _noop),
        lambda: Subcommand("todo", "two\nlines", _noop),
        lambda: Subcommand("x", "x", _noop, [Argument("a", rest=True), Argument("b")]),
        lambda: Subcommand("x", "x", _noop, [Argument("a", optional=True), Argument("b")]),
        lambda: Subcommand("x", "x", _noop, [Argument("a"), Argument("a")]),
        lambda: Argument("Has Space"),
        lambda: CommandPlugin("empty", []),
        lambda: Subcommand("sync", "not async", lambda ctx, args: None),
    ],
)
def test_a_malformed_declaration_is_refused_when_loaded(declare: Any) -> None:
    with pytest.raises(ValueError):
        declare()


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


def test_a_plugin_claiming_a_name_of_the_stand_ins_plugin_is_told_how_to_resolve_it() -> None:
    mine = CommandPlugin("todo", [Subcommand("todo", "mine", _noop)])
    with pytest.raises(CommandClash) as raised:
        CommandTable([mine], first=core.FIRST, last=core.LAST, built_in=[todo_plugin])
    assert str(raised.value) == (
        "Plugin 'todo' declares the subcommand 'todo', which the stand-in's plugin 'todo' has "
        "while INTERNAL_API_URL is unset: rename it in your plugin, or set INTERNAL_API_URL to "
        "your application"
    )


def test_a_converters_reason_comes_with_the_bad_arguments() -> None:
    result = TABLE.parse("todo done 0")
    assert isinstance(result, BadArguments)
    assert result.reason == "number: not between 1 and 9223372036854775807: 0"


def test_an_object_with_an_async_call_is_a_handler() -> None:
    class Handler:
        async def __call__(self, ctx: CommandContext, args: Arguments) -> None:
            return None

    assert Subcommand("x", "x", Handler()).name == "x"
