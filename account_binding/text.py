"""Text from outside (forms, JSON, Slack payloads) checked or cleaned before it is stored."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

# C0 controls but tab, newline and carriage return; DEL; C1 controls; lone surrogates.
_UNACCEPTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

#: The longest self-chosen name shown anywhere, in characters (a cut name ends in "…").
DISPLAY_NAME_LIMIT = 80

#: Unicode categories never kept in a shown name: controls, format characters (bidirectional
#: embeddings, overrides and isolates, zero-width spaces and joiners, soft hyphens, tags),
#: surrogates, private use, unassigned, and line and paragraph separators.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

#: Letters and marks that draw nothing (Hangul fillers, the combining grapheme joiner, Khmer
#: inherent vowels, the Braille blank): names made of them look empty or like someone else's.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u034f\u17b4\u17b5\u2800")

#: At most this many combining marks on one character, so stacked marks cannot paint over
#: the lines around a name.
_MAX_MARKS = 3

_SPACES = re.compile(r"\s+")
_HOST = re.compile(r"[a-z0-9.-]+")

#: Slack serves profile pictures from its own CDN, hosts ending in this suffix.
SLACK_IMAGE_HOST_SUFFIX = ".slack-edge.com"


def is_acceptable(value: str) -> bool:
    """True when `value` has no control characters (but tab and newlines) and no lone
    surrogates, which no keyboard types and which cannot be stored as UTF-8."""
    return _UNACCEPTABLE.search(value) is None


def cleaned(value: str, limit: int) -> str:
    """`value` without what `is_acceptable` refuses, cut to `limit` characters."""
    return _UNACCEPTABLE.sub("", value)[:limit]


def display_name(value: object, limit: int = DISPLAY_NAME_LIMIT) -> str:
    """A name someone chose for themselves (a Slack real name, display name, user name, a
    workspace or organisation name), made safe to show beside names nobody can choose.

    NFC-normalised; controls, format characters (Unicode category Cf: the bidirectional
    overrides, embeddings and isolates of Unicode's UAX #9, zero-width characters), private
    use, unassigned code points, line and paragraph separators and letters that draw nothing
    are removed; runs of white space become one space; more than three combining marks on a
    character are dropped; the result is cut to `limit` characters, ending in "…" when cut.
    A value that is not a string gives "".
    """
    if not isinstance(value, str):
        return ""
    kept: list[str] = []
    marks = 0
    for char in unicodedata.normalize("NFC", value):
        category = unicodedata.category(char)
        if category in _DROPPED_CATEGORIES or char in _INVISIBLE:
            if category in ("Cc", "Zl", "Zp"):
                kept.append(" ")  # a newline or tab separated words: keep them apart
            continue
        if category in ("Mn", "Me"):
            marks += 1
            if marks > _MAX_MARKS:
                continue
        else:
            marks = 0
        kept.append(char)
    text = _SPACES.sub(" ", "".join(kept)).strip()
    if len(text) > limit:
        text = text[: max(0, limit - 1)].rstrip() + "…"
    return text


def slack_image_url(value: object) -> str | None:
    """`value` when it is an https address on one of Slack's own image hosts (a host ending
    in ".slack-edge.com", default port, no user or password), else None: a picture from any
    other host would tell that host who opened the page, and could show anything."""
    if not isinstance(value, str) or len(value) > 2048 or not is_acceptable(value):
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname or ""
    if (
        parts.scheme != "https"
        or port not in (None, 443)
        or parts.username is not None
        or parts.password is not None
        or not host.endswith(SLACK_IMAGE_HOST_SUFFIX)
        or not _HOST.fullmatch(host)
        or "\\" in value  # browsers read a backslash as a slash: another host
        or any(c.isspace() for c in value)
    ):
        return None
    return value
