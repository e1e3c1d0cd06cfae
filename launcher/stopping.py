"""Stopping the site gracefully on SIGTERM or SIGINT, within SHUTDOWN_TIMEOUT (issue 11).

uvicorn's own stop, which `GracefulServer` keeps, goes: stop accepting connections, ask the
open ones to close after their response, wait for them (`timeout_graceful_shutdown`, here
SHUTDOWN_TIMEOUT; what is still running then is cancelled), then run the lifespan's end,
which closes the Socket Mode handler, the plugin runner and the store. The Slack side cannot
wait for that: until the lifespan's end it would go on taking envelopes. So the stop begins
(`Stopping.begin`) when uvicorn's stop does, before it waits for the pages: the Slack side
stops taking envelopes at once (bolt_app.draining), and both sides share one deadline,
SHUTDOWN_TIMEOUT from the signal. The lifespan's end waits for the Slack work in flight
until that deadline and cuts off the rest, so the process exits within SHUTDOWN_TIMEOUT and
a few seconds of closing.

A stop that was asked for exits 0 (uvicorn would raise the signal again once it stopped, and
the process would end by SIGTERM). A second Ctrl-C forces the stop, as uvicorn does: no more
waiting.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import socket
import threading
import time
from collections.abc import Callable, Generator
from types import FrameType

import uvicorn

log = logging.getLogger("account_binding")

#: The signals that stop the site gracefully.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Stopping:
    """One site's stop: `begin` once, with why; `on_begin` hooks run then (at once when it
    began already). `remaining()` counts down from SHUTDOWN_TIMEOUT (`timeout_seconds`) once
    it began. Used on the event loop only."""

    def __init__(self, timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds
        self.reason: str | None = None
        self._deadline: float | None = None
        self._hooks: list[Callable[[str, float], None]] = []

    @property
    def began(self) -> bool:
        return self._deadline is not None

    def on_begin(self, hook: Callable[[str, float], None]) -> None:
        """Call `hook(reason, seconds_left)` when the stop begins."""
        self._hooks.append(hook)
        if self.reason is not None:
            hook(self.reason, self.remaining())

    def begin(self, reason: str) -> None:
        """Begin the stop (`reason`: "SIGTERM", or what asked for it); later calls do nothing."""
        if self.reason is not None:
            return
        self.reason = reason
        self._deadline = time.monotonic() + self.timeout_seconds
        log.info(
            "Stopping (%s): taking no new Slack envelopes or connections; waiting up to %gs "
            "(SHUTDOWN_TIMEOUT) for the commands and pages in flight",
            reason,
            self.timeout_seconds,
        )
        for hook in self._hooks:
            hook(reason, self.remaining())

    def remaining(self) -> float:
        """Seconds left before the deadline: SHUTDOWN_TIMEOUT before the stop began, 0 after
        the deadline."""
        if self._deadline is None:
            return self.timeout_seconds
        return max(0.0, self._deadline - time.monotonic())


class GracefulServer(uvicorn.Server):
    """uvicorn's server whose stop begins `stopping` first, waits for the pages in flight until
    its deadline, and exits 0 after a stop asked for by SIGTERM or SIGINT (see the module)."""

    def __init__(self, config: uvicorn.Config, stopping: Stopping) -> None:
        config.timeout_graceful_shutdown = math.ceil(stopping.timeout_seconds)
        super().__init__(config)
        self.stopping = stopping
        self.signal_name: str | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.signal_name is None:
            with contextlib.suppress(ValueError):
                self.signal_name = signal.Signals(sig).name
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.stopping.begin(self.signal_name or "asked to stop")
        await super().shutdown(sockets=sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """As uvicorn's, but without raising the signal again after the stop: it was handled."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)
