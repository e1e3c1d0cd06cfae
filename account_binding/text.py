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

#: Unicode's Default_Ignorable_Code_Point property (DerivedCoreProperties.txt, Unicode 15.1;
#: UAX #44): code points a renderer shows as nothing when it does not support them, and most
#: often draws as nothing anyway. Besides format characters (already dropped by category),
#: it holds letters and marks that draw nothing: the combining grapheme joiner U+034F, the
#: Hangul fillers U+115F, U+1160, U+3164, U+FFA0, the Khmer inherent vowels U+17B4-U+17B5,
#: the Mongolian free variation selectors and vowel separator U+180B-U+180F, the variation
#: selectors U+FE00-U+FE0F and U+E0100-U+E01EF, and the reserved blocks around them.
_DEFAULT_IGNORABLE = re.compile(
    "["
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
    "]"
)

#: Characters outside that set that draw nothing either, and are not white space: the
#: Braille pattern blank U+2800 (a symbol, category So, drawn as an empty cell).
_DRAWS_NOTHING = frozenset("\u2800")

#: At most this many combining marks on one character, so stacked marks cannot paint over
#: the lines around a name.
_MAX_MARKS = 3

_SPACES = re.compile(r"\s+")
_HOST = re.compile(r"[a-z0-9.-]+")

#: Slack serves profile pictures from its own CDN, hosts ending in this suffix.
SLACK_IMAGE_HOST_SUFFIX = ".slack-edge.com"


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(value: str) -> str:
    """`value` with A to Z lower-cased and nothing else changed. Python's `str.lower()` also
    folds other characters, some onto ASCII letters (the Kelvin sign U+212A becomes "k"), so
    a look-alike name or address would become someone else's: user names, email addresses
    and domains are compared after this instead (as SQLite's NOCASE does)."""
    return value.translate(_ASCII_LOWER)


#: The whitespace `ascii_strip` removes: ASCII only (str.strip() also removes no-break and
#: ideographic spaces, which would turn "zoe\u00a0" into the ASCII name "zoe").
ASCII_WHITESPACE = " \t\n\r\x0b\x0c"


def ascii_strip(value: str) -> str:
    """`value` without ASCII whitespace at either end; any other character stays (and is
    then refused where only ASCII is allowed)."""
    return value.strip(ASCII_WHITESPACE)


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

    NFC-normalised; removed are controls, format characters (Unicode category Cf: the
    bidirectional overrides, embeddings and isolates of Unicode's UAX #9, zero-width
    characters), private use, unassigned code points, line and paragraph separators, every
    Default_Ignorable_Code_Point of Unicode (UAX #44: variation selectors, Hangul fillers,
    the combining grapheme joiner, Mongolian free variation selectors, Khmer inherent vowels)
    and the Braille blank U+2800, which draw nothing; runs of white space become one space;
    more than three combining marks on a character are dropped; the result is cut to `limit`
    characters, ending in "…" when cut. A value that is not a string, or one with nothing
    visible left, gives "": callers treat that as no name at all.
    """
    if not isinstance(value, str):
        return ""
    if value.isascii() and value.isprintable():
        # Issue 12: the usual name. Printable ASCII is NFC already and holds nothing the
        # loop below drops, so only its spaces are collapsed and its length cut.
        return _cut(_SPACES.sub(" ", value).strip(), limit)
    return _sanitised(value, limit)


def _sanitised(value: str, limit: int) -> str:
    """`display_name`'s work, character by character."""
    kept: list[str] = []
    marks = 0
    for char in unicodedata.normalize("NFC", value):
        category = unicodedata.category(char)
        if (
            category in _DROPPED_CATEGORIES
            or char in _DRAWS_NOTHING
            or _DEFAULT_IGNORABLE.match(char)
        ):
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
    return _cut(_SPACES.sub(" ", "".join(kept)).strip(), limit)


def _cut(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending in "…" when cut."""
    if len(text) > limit:
        text = text[: max(0, limit - 1)].rstrip() + "…"
    return text


def first_display_name(*values: object, limit: int = DISPLAY_NAME_LIMIT) -> str:
    """The first of `values` with something visible left after `display_name`, cleaned;
    "" when none has: a name that cleans to nothing counts as absent, so the next one shows."""
    for value in values:
        name = display_name(value, limit)
        if name:
            return name
    return ""


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
