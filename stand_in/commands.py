"""The stand-in's to-do commands as a command plugin (temporary until the stand-in package
lands)."""

from __future__ import annotations

from typing import Any

from bolt_app.commands import (
    Argument,
    Arguments,
    CommandContext,
    CommandPlugin,
    Reply,
    Subcommand,
    UnreadableAnswer,
    context,
    escape,
    header,
    section,
    whole_number,
)


def _item(value: Any) -> tuple[int, str, bool]:
    if not isinstance(value, dict):
        raise UnreadableAnswer("The to-do list gave an answer that could not be read.")
    number, title, done = value.get("id"), value.get("title"), value.get("done")
    if not isinstance(number, int) or not isinstance(title, str) or not isinstance(done, bool):
        raise UnreadableAnswer("The to-do list gave an answer that could not be read.")
    return number, title, done


async def _list(ctx: CommandContext, args: Arguments) -> Reply:
    body = await ctx.api.get("/api/todos")
    items = [_item(v) for v in (body.get("todos") if isinstance(body, dict) else None) or []]
    if not items:
        text = escape(
            f"You have no to-do items in {ctx.app_name}. Add one with {ctx.command} todo add <title>."
        )
        return Reply(text=text, blocks=[section(text)])
    open_items = [i for i in items if not i[2]]
    done_items = [i for i in items if i[2]]
    lines = [f"☐ *#{n}* {escape(t)}" for n, t, _ in open_items]
    lines += [f"☑ ~#{n} {escape(t)}~" for n, t, _ in done_items]
    summary = f"{len(open_items)} open, {len(done_items)} done"
    return Reply(
        text=f"Your to-do items in {escape(ctx.app_name)}: {summary}",
        blocks=[
            header(f"Your to-do items ({summary})"),
            section("\n".join(lines)[:3000]),
            context(f"Complete one with `{escape(ctx.command)} todo done &lt;number&gt;`."),
        ],
    )


async def _add(ctx: CommandContext, args: Arguments) -> Reply:
    number, title, _ = _item(await ctx.api.post("/api/todos", json={"title": args["title"]}))
    return Reply(
        text=f"Added #{number}: {escape(title)}",
        blocks=[section(f":white_check_mark: Added *#{number}* {escape(title)}")],
    )


async def _done(ctx: CommandContext, args: Arguments) -> Reply:
    number, title, _ = _item(await ctx.api.post(f"/api/todos/{args['number']}/complete"))
    return Reply(
        text=f"Completed #{number}: {escape(title)}",
        blocks=[section(f":tada: Completed *#{number}* ~{escape(title)}~")],
    )


plugin = CommandPlugin(
    name="todo",
    subcommands=[
        Subcommand("todo", "lists your to-do items", _list, aliases=["todo list"]),
        Subcommand("todo add", "adds one", _add, [Argument("title", rest=True)]),
        Subcommand(
            "todo done",
            "completes the one with that number, as `todo` lists it",
            _done,
            [Argument("number", whole_number())],
        ),
    ],
)
