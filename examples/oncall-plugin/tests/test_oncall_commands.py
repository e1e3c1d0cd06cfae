"""The oncall plugin's handlers against the real on-call service over real HTTP, its
declarations as the product's command table reads them, and its entry point."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from acme_oncall import commands
from acme_oncall.service import (
    OncallService,
    Roster,
    Rotation,
    ServiceCredential,
    build_service,
    demo_roster,
    serve,
)
from oncall_harness import NOW, SERVICE_TOKEN, api_for, context_for, shown
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bolt_app.commands import (
    CommandPlugin,
    CredentialRejected,
    InternalApiClient,
    UnreadableAnswer,
)
from bolt_app.commands.loading import load_plugins
from bolt_app.commands.table import BadArguments, CommandTable, Invocation


@contextlib.asynccontextmanager
async def service(
    roster: Roster | None = None, token: str = SERVICE_TOKEN, as_user: str | None = "ada"
) -> AsyncIterator[tuple[InternalApiClient, OncallService]]:
    """The on-call service in service mode, and `ctx.api` calling it with `token` as
    `as_user` (Impersonate-User; None: no such header)."""
    app = build_service(
        roster or demo_roster(["ada", "grace", "alan"], clock=lambda: NOW),
        service_credential=ServiceCredential(SERVICE_TOKEN),
    )
    async with serve(app) as url:
        headers = {"Authorization": f"Bearer {token}"}
        if as_user is not None:
            headers["Impersonate-User"] = as_user
        async with api_for(url, headers) as api:
            yield api, app.state.oncall


async def test_oncall_now_lists_every_rotation_with_slack_dates() -> None:
    async with service() as (api, _):
        ctx, _ = context_for(api)
        reply = await commands.now(ctx, {})
    assert reply is not None
    assert reply.text == "On call now: Platform: ada, Payments: alan"
    assert reply.blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "On call now"},
    }
    until = int((NOW.replace(hour=9) + timedelta(days=7)).timestamp())
    assert reply.blocks[1]["text"]["text"] == (
        f"*Platform*: *ada* until <!date^{until}^{{date_short_pretty}} {{time}}|Mon 07 Dec 09:00 UTC>\n"
        f"*Payments*: *alan* until <!date^{until}^{{date_short_pretty}} {{time}}|Mon 07 Dec 09:00 UTC>"
    )


async def test_oncall_now_for_one_rotation_and_an_unknown_one() -> None:
    async with service() as (api, _):
        ctx, _ = context_for(api)
        one = await commands.now(ctx, {"rotation": "payments"})
        unknown = await commands.now(ctx, {"rotation": "nope"})
    assert one is not None and one.text == "On call now: Payments: alan"
    assert unknown is not None
    assert unknown.text == (
        "Acme has no rotation called `nope`. `/acme oncall now` lists them all."
    )


async def test_what_the_service_returns_is_escaped() -> None:
    starts = NOW.replace(hour=9)
    roster = Roster([Rotation("ops", "<!channel> Ops & <b>", ("ada",), starts)], clock=lambda: NOW)
    async with service(roster) as (api, _):
        ctx, _ = context_for(api)
        now = await commands.now(ctx, {})
        shifts = await commands.shifts(ctx, {})
        paged = await commands.page(ctx, {"message": "<@U0BOSS> look & see <https://x|y>"})
    for reply in (now, shifts, paged):
        assert reply is not None
        text = shown(reply)
        assert "&lt;!channel&gt; Ops &amp; &lt;b&gt;" in text, text
        assert "<!channel>" not in text and "<b>" not in text
    assert paged is not None
    assert "&lt;@U0BOSS&gt; look &amp; see &lt;https://x|y&gt;" in shown(paged)
    assert "<@U0BOSS>" not in shown(paged)


async def test_oncall_shifts_lists_the_callers_shifts_and_marks_the_current_one() -> None:
    # The plugin marks the shift holding the pager by the time where it runs: a real clock.
    async with service(demo_roster(["ada", "grace", "alan"]), as_user="ada") as (api, _):
        ctx, _ = context_for(api, "ada")
        reply = await commands.shifts(ctx, {})
    assert reply is not None and reply.text == "You have 5 upcoming on-call shifts."
    lines = reply.blocks[1]["text"]["text"].split("\n")
    assert len(lines) == 5
    assert lines[0].startswith("• *Platform*: <!date^") and lines[0].endswith("_(now)_")
    assert lines[1].startswith("• *Payments*: ") and " to <!date^" in lines[1]
    assert not any(line.endswith("_(now)_") for line in lines[1:])


async def test_oncall_shifts_for_someone_with_none() -> None:
    async with service(as_user="zoe") as (api, _):
        ctx, _ = context_for(api, "zoe")
        reply = await commands.shifts(ctx, {})
    assert reply is not None and reply.text == "You have no upcoming on-call shifts in Acme."


async def test_oncall_page_pages_whoever_is_on_call_as_the_caller() -> None:
    async with service(as_user="grace") as (api, state):
        ctx, _ = context_for(api, "grace")
        reply = await commands.page(ctx, {"message": "the build is red"})
    assert reply is not None
    assert reply.text == "Paged ada (on call for Platform)."
    assert "Paged *ada*, on call for *Platform*:\n>the build is red" in shown(reply)
    assert "Page #1, sent as grace" in shown(reply)
    assert [(p.paged, p.by, p.message) for p in state.roster.pages] == [
        ("ada", "grace", "the build is red")
    ]


async def test_errors_are_left_to_the_product() -> None:
    wrong = "not-the-service-token-0123456789abcdef"
    async with service(token=wrong, as_user=None) as (api, state):
        ctx, _ = context_for(api)
        with pytest.raises(CredentialRejected):
            await commands.page(ctx, {"message": "hello"})
        assert state.roster.pages == []


async def test_an_answer_of_the_wrong_shape_is_unreadable() -> None:
    async def wrong(request: Request) -> JSONResponse:
        return JSONResponse({"rotations": [{"name": "Platform", "username": 7, "until": "x"}]})

    async with (
        serve(Starlette(routes=[Route("/api/oncall", wrong)])) as url,
        api_for(url, {}) as api,
    ):
        ctx, _ = context_for(api)
        with pytest.raises(UnreadableAnswer, match="Acme gave an answer that could not be"):
            await commands.now(ctx, {})


def test_the_command_table_reads_the_declarations() -> None:
    table = CommandTable([commands.plugin])
    assert [s.usage for s in table.subcommands] == [
        "oncall now [rotation]",
        "oncall shifts",
        "oncall page <message>",
    ]
    bare = table.parse("oncall")
    assert isinstance(bare, Invocation) and bare.subcommand.name == "oncall now"
    one = table.parse("oncall now Payments")
    assert isinstance(one, Invocation) and one.arguments == {"rotation": "payments"}
    page = table.parse("oncall page the  build is red")
    assert isinstance(page, Invocation) and page.arguments == {"message": "the build is red"}
    for typed in ("oncall page", "oncall now ../me", "oncall now a b", "oncall shifts soon"):
        assert isinstance(table.parse(typed), BadArguments), typed


def test_the_plugin_is_installed_as_the_entry_point_oncall() -> None:
    [plugin] = load_plugins(["oncall"])
    assert isinstance(plugin, CommandPlugin) and plugin is commands.plugin
