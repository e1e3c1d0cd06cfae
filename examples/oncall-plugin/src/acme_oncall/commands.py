"""`/acme oncall …`: the on-call service in Slack, as a command plugin.

    /acme oncall now [rotation]   who is on call, per rotation (also `/acme oncall`)
    /acme oncall shifts           your current and next shifts
    /acme oncall page <message>   pages whoever is on call for the first rotation, as you

The product runs a handler only for a bound person, after acknowledging the command, with
`ctx.api` already carrying the credential of its acting mode. A failed call raises an
`InternalApiError` whose text is safe to show; the product turns it into the reply, so the
handlers only catch what they can say better (an unknown rotation). Everything the service
returns is escaped before it goes into mrkdwn.

A call that timed out (INTERNAL_API_TIMEOUT) or broke off may still have been carried out: a
page may have gone. `oncall page` declares `changes_data=True`, so the product then tells the
person it may or may not have been done and to check before paging again; the handler never
retries the page itself.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from bolt_app.commands import (
    ApiRefused,
    Argument,
    Arguments,
    CommandContext,
    CommandPlugin,
    Reply,
    Subcommand,
    context,
    escape,
    header,
    reading,
    reply,
    section,
)

_ROTATION = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


def rotation_id(word: str) -> str:
    """An `Argument` converter: a rotation's ID as the service names them (case aside)."""
    if not _ROTATION.fullmatch(word.lower()):
        raise ValueError(f"not a rotation: {word!r}")
    return word.lower()


async def now(ctx: CommandContext, args: Arguments) -> Reply:
    """GET /api/oncall, or /api/rotations/{rotation}/oncall for one rotation."""
    rotation = args.get("rotation")
    if rotation is None:
        body = await ctx.api.get("/api/oncall")
    else:
        try:
            body = await ctx.api.get(f"/api/rotations/{quote(rotation, safe='')}/oncall")
        except ApiRefused as error:
            if error.status != 404:
                raise
            return reply(
                f"{ctx.app_name} has no rotation called `{rotation}`. "
                f"`{ctx.command} oncall now` lists them all."
            )
        body = {"rotations": [body]}
    with reading(ctx.app_name):
        on_call = [
            (_text(item["name"]), _text(item["username"]), _when(_text(item["until"])))
            for item in body["rotations"]
        ]
    if not on_call:
        return reply(f"{ctx.app_name} has no on-call rotations.")
    lines = [f"*{escape(name)}*: *{escape(user)}* until {until}" for name, user, until in on_call]
    fallback = "On call now: " + ", ".join(f"{name}: {user}" for name, user, _ in on_call)
    return Reply(text=escape(fallback), blocks=[header("On call now"), section("\n".join(lines))])


async def shifts(ctx: CommandContext, args: Arguments) -> Reply:
    """GET /api/me/shifts: the service knows the caller from the credential."""
    body = await ctx.api.get("/api/me/shifts")
    current = datetime.now(UTC)
    with reading(ctx.app_name):
        lines = [
            f"• *{escape(_text(item['name']))}*: {_when(_text(item['starts']))} to "
            f"{_when(_text(item['ends']))}"
            + (" _(now)_" if _parse_time(_text(item["starts"])) <= current else "")
            for item in body["shifts"]
        ]
    if not lines:
        return reply(f"You have no upcoming on-call shifts in {ctx.app_name}.")
    plural = "s" if len(lines) != 1 else ""
    return Reply(
        text=f"You have {len(lines)} upcoming on-call shift{plural}.",
        blocks=[header("Your on-call shifts"), section("\n".join(lines))],
    )


async def page(ctx: CommandContext, args: Arguments) -> Reply:
    """POST /api/pages: the service pages as the caller; a message it refuses (too long)
    comes back as ApiRefused, whose text the product shows."""
    body = await ctx.api.post("/api/pages", json={"message": args["message"]})
    with reading(ctx.app_name):
        paged, name, message, number = (
            _text(body["paged"]),
            _text(body["name"]),
            _text(body["message"]),
            int(body["id"]),
        )
    return Reply(
        text=escape(f"Paged {paged} (on call for {name})."),
        blocks=[
            section(f"Paged *{escape(paged)}*, on call for *{escape(name)}*:\n>{escape(message)}"),
            context(f"Page #{number}, sent as {escape(ctx.user.username)}"),
        ],
    )


plugin = CommandPlugin(
    name="oncall",
    subcommands=[
        Subcommand(
            "oncall now",
            "who is on call in {app}, for every rotation or one",
            now,
            arguments=[Argument("rotation", convert=rotation_id, optional=True)],
            aliases=["oncall"],
            changes_data=False,  # only reads: may run by itself after connecting
        ),
        Subcommand(
            "oncall shifts",
            "your current and next on-call shifts",
            shifts,
            changes_data=False,
        ),
        Subcommand(
            "oncall page",
            "pages whoever is on call, as you",
            page,
            arguments=[Argument("message", rest=True)],
            changes_data=True,  # sends a page: runs after connecting only if ticked
        ),
    ],
)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _parse_time(text: str) -> datetime:
    """ISO 8601 with an offset; ValueError otherwise."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("a time without an offset")
    return moment


def _when(text: str) -> str:
    """A time as Slack shows it in each reader's own time zone, with a UTC fallback
    (Slack's "Formatting text for app surfaces": `<!date^…>`)."""
    moment = _parse_time(text)
    fallback = moment.astimezone(UTC).strftime("%a %d %b %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"
