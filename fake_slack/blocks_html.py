"""Block Kit and mrkdwn rendered as HTML for the sandbox page, escaping everything first."""

from __future__ import annotations

import re
from html import escape
from typing import Any

from markupsafe import Markup

# Slack's links: <https://…|label> with real angle brackets; escaped text has &lt; instead.
_LINK = re.compile(r"<((?:https?://|mailto:)[^|>\s]+)(?:\|([^>]*))?>")
# Slack's dates, <!date^1392734382^{date_short} {time}|fallback>: the sandbox shows the
# fallback text, as Slack's clients do where they cannot format the date.
_DATE = re.compile(r"<!date\^[0-9]+\^[^|>]*\|([^>]*)>")
_BOLD = re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])")
_CODE = re.compile(r"`([^`\n]+)`")
# Drawn from characters that common fonts have, so the page shows no empty boxes.
_EMOJI = {":white_check_mark:": "✔", ":tada:": "★", ":warning:": "⚠"}


def _unescape(text: str) -> str:
    """Undo Slack's own escapes (&amp; &lt; &gt;)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _format(text: str) -> str:
    html = escape(_unescape(text), quote=True)
    html = _CODE.sub(r"<code>\1</code>", html)
    html = _BOLD.sub(r"<strong>\1</strong>", html)
    html = _ITALIC.sub(r"<em>\1</em>", html)
    html = _STRIKE.sub(r"<del>\1</del>", html)
    for code, emoji in _EMOJI.items():
        html = html.replace(code, emoji)
    return html.replace("\n", "<br>")


def mrkdwn(text: str) -> Markup:
    text = _DATE.sub(lambda date: date[1], text)
    parts, position = [], 0
    for link in _LINK.finditer(text):
        parts.append(_format(text[position : link.start()]))
        url = _unescape(link[1])
        label = _unescape(link[2]) if link[2] else url
        parts.append(f'<a href="{escape(url, quote=True)}">{escape(label)}</a>')
        position = link.end()
    parts.append(_format(text[position:]))
    return Markup("".join(parts))  # noqa: S704 - every piece is escaped above


def _text(obj: Any) -> Markup:
    if not isinstance(obj, dict):
        return Markup("")
    text = str(obj.get("text", ""))
    return mrkdwn(text) if obj.get("type") == "mrkdwn" else Markup(escape(text))  # noqa: S704 - escaped


def _link_button(element: dict[str, Any]) -> str:
    url = str(element["url"])
    if not url.startswith(("http://", "https://")):
        return ""
    style = " primary" if element.get("style") == "primary" else ""
    return (
        f'<a class="button{style}" href="{escape(url)}" target="_blank" '
        f'rel="noopener">{_text(element.get("text"))}</a>'
    )


def _click_button(element: dict[str, Any], clicks: Clicks) -> str:
    """A button that sends block_actions: a form posting to the sandbox's /click, which
    shows the element's confirm dialog first when it has one."""
    style = element.get("style")
    css = f" {style}" if style in ("primary", "danger") else ""
    ts = f'<input type="hidden" name="ts" value="{escape(clicks.ts)}">' if clicks.ts else ""
    return (
        '<form method="post" action="/click" class="click">'
        f'<input type="hidden" name="user" value="{escape(clicks.user_id)}">'
        f'<input type="hidden" name="surface" value="{escape(clicks.surface)}">{ts}'
        f'<input type="hidden" name="action_id" value="{escape(str(element["action_id"]))}">'
        f'<button type="submit" class="button{css}">{_text(element.get("text"))}</button>'
        "</form>"
    )


def _element(element: Any, clicks: Clicks | None) -> str:
    if not isinstance(element, dict) or element.get("type") != "button":
        return ""
    if element.get("url"):
        return _link_button(element)
    if clicks is not None and element.get("action_id"):
        return _click_button(element, clicks)
    return ""


class Clicks:
    """Where the buttons of rendered blocks send their clicks: `user_id` clicks them on
    `surface` ("message", with the message's `ts`, or "home")."""

    def __init__(self, user_id: str, surface: str = "message", ts: str | None = None) -> None:
        self.user_id = user_id
        self.surface = surface
        self.ts = ts


def blocks(items: list[Any], clicks: Clicks | None = None) -> Markup:
    """Block Kit `items` as HTML. Link buttons open their URL; other buttons post a click
    (`clicks`) or, without `clicks`, are left out."""
    parts: list[str] = []
    for block in items:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "header":
            parts.append(f'<p class="block-header">{_text(block.get("text"))}</p>')
        elif kind == "section":
            accessory = _element(block.get("accessory"), clicks)
            if block.get("text") or accessory:
                parts.append(f"<p>{_text(block.get('text'))}</p>")
            fields = block.get("fields") or []
            if fields:
                cells = "".join(f"<div>{_text(f)}</div>" for f in fields)
                parts.append(f'<div class="block-fields">{cells}</div>')
            if accessory:
                parts.append(f'<div class="block-actions">{accessory}</div>')
        elif kind == "context":
            texts = " ".join(str(_text(e)) for e in block.get("elements") or [])
            parts.append(f'<p class="block-context">{texts}</p>')
        elif kind == "actions":
            buttons = "".join(_element(e, clicks) for e in block.get("elements") or [])
            parts.append(f'<div class="block-actions">{buttons}</div>')
        elif kind == "divider":
            parts.append("<hr>")
    return Markup("".join(parts))  # noqa: S704 - every piece is escaped above


def confirm_dialog_parts(confirm: Any) -> dict[str, Markup]:
    """A `confirm` object's title, text and button labels as HTML, with Slack's defaults
    where a part is missing."""
    confirm = confirm if isinstance(confirm, dict) else {}

    def part(key: str, default: str) -> Markup:
        text = _text(confirm.get(key))
        return text if str(text) else Markup(escape(default))  # noqa: S704 - escaped

    return {
        "title": part("title", "Are you sure?"),
        "text": part("text", ""),
        "confirm": part("confirm", "Yes"),
        "deny": part("deny", "Cancel"),
    }
