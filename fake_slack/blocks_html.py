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


def blocks(items: list[Any]) -> Markup:
    parts: list[str] = []
    for block in items:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "header":
            parts.append(f'<p class="block-header">{_text(block.get("text"))}</p>')
        elif kind == "section":
            if block.get("text"):
                parts.append(f"<p>{_text(block.get('text'))}</p>")
            fields = block.get("fields") or []
            if fields:
                cells = "".join(f"<div>{_text(f)}</div>" for f in fields)
                parts.append(f'<div class="block-fields">{cells}</div>')
        elif kind == "context":
            texts = " ".join(str(_text(e)) for e in block.get("elements") or [])
            parts.append(f'<p class="block-context">{texts}</p>')
        elif kind == "actions":
            buttons = []
            for element in block.get("elements") or []:
                if (
                    isinstance(element, dict)
                    and element.get("type") == "button"
                    and element.get("url")
                ):
                    url = str(element["url"])
                    if url.startswith(("http://", "https://")):
                        style = " primary" if element.get("style") == "primary" else ""
                        buttons.append(
                            f'<a class="button{style}" href="{escape(url)}" target="_blank" '
                            f'rel="noopener">{_text(element.get("text"))}</a>'
                        )
            parts.append(f'<p class="block-actions">{"".join(buttons)}</p>')
        elif kind == "divider":
            parts.append("<hr>")
    return Markup("".join(parts))  # noqa: S704 - every piece is escaped above
