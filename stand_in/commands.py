"""The stand-in's to-do subcommands, as a command plugin (`bolt_app.commands`).

    todo                 (or `todo list`) lists your to-do items
    todo add <title>     adds one
    todo done <number>   completes the one with that number, as `todo` lists it

The composition root turns it on whenever the stand-in is served (INTERNAL_API_URL unset);
elsewhere COMMAND_PLUGINS may name it as `stand_in.commands:plugin` for a system that serves
the same API. Each handler calls the stand-in's JSON API (`stand_in.api`) through `ctx.api`,
as the bound person, and answers with a Block Kit reply.

Errors: whatever `ctx.api` raises (`InternalApiError` and its subclasses, such as
`ApiRefused` for "You have no to-do item #7.") passes to the command listener, which shows
its sentence; an answer of the wrong shape raises `UnreadableAnswer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bolt_app.commands import (
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
    section,
    whole_number,
)

#: The largest to-do number typed: a SQLite integer (signed 64-bit).
MAX_TODO_NUMBER = 2**63 - 1


@dataclass(frozen=True)
class TodoItem:
    """A to-do item as the API answers it (`stand_in.api`)."""

    id: int
    title: str
    done: bool


async def list_todos(ctx: CommandContext, args: Arguments) -> Reply:
    """`todo`: GET /api/todos."""
    body = await ctx.api.get("/api/todos")
    with reading(ctx.app_name):
        items = [_item(item) for item in body["todos"]]
    return todos_reply(items, ctx.app_name, ctx.command)


async def add_todo(ctx: CommandContext, args: Arguments) -> Reply:
    """`todo add <title>`: POST /api/todos {"title": ...}."""
    body = await ctx.api.post("/api/todos", json={"title": args["title"]})
    with reading(ctx.app_name):
        return todo_added_reply(_item(body))


async def complete_todo(ctx: CommandContext, args: Arguments) -> Reply:
    """`todo done <number>`: POST /api/todos/<number>/complete."""
    number: int = args["number"]
    body = await ctx.api.post(f"/api/todos/{number}/complete")
    with reading(ctx.app_name):
        return todo_completed_reply(_item(body))


def todos_reply(todos: list[TodoItem], app_name: str, command: str) -> Reply:
    """The list: open items first, then done ones struck through; every title escaped."""
    open_items = [t for t in todos if not t.done]
    done_items = [t for t in todos if t.done]
    if not todos:
        text = escape(
            f"You have no to-do items in {app_name}. Add one with {command} todo add <title>."
        )
        return Reply(text=text, blocks=[section(text)])
    lines = [f"☐ *#{t.id}* {escape(t.title)}" for t in open_items]
    lines += [f"☑ ~#{t.id} {escape(t.title)}~" for t in done_items]
    summary = f"{len(open_items)} open, {len(done_items)} done"
    return Reply(
        text=f"Your to-do items in {escape(app_name)}: {summary}",
        blocks=[
            header(f"Your to-do items ({summary})"),
            section("\n".join(lines)),
            context(f"Complete one with `{escape(command)} todo done &lt;number&gt;`."),
        ],
    )


def todo_added_reply(todo: TodoItem) -> Reply:
    return Reply(
        text=f"Added #{todo.id}: {escape(todo.title)}",
        blocks=[section(f":white_check_mark: Added *#{todo.id}* {escape(todo.title)}")],
    )


def todo_completed_reply(todo: TodoItem) -> Reply:
    return Reply(
        text=f"Completed #{todo.id}: {escape(todo.title)}",
        blocks=[section(f":tada: Completed *#{todo.id}* ~{escape(todo.title)}~")],
    )


plugin = CommandPlugin(
    name="todo",
    subcommands=[
        Subcommand(
            "todo",
            "lists your to-do items",
            list_todos,
            aliases=["todo list"],
            changes_data=False,
        ),
        Subcommand(
            "todo add",
            "adds one",
            add_todo,
            arguments=[Argument("title", rest=True)],
            changes_data=True,
        ),
        Subcommand(
            "todo done",
            "completes the one with that number, as `todo` lists it",
            complete_todo,
            arguments=[Argument("number", convert=whole_number(1, MAX_TODO_NUMBER))],
            changes_data=True,
        ),
    ],
)


def _item(value: Any) -> TodoItem:
    if not isinstance(value, dict):
        raise TypeError("not an object")
    id_, title, done = value["id"], value["title"], value["done"]
    if type(id_) is not int or not isinstance(title, str) or not isinstance(done, bool):
        raise TypeError("not a to-do item")
    return TodoItem(id=id_, title=title, done=done)
