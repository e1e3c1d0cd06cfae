"""Plugins for tests/test_attack_i8.py (`attack_plugins:<name>`): what a careless plugin
author writes, following the interface's own advice."""

from __future__ import annotations

import time

from bolt_app.commands import (
    Arguments,
    CommandContext,
    CommandPlugin,
    Reply,
    Subcommand,
    reply,
)


async def _remote(ctx: CommandContext, args: Arguments) -> Reply:
    body = await ctx.api.get("/echo", params={"q": "hello"})
    return reply(f"{ctx.app_name} said {body['said']} to {ctx.user.username}")


async def _slow_sync(ctx: CommandContext, args: Arguments) -> Reply:
    time.sleep(4)  # noqa: ASYNC251 - e.g. requests.get() to a slow service: a common mistake
    return reply("woke up")


careless = CommandPlugin(
    name="careless",
    subcommands=[
        Subcommand("hello", "asks {app}", _remote),
        Subcommand("slowsync", "calls a slow service synchronously", _slow_sync),
    ],
)
