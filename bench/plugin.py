"""The command plugin the product's bound path is measured with: `/acme me`.

It does what baseline C does after its ack: one call to the internal API (`GET /api/me`,
as the person, with the credential of the product's acting mode), then the answer through
the command's response_url. The product loads it with COMMAND_PLUGINS=bench.plugin:plugin
(README "Connect your own application"), as a company would load its own.
"""

from __future__ import annotations

from bolt_app.commands import (
    Arguments,
    CommandContext,
    CommandPlugin,
    Reply,
    Subcommand,
    escape,
    reading,
)


async def me(ctx: CommandContext, args: Arguments) -> Reply:
    """GET /api/me: who the internal application says the person is."""
    body = await ctx.api.get("/api/me")
    with reading(ctx.app_name):
        text = f"You are *{escape(body['username'])}* ({escape(body['email'])})."
    return Reply(text=text, blocks=[])


plugin = CommandPlugin(
    "bench",
    [Subcommand("me", "shows who {app} says you are", me, changes_data=False)],
)
