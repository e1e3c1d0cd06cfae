"""What became of the slash command being handled, counted once per command for /metrics
(`Metrics.command_finished`; the outcomes are `monitoring.metrics.CommandOutcome`).

The command listener wraps each command in `counted(metrics)`; the code that decides what
the person is told calls `note(outcome)` where it decides it (a refusal, a link, the
internal application not answering, a failure), and the last note before the command ends
is what is counted: "answered" when nothing was noted, "failed" when the listener raised.
The note travels in a context variable, so the work the listener runs in tasks of its own
(started inside `counted`) notes into the same command; code outside a command (a resumed
command, a button) notes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from monitoring.metrics import CommandOutcome, Metrics


class _Outcome:
    """The command's outcome so far (mutable: tasks started within share it)."""

    def __init__(self) -> None:
        self.value: CommandOutcome = "answered"


_current: ContextVar[_Outcome | None] = ContextVar("command_outcome", default=None)


@contextmanager
def counted(metrics: Metrics) -> Iterator[None]:
    """Count the command run within as one `Metrics.command_finished`, with the outcome last
    noted ("answered" when none was, "failed" when it raised)."""
    outcome = _Outcome()
    token = _current.set(outcome)
    try:
        yield
    except BaseException:
        outcome.value = "failed"
        raise
    finally:
        _current.reset(token)
        metrics.command_finished(outcome.value)


def note(outcome: CommandOutcome) -> None:
    """The command being handled ends this way unless something later says otherwise; a
    no-op outside a command."""
    current = _current.get()
    if current is not None:
        current.value = outcome
