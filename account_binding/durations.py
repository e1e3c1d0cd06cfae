"""Durations in words for people: "30 seconds", "10 minutes", "1 hour 30 minutes", "7 days"."""

from __future__ import annotations

UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def in_words(seconds: int) -> str:
    """`seconds` (>= 0) in at most its two largest whole units, rounded down, so a promise
    made with it ("expires in …") is never longer than the truth: 30 -> "30 seconds",
    90 -> "1 minute 30 seconds", 600 -> "10 minutes", 604800 -> "7 days"."""
    parts: list[str] = []
    rest = max(0, int(seconds))
    for name, size in UNITS:
        count, rest = divmod(rest, size)
        if count and len(parts) < 2:
            parts.append(f"{count} {name}{'s' if count != 1 else ''}")
        elif parts:
            break  # the next unit down only: "1 day 3 hours", never "1 day 20 seconds"
    return " ".join(parts) or "0 seconds"
