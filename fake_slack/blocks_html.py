"""Block Kit and mrkdwn rendered as HTML for the sandbox page, escaping everything first."""

from __future__ import annotations

import re
from html import escape
from typing import Any

from markupsafe import Markup

_LINK = re.compile(r"&lt;((?:https?://|mailto:)[^|\s]+?)(?:\|(.*?))?&gt;")
_BOLD = re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])")
_CODE = re.compile(r"`([^`\n]+)`")
# Drawn from characters that common fonts have, so the page shows no empty boxes.
_EMOJI = {":white_check_mark:": "✔", ":tada:": "★", ":warning:": "⚠"}


def mrkdwn(text: str) -> Markup:
    # Slack's own escapes (&amp; &lt; &gt;) come in escaped; undo them, then escape for HTML.
    plain = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    html = escape(plain, quote=True)
    html = _LINK.sub(lambda m: f'<a href="{m[1]}">{m[2] or m[1]}</a>', html)
    html = _CODE.sub(r"<code>\1</code>", html)
    html = _BOLD.sub(r"<strong>\1</strong>", html)
    html = _ITALIC.sub(r"<em>\1</em>", html)
    html = _STRIKE.sub(r"<del>\1</del>", html)
    for code, emoji in _EMOJI.items():
        html = html.replace(code, emoji)
    return Markup(html.replace("\n", "<br>"))  # noqa: S704 - built from escaped text only


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
