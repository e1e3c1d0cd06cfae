from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.templating import Jinja2Templates

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _utc(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def cap(value: object, limit: int) -> str:
    """`value` as text, cut to `limit` characters with an ellipsis when longer (so a name of
    thousands of characters cannot fill a page)."""
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def how_to_get_a_link(request: Any, command: str | None = None) -> str:
    """How a person asks for a new link in Slack, as BINDING_TRIGGERS allows it: a verb phrase
    in plain text ("run /acme link", "run any /acme command", "press Connect on the app's
    Home tab", "use the shortcut Connect account"). `command` is the slash command the
    person's link came from, when known."""
    from .services import services_of  # the services module imports this one's users

    triggers = services_of(request).binding_triggers
    if "link" in triggers:
        return f"run {command} link" if command else "run the app's slash command with link"
    if "command" in triggers:
        return f"run any {command} command" if command else "run the app's slash command"
    if "home" in triggers:
        return "press Connect on the app's Home tab"
    return "use the shortcut Connect account"


def with_how_to_get_a_link(request: Any, message: str, command: str | None) -> str:
    """`message` (the domain's words, which say "the link command") with the way to ask for
    a new link that BINDING_TRIGGERS allows."""
    how = how_to_get_a_link(request, command)
    return message.replace("Run the link command", how[:1].upper() + how[1:]).replace(
        "run the link command", how
    )


templates.env.globals["how_to_get_a_link"] = how_to_get_a_link
templates.env.filters["utc"] = _utc
templates.env.filters["cap"] = cap
