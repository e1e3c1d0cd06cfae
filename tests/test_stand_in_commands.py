"""The stand-in's to-do subcommands (stand_in.commands), as the command table parses them,
with handlers calling the real stand-in over real HTTP in each acting mode."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import RunningApp, run_app
from test_stand_in_api import SERVICE

from bolt_app.commands import (
    ApiRefused,
    ApiUnavailable,
    CommandContext,
    CredentialRejected,
    InternalUser,
    Json,
    Reply,
    SlackUser,
    UnreadableAnswer,
)
from bolt_app.commands.table import BadArguments, CommandTable, Invocation
from stand_in import commands
from stand_in.commands import TodoItem, plugin

HOSTILE = "<!channel> <https://evil.example|click> & co"
ESCAPED = "&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; co"

TABLE = CommandTable([plugin])


class HttpApi:
    """An `InternalApiClient` over httpx, as the Slack side's would be: the credential of the
    acting mode on every call, answers mapped to the interface's errors."""

    def __init__(self, base_url: str, headers: Mapping[str, str]) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, headers=dict(headers), trust_env=False)

    async def close(self) -> None:
        await self._client.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Json:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError:
            raise ApiUnavailable("Acme did not answer.") from None
        if response.status_code == 401:
            raise CredentialRejected("Acme no longer accepts this connection.")
        if response.status_code >= 500:
            raise ApiUnavailable("Acme did not answer.")
        try:
            body = response.json()
        except ValueError:
            raise UnreadableAnswer("Acme gave an answer that could not be read.") from None
        if response.status_code >= 400:
            message = str(body.get("error")) if isinstance(body, dict) else "?"
            raise ApiRefused(f"Acme refused: {message}", response.status_code, message)
        return body

    async def get(self, path: str, *, params: Mapping[str, str] | None = None) -> Json:
        return await self._call("GET", path, params=params)

    async def post(self, path: str, *, json: Json = None) -> Json:
        return await self._call("POST", path, json=json)

    async def put(self, path: str, *, json: Json = None) -> Json:
        return await self._call("PUT", path, json=json)

    async def patch(self, path: str, *, json: Json = None) -> Json:
        return await self._call("PATCH", path, json=json)

    async def delete(self, path: str) -> Json:
        return await self._call("DELETE", path)


class CannedApi:
    """The internal application as a company's might answer: `answer` to every call."""

    def __init__(self, answer: Json) -> None:
        self.answer = answer

    async def get(self, path: str, *, params: Mapping[str, str] | None = None) -> Json:
        return self.answer

    async def post(self, path: str, *, json: Json = None) -> Json:
        return self.answer

    async def put(self, path: str, *, json: Json = None) -> Json:
        return self.answer

    async def patch(self, path: str, *, json: Json = None) -> Json:
        return self.answer

    async def delete(self, path: str) -> Json:
        return self.answer


def context_for(api: Any, username: str = "ada") -> CommandContext:
    async def nowhere(reply: Reply) -> bool:
        return False

    return CommandContext(
        user=InternalUser(id=1, username=username, email=f"{username}@example.com"),
        slack=SlackUser(user_id="U0ADA", team_id="T0ACME", enterprise_id=None, user_name=username),
        api=api,
        app_name="Acme",
        command="/acme",
        respond=nowhere,
        send_dm=nowhere,
    )


async def run(ctx: CommandContext, text: str) -> Reply | None:
    """`/acme <text>` as the command table parses it, run by its handler."""
    parsed = TABLE.parse(text)
    assert isinstance(parsed, Invocation), (text, parsed)
    return await parsed.subcommand.handler(ctx, parsed.arguments)


@pytest.fixture
async def as_ada(running_app: RunningApp) -> AsyncIterator[CommandContext]:
    """Ada's context, her api the stand-in reached with her personal token."""
    token = await running_app.bind("ada", "U0ADA")
    api = HttpApi(running_app.base_url, {"Authorization": f"Bearer {token}"})
    try:
        yield context_for(api)
    finally:
        await api.close()


async def test_todo_lists_adds_and_completes_through_the_stand_in(
    as_ada: CommandContext,
) -> None:
    empty = await run(as_ada, "todo")
    assert empty is not None
    assert empty.text == (
        "You have no to-do items in Acme. Add one with /acme todo add &lt;title&gt;."
    )
    added = await run(as_ada, "todo add Water   the plants")
    assert added is not None and added.text == "Added #1: Water the plants"
    await run(as_ada, f"todo add {HOSTILE}")
    done = await run(as_ada, "todo done #1")
    assert done is not None and done.text == "Completed #1: Water the plants"
    listed = await run(as_ada, "TODO list")
    assert listed is not None
    assert listed.text == "Your to-do items in Acme: 1 open, 1 done"
    assert listed.blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Your to-do items (1 open, 1 done)"},
    }
    lines = listed.blocks[1]["text"]["text"]
    assert lines == f"☐ *#2* {ESCAPED}\n☑ ~#1 Water the plants~"
    assert "`/acme todo done &lt;number&gt;`" in listed.blocks[2]["elements"][0]["text"]


async def test_a_number_the_person_has_no_item_for_is_the_apis_refusal(
    as_ada: CommandContext,
) -> None:
    for number in ("7", str(2**40), str(2**63 - 1)):
        with pytest.raises(ApiRefused) as refused:
            await run(as_ada, f"todo done {number}")
        assert refused.value.status == 404
        assert refused.value.message.startswith("You have no")


async def test_the_to_do_commands_act_through_the_service_credential(tmp_path: Path) -> None:
    async with run_app(tmp_path, INTERNAL_API_TOKEN=SERVICE) as app:
        await app.add_user("ada")
        await app.add_user("grace")
        apis = {
            name: HttpApi(
                app.base_url, {"Authorization": f"Bearer {SERVICE}", "Impersonate-User": name}
            )
            for name in ("ada", "grace")
        }
        try:
            ada, grace = context_for(apis["ada"]), context_for(apis["grace"], "grace")
            added = await run(ada, "todo add Ship it")
            assert added is not None and added.text == "Added #1: Ship it"
            listed = await run(grace, "todo")
            assert listed is not None and listed.text.startswith("You have no to-do items")
            with pytest.raises(ApiRefused):
                await run(grace, "todo done 1")
            done = await run(ada, "todo done 1")
            assert done is not None and done.text == "Completed #1: Ship it"
        finally:
            for api in apis.values():
                await api.close()
        assert app.query("SELECT user_id, done FROM todos") == [(app.users["ada"].id, 1)]


def test_the_subcommands_their_usage_and_help() -> None:
    assert [(s.usage, s.help) for s in TABLE.subcommands] == [
        ("todo", "lists your to-do items"),
        ("todo add <title>", "adds one"),
        ("todo done <number>", "completes the one with that number, as `todo` lists it"),
    ]


def test_bad_arguments_get_the_usage_line() -> None:
    for text, usage in (
        ("todo add", "todo add <title>"),
        ("todo done", "todo done <number>"),
        ("todo done seven", "todo done <number>"),
        ("todo done 0", "todo done <number>"),
        ("todo done -1", "todo done <number>"),
        ("todo done #", "todo done <number>"),
        ("todo done ٣", "todo done <number>"),  # an Arabic-Indic digit
        ("todo done 9223372036854775808", "todo done <number>"),  # 2**63
        ("todo done " + "9" * 5000, "todo done <number>"),
        ("todo done 1 2", "todo done <number>"),
        ("todo frobnicate", "todo"),
        ("todo list everything", "todo"),
    ):
        parsed = TABLE.parse(text)
        assert isinstance(parsed, BadArguments), text
        assert parsed.subcommand.usage == usage, text
    parsed = TABLE.parse("todo done #9223372036854775807")
    assert isinstance(parsed, Invocation) and parsed.arguments == {"number": 2**63 - 1}
    parsed = TABLE.parse("todo add  Fish  & chips <today> ")
    assert isinstance(parsed, Invocation) and parsed.arguments == {"title": "Fish & chips <today>"}


@pytest.mark.parametrize(
    "answer",
    [
        None,
        [],
        "todos",
        {"todos": 5},
        {"todos": [{"id": "1", "title": "t", "done": False}]},
        {"todos": [{"id": True, "title": "t", "done": False}]},
        {"todos": [{"id": 1, "title": 5, "done": False}]},
        {"todos": [{"id": 1, "title": "t", "done": "no"}]},
        {"todos": [{"id": 1, "title": "t"}]},
        {"id": 1, "title": "t"},
    ],
)
async def test_an_answer_of_the_wrong_shape_is_unreadable(answer: Json) -> None:
    """INTERNAL_API_URL may point at another system serving the same API: an answer of the
    wrong shape is a clear message, not a crash in the handler."""
    ctx = context_for(CannedApi(answer))
    for text in ("todo", "todo add x", "todo done 1"):
        with pytest.raises(UnreadableAnswer, match="Acme gave an answer that could not be read"):
            await run(ctx, text)


# Mrkdwn injection: one test per reply that carries a title (SECURITY.md)


def assert_escaped(reply: Reply) -> None:
    for part in (reply.text, str(reply.blocks)):
        assert "<!channel>" not in part and "<https://evil" not in part, reply
        assert "& co" not in part, reply
    assert ESCAPED in reply.text + str(reply.blocks), reply


def test_the_to_do_list_escapes_titles() -> None:
    reply = commands.todos_reply(
        [TodoItem(1, HOSTILE, False), TodoItem(2, HOSTILE + " done", True)], "Acme", "/acme"
    )
    blocks = str(reply.blocks)
    assert "<!channel>" not in blocks and "<https://evil" not in blocks and "& co" not in blocks
    assert blocks.count(ESCAPED) == 2


def test_the_added_to_do_escapes_its_title() -> None:
    assert_escaped(commands.todo_added_reply(TodoItem(1, HOSTILE, False)))


def test_the_completed_to_do_escapes_its_title() -> None:
    assert_escaped(commands.todo_completed_reply(TodoItem(1, HOSTILE, True)))


def test_the_to_do_replies_escape_their_placeholders_and_names() -> None:
    for reply in (
        commands.todos_reply([TodoItem(1, "x", False)], "A<b>", "/acme"),
        commands.todos_reply([], "A<b>", "/acme"),
    ):
        rendered = reply.text + str(reply.blocks)
        assert "<title>" not in rendered and "<number>" not in rendered, reply
        assert "A<b>" not in rendered and "A&lt;b&gt;" in rendered, reply
