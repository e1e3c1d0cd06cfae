"""Text from outside (forms, JSON, Slack payloads) checked or cleaned before it is stored."""

from __future__ import annotations

import re

# C0 controls but tab, newline and carriage return; DEL; C1 controls; lone surrogates.
_UNACCEPTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def is_acceptable(value: str) -> bool:
    """True when `value` has no control characters (but tab and newlines) and no lone
    surrogates, which no keyboard types and which cannot be stored as UTF-8."""
    return _UNACCEPTABLE.search(value) is None


def cleaned(value: str, limit: int) -> str:
    """`value` without what `is_acceptable` refuses, cut to `limit` characters."""
    return _UNACCEPTABLE.sub("", value)[:limit]
