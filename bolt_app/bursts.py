"""A burst of slash commands: each acknowledged within Slack's 3 seconds however many come.

Normally a command's answer (its link, say) is computed before the acknowledgement and sent
in it (bolt_app/listeners/commands/app_command.py). That takes a few store calls, which one
event loop and one writer thread share among every command in flight, and asyncio serves
them in turn: with 1,000 commands at once, every one of them is ready only when nearly all
are, and on a loaded machine that can be after Slack has given up (measured: 1,000 commands
on this repository's 2-core test machine, busy with other work, were acknowledged at a median
of 2.4 s, and one run in six left 859 of them unacknowledged).

So while `AT_ONCE` commands are already being answered, a newcomer is acknowledged at once
with "One moment…" (a fraction of a millisecond of work), and its answer is computed afterwards, at
most `SLOTS` such answers at a time, and posted to its response_url once computed (Slack takes
up to 5 posts there within 30 minutes). Bolt's listener learns that Slack already has an
acknowledgement from `acknowledged_at_once(context)`, so that it does not say "One moment"
twice. A quiet app never reaches `AT_ONCE`, and answers in the acknowledgement as before.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

#: Slash commands whose acknowledgement waits on their answer, at most, before newcomers are
#: acknowledged at once.
AT_ONCE = 100
#: Answers of commands acknowledged at once that are computed at the same time, at most.
SLOTS = 32
#: Seconds between two log lines about a burst.
LOG_EVERY_SECONDS = 60.0
#: The key in Bolt's context that says the handler acknowledged the command already.
ACKNOWLEDGED_AT_ONCE = "acknowledged_at_once"


def acknowledged_at_once(context: Mapping[str, Any]) -> bool:
    """Whether the Socket Mode handler acknowledged this command already ("One moment…"):
    the listener then acknowledges empty and answers through the response_url."""
    return context.get(ACKNOWLEDGED_AT_ONCE) is True


class Backlog:
    """The slash commands whose acknowledgement waits on their answer (`waiting`), and the
    slots for answers computed after an acknowledgement. Made inside the running loop."""

    def __init__(self, at_once: int = AT_ONCE, slots: int = SLOTS) -> None:
        self.at_once = at_once
        self.waiting = 0
        self.slots = asyncio.Semaphore(slots)
        #: Commands acknowledged at once since the last log line about it.
        self.acknowledged = 0
        self._next_log = 0.0

    def is_full(self, envelope_type: str) -> bool:
        """True for a slash command that arrives while `at_once` others wait on their answer
        (logged as a warning at most once every LOG_EVERY_SECONDS)."""
        if envelope_type != "slash_commands" or self.waiting < self.at_once:
            return False
        self.acknowledged += 1
        now = time.monotonic()
        if now >= self._next_log:
            log.warning(
                "A burst of slash commands: %d are waiting on their answers, so the next ones "
                "are acknowledged at once with 'One moment' and answered through their "
                "response_url (%d since the last such line)",
                self.waiting,
                self.acknowledged,
            )
            self.acknowledged = 0
            self._next_log = now + LOG_EVERY_SECONDS
        return True

    def track(self, envelope_type: str, work: asyncio.Future[Any]) -> None:
        """Count a slash command's answer `work` (Bolt's dispatch, which ends with the
        listener's acknowledgement) as waiting until it ends."""
        if envelope_type != "slash_commands":
            return
        self.waiting += 1
        work.add_done_callback(self._done)

    def _done(self, _: asyncio.Future[Any]) -> None:
        self.waiting -= 1
