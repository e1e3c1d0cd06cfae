"""The on-call service's data, in memory: rotations, who is on call when, and pages.

A rotation hands the pager from one person to the next every `shift` (a week by default),
starting at `starts`; times are timezone-aware UTC datetimes. Nothing here knows HTTP.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

#: How far ahead `shifts_of` looks, and how many shifts it lists at most.
SHIFT_HORIZON = timedelta(weeks=12)
MAX_SHIFTS = 5
#: A page's message, in characters.
MAX_MESSAGE_LENGTH = 300

ROTATION_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class NoSuchRotation(LookupError):
    """No rotation has that ID."""


class InvalidPage(ValueError):
    """A page's message is empty or longer than MAX_MESSAGE_LENGTH; `str` says which."""


@dataclass(frozen=True)
class Shift:
    """One person holding one rotation's pager from `starts` (inclusive) to `ends`."""

    rotation: Rotation
    username: str
    starts: datetime
    ends: datetime


@dataclass(frozen=True)
class Rotation:
    """`id` is how the API names it (lower case, as in `/api/rotations/platform/oncall`),
    `name` how people do; `people` are usernames, in the order they take the pager."""

    id: str
    name: str
    people: tuple[str, ...]
    starts: datetime
    shift: timedelta = timedelta(weeks=1)

    def __post_init__(self) -> None:
        if not ROTATION_ID.fullmatch(self.id):
            raise ValueError(f"rotation ID {self.id!r}: use a-z, 0-9 and -")
        if not self.people:
            raise ValueError(f"rotation {self.id!r} has nobody on it")
        if self.starts.tzinfo is None or self.shift <= timedelta(0):
            raise ValueError(f"rotation {self.id!r}: an aware start and a positive shift")

    def shift_at(self, moment: datetime) -> Shift:
        """The shift that holds the pager at `moment` (before `starts`: the first one)."""
        number = max(0, (moment - self.starts) // self.shift)
        return self._shift(number)

    def shifts_from(self, moment: datetime) -> Iterator[Shift]:
        """The shift at `moment`, then every later one."""
        first = max(0, (moment - self.starts) // self.shift)
        return (self._shift(number) for number in itertools.count(first))

    def _shift(self, number: int) -> Shift:
        starts = self.starts + number * self.shift
        return Shift(self, self.people[number % len(self.people)], starts, starts + self.shift)


@dataclass(frozen=True)
class Page:
    """A page sent: `paged` was on call for `rotation` when `by` sent `message`."""

    id: int
    rotation: Rotation
    paged: str
    by: str
    message: str
    created_at: datetime


@dataclass
class Roster:
    """Every rotation, by ID in the order given, and the pages sent so far."""

    rotations: Sequence[Rotation]
    clock: Clock = utc_now
    pages: list[Page] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rotations = tuple(self.rotations)
        if not self.rotations:
            raise ValueError("a roster needs at least one rotation")
        if len({r.id for r in self.rotations}) != len(self.rotations):
            raise ValueError("two rotations share an ID")

    def rotation(self, rotation_id: str) -> Rotation:
        """Raises NoSuchRotation."""
        for rotation in self.rotations:
            if rotation.id == rotation_id:
                return rotation
        raise NoSuchRotation(rotation_id)

    def on_call(self) -> list[Shift]:
        """The shift holding each rotation's pager now, in the roster's order."""
        now = self.clock()
        return [rotation.shift_at(now) for rotation in self.rotations]

    def shifts_of(self, username: str) -> list[Shift]:
        """`username`'s current and next shifts on every rotation within SHIFT_HORIZON, soonest
        first, at most MAX_SHIFTS."""
        now = self.clock()
        found: list[Shift] = []
        for rotation in self.rotations:
            for shift in rotation.shifts_from(now):
                if shift.starts >= now + SHIFT_HORIZON:
                    break
                if shift.username == username:
                    found.append(shift)
        return sorted(found, key=lambda s: (s.starts, s.rotation.id))[:MAX_SHIFTS]

    def page(self, by: str, message: str, rotation_id: str | None = None) -> Page:
        """Page whoever is on call for `rotation_id` (the roster's first rotation when None)
        with `message` (surrounding space removed). Raises NoSuchRotation, InvalidPage."""
        rotation = self.rotation(rotation_id) if rotation_id else self.rotations[0]
        text = message.strip()
        if not text:
            raise InvalidPage("A page needs a message.")
        if len(text) > MAX_MESSAGE_LENGTH:
            raise InvalidPage(f"A page's message is at most {MAX_MESSAGE_LENGTH} characters.")
        now = self.clock()
        page = Page(len(self.pages) + 1, rotation, rotation.shift_at(now).username, by, text, now)
        self.pages.append(page)
        return page


def demo_roster(people: Sequence[str], clock: Clock = utc_now) -> Roster:
    """Two weekly rotations over `people`, handing over on Mondays at 09:00 UTC from this
    week's: Platform in the order given, Payments in the reverse order."""
    now = clock()
    monday = (now - timedelta(days=now.weekday())).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    starts = monday if monday <= now else monday - timedelta(weeks=1)
    return Roster(
        [
            Rotation("platform", "Platform", tuple(people), starts),
            Rotation("payments", "Payments", tuple(reversed(people)), starts),
        ],
        clock=clock,
    )
