"""Block Kit building blocks for replies: the helpers messages and command plugins use.

A reply is what Slack shows: `text` (the notification and accessibility fallback, also shown
where blocks cannot be) and `blocks` (Block Kit layout blocks, https://api.slack.com/block-kit).
Text in `mrkdwn` must have `&`, `<` and `>` escaped (Slack's "Formatting text for app
surfaces"): pass anything a person or another system wrote through `escape` first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Block = dict[str, Any]

#: Slack's limits in characters: a section's or a context element's text, a header's plain
#: text, and one field of a section.
SECTION_TEXT_LIMIT = 3000
HEADER_TEXT_LIMIT = 150
FIELD_TEXT_LIMIT = 2000


@dataclass(frozen=True)
class Reply:
    """A message: `text` is mrkdwn (escaped), `blocks` at most 50 Block Kit blocks."""

    text: str
    blocks: list[Block]


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def section(markdown: str) -> Block:
    """A section block of mrkdwn text (already escaped), cut to Slack's 3000 characters."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": markdown[:SECTION_TEXT_LIMIT]}}


def context(markdown: str) -> Block:
    """A context block: one line of small print in mrkdwn (already escaped), cut to 3000."""
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": markdown[:SECTION_TEXT_LIMIT]}],
    }


def header(text: str) -> Block:
    """A header block of plain text (not escaped: Slack shows it as typed), cut to 150."""
    return {"type": "header", "text": {"type": "plain_text", "text": text[:HEADER_TEXT_LIMIT]}}


def fields(pairs: list[tuple[str, str]]) -> Block:
    """A section of up to 10 label/value fields, each shown as a bold label over its value;
    both are plain text and escaped here; each field is cut to Slack's 2000 characters."""
    return {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": f"*{escape(label)}*\n{escape(value)}"[:FIELD_TEXT_LIMIT]}
            for label, value in pairs[:10]
        ],
    }


def reply(text: str, *blocks: Block) -> Reply:
    """A reply whose fallback is `text` (plain text, escaped here) and whose blocks are
    `blocks`, or one section of that text when none are given."""
    fallback = escape(text)
    return Reply(text=fallback, blocks=list(blocks) or [section(fallback)])
