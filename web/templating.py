from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from starlette.templating import Jinja2Templates

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _utc(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def cap(value: object, limit: int) -> str:
    """`value` as text, cut to `limit` characters with an ellipsis when longer (so a name of
    thousands of characters cannot fill a page)."""
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


templates.env.filters["utc"] = _utc
templates.env.filters["cap"] = cap
