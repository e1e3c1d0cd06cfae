"""YAML with comments, for files people read and edit (the Slack app manifest).

PyYAML writes no comments, and ruamel.yaml, which does, is not installed. So this module lays
out the block structure itself (two-space indents, list items indented under their key,
mappings in the order given) and leaves every scalar to PyYAML (`yaml.safe_dump`), which
knows when a string must be quoted: `#3f0e40`, `yes`, `a: b`, a leading space... A string
with a character that is not printable (a control character, a line break, a bidirectional
override) is written double-quoted with that character escaped, on one line; a long text
is folded (`>-`) over several lines.

`dump(data)` and `yaml.safe_load` round-trip: the tests load what it writes for every
manifest the settings can make and compare it with `plain(data)`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Union

import yaml

Scalar = str | int | bool | None
Data = Union[Scalar, "Note", Sequence["Data"], Mapping[str, "Data"]]

INDENT = "  "
#: Texts longer than this are written folded, in lines of at most this many characters.
WIDTH = 88


@dataclass(frozen=True)
class Note:
    """`value` with a comment: at the end of its line (a scalar; a list's or mapping's key
    line), or, with `above`, on lines of its own before it. `comment` may hold line breaks
    (one comment line each)."""

    value: Data
    comment: str
    above: bool = False


def plain(data: Data) -> object:
    """`data` without its notes: dicts, lists and scalars, as `yaml.safe_load` reads `dump`."""
    if isinstance(data, Note):
        return plain(data.value)
    if isinstance(data, Mapping):
        return {key: plain(value) for key, value in data.items()}
    if isinstance(data, Sequence) and not isinstance(data, str):
        return [plain(item) for item in data]
    return data


def dump(data: Mapping[str, Data], header: str = "") -> str:
    """The YAML document for the mapping `data`, after `header` as comment lines."""
    lines = [_comment(line) for line in header.splitlines()]
    lines += _mapping(data, 0)
    return "\n".join(lines) + "\n"


def scalar(value: Scalar) -> str:
    """One scalar as YAML on one line: plain where PyYAML (YAML 1.1, so also `yes`, `on`...)
    reads it back as the same string, else quoted."""
    if isinstance(value, str) and not value.isprintable():
        text = yaml.safe_dump(value, default_style='"', allow_unicode=False, width=2**31 - 1)
    else:
        text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=2**31 - 1)
    text = text.removesuffix("\n...\n").removesuffix("\n")
    assert "\n" not in text, text
    return text


def _foldable(text: str) -> bool:
    """Whether `text` reads back the same from a folded block scalar wrapped at spaces: long,
    printable, words separated by single spaces, no space at either end."""
    return (
        len(text) > WIDTH
        and text.isprintable()
        and text == text.strip()
        and "  " not in text
        and " " in text
    )


def _comment(text: str) -> str:
    return f"# {text}".rstrip()


def _unwrap(data: Data) -> tuple[Data, str, bool]:
    if isinstance(data, Note):
        return data.value, data.comment, data.above
    return data, "", False


def _mapping(data: Mapping[str, Data], depth: int) -> list[str]:
    lines: list[str] = []
    for key, item in data.items():
        lines += _entry(f"{INDENT * depth}{scalar(key)}:", item, depth)
    return lines


def _entry(prefix: str, item: Data, depth: int) -> list[str]:
    """`prefix` ("key:" or "-") and its value: inline for a scalar or an empty collection,
    else on the lines below, one level deeper."""
    value, comment, above = _unwrap(item)
    lines = []
    indent = INDENT * depth
    if comment and above:
        lines += [indent + _comment(line) for line in comment.splitlines()]
        comment = ""
    tail = f"  {_comment(comment)}" if comment else ""
    if isinstance(value, str) and _foldable(value):
        # A long text as a folded block scalar (">-"): its lines join with single spaces.
        wrapped = textwrap.wrap(value, WIDTH, break_long_words=False, break_on_hyphens=False)
        return [*lines, f"{prefix} >-{tail}", *(INDENT * (depth + 1) + line for line in wrapped)]
    if value is None or isinstance(value, str | int | bool):
        return [*lines, f"{prefix} {scalar(value)}{tail}"]
    if not value:
        return [*lines, f"{prefix} {'{}' if isinstance(value, Mapping) else '[]'}{tail}"]
    lines.append(prefix + tail)
    if isinstance(value, Mapping):
        return lines + _mapping(value, depth + 1)
    assert isinstance(value, Sequence)
    return lines + _sequence(value, depth + 1)


def _sequence(items: Sequence[Data], depth: int) -> list[str]:
    lines: list[str] = []
    indent = INDENT * depth
    for item in items:
        value, comment, _ = _unwrap(item)
        if isinstance(value, Mapping) and value:
            # "- first: ..." with the other keys lined up under "first"; a note goes above.
            if comment:
                lines += [indent + _comment(line) for line in comment.splitlines()]
            nested = _mapping(value, depth + 1)
            first = nested[0][len(INDENT * (depth + 1)) :]
            lines.append(f"{indent}- {first}")
            lines += nested[1:]
        else:
            lines += _entry(f"{indent}-", item, depth)
    return lines
