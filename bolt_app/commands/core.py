"""The product's own subcommands: `whoami`, `link`, `unlink` and `help`.

They need no internal API. `link`, `unlink` and `help` are answered by the command listener
itself, before any binding is required (so their handlers never run); `whoami` answers from
the binding.
"""

from __future__ import annotations

from ..blocks import Reply, escape, fields, section
from .interface import Arguments, CommandContext, Subcommand


async def _answered_by_listener(ctx: CommandContext, args: Arguments) -> Reply:
    raise AssertionError("the command listener answers this subcommand itself")


async def _whoami(ctx: CommandContext, args: Arguments) -> Reply:
    return whoami_reply(ctx.user.username, ctx.user.email, ctx.app_name)


def whoami_reply(username: str, email: str, app_name: str) -> Reply:
    return Reply(
        text=f"You are {escape(username)} in {escape(app_name)}.",
        blocks=[
            section(f"You are connected to {escape(app_name)} as *{escape(username)}*."),
            fields([("User name", username), ("Email", email)]),
        ],
    )


WHOAMI = Subcommand("whoami", "shows your {app} account", _whoami, changes_data=False)
LINK = Subcommand("link", "connects your Slack account to {app}", _answered_by_listener)
UNLINK = Subcommand("unlink", "disconnects it", _answered_by_listener)
HELP = Subcommand("help", "shows this help", _answered_by_listener, changes_data=False)

#: Listed before the plugins' subcommands in the help, and after them.
FIRST = (WHOAMI,)
LAST = (LINK, UNLINK, HELP)
