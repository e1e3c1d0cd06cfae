"""Command plugins the tests load through COMMAND_PLUGINS (`sample_plugins:<name>`): each
behaves in one way a real plugin may, good or bad."""

from __future__ import annotations

import asyncio
import sys
import time

from bolt_app.commands import (
    Argument,
    Arguments,
    CommandContext,
    CommandPlugin,
    Reply,
    Subcommand,
    reply,
    whole_number,
)

#: What the failing handler's exception carries: a secret the log must not show.
LEAKED_TOKEN = "abt_" + "s3cr3t" * 6


async def _remote(ctx: CommandContext, args: Arguments) -> Reply:
    """Calls the internal application and shows what it said."""
    body = await ctx.api.get("/echo", params={"q": "hello"})
    return reply(f"{ctx.app_name} said {body['said']} to {ctx.user.username}")


async def _post(ctx: CommandContext, args: Arguments) -> Reply:
    body = await ctx.api.post("/echo", json={"text": args["text"]})
    return reply(f"posted {body['said']}")


async def _fails(ctx: CommandContext, args: Arguments) -> Reply:
    raise RuntimeError(f"the plugin broke while holding {LEAKED_TOKEN}")


async def _hangs(ctx: CommandContext, args: Arguments) -> Reply:
    await asyncio.sleep(3600)
    return reply("never")


async def _blocks(ctx: CommandContext, args: Arguments) -> Reply:
    time.sleep(4)  # noqa: ASYNC251 - a plugin's mistake, on purpose
    return reply("woke up")


async def _later(ctx: CommandContext, args: Arguments) -> None:
    await ctx.respond(reply(f"first answer for {ctx.slack.user_id}"))
    await ctx.send_dm(reply(f"a DM with number {args['number']}"))


async def _exits(ctx: CommandContext, args: Arguments) -> Reply:
    sys.exit(3)


async def _wrong_type(ctx: CommandContext, args: Arguments) -> Reply:
    return "not a reply"  # type: ignore[return-value]


sample = CommandPlugin(
    name="sample",
    subcommands=[
        Subcommand("remote", "asks {app}", _remote),
        Subcommand("post", "posts to {app}", _post, [Argument("text", rest=True)]),
        Subcommand("fails", "raises", _fails),
        Subcommand("hangs", "never answers", _hangs),
        Subcommand("blocks", "blocks its thread", _blocks),
        Subcommand(
            "later", "answers later and by DM", _later, [Argument("number", whole_number())]
        ),
        Subcommand("wrong", "returns something that is not a reply", _wrong_type),
        Subcommand("exits", "calls sys.exit", _exits),
    ],
)

#: Claims `todo`, which the stand-in's plugin declares.
clashing = CommandPlugin(name="clashing", subcommands=[Subcommand("todo", "mine", _remote)])

not_a_plugin = {"name": "sample"}
