"""The state of the Slack connection, as the Socket Mode side last set it.

One `ConnectionState` per process (`launcher.compose` makes it): the Socket Mode handler
sets it, `/readyz` and `/metrics` read it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

#: - "starting": not connected yet;
#: - "connected": a Socket Mode websocket is open and Slack said `hello`;
#: - "reconnecting": the connection dropped or Slack asked it to go; a new one is being made;
#: - "link_disabled": Slack said `disconnect` with reason `link_disabled` (Socket Mode is off
#:   for the app); the app no longer reconnects and stays not ready;
#: - "sandbox": the sandbox's fake Slack on loopback (connected like "connected");
#: - "stopped": the process is shutting down.
State = Literal["starting", "connected", "reconnecting", "link_disabled", "sandbox", "stopped"]
STATES: tuple[State, ...] = (
    "starting",
    "connected",
    "reconnecting",
    "link_disabled",
    "sandbox",
    "stopped",
)


class ConnectionState:
    """The current `State`, why it was set (a short text for the log and `/readyz`, never a
    secret), and when (Unix seconds). Listeners (`on_change`) are called on every change."""

    def __init__(self, state: State = "starting") -> None:
        self.state: State = state
        self.reason = ""
        self.since = time.time()
        self._listeners: list[Callable[[State], None]] = []

    def set(self, state: State, reason: str = "") -> None:
        changed = state != self.state
        self.state, self.reason = state, reason
        if changed:
            self.since = time.time()
            for listener in self._listeners:
                listener(state)

    def on_change(self, listener: Callable[[State], None]) -> None:
        self._listeners.append(listener)
        listener(self.state)

    @property
    def serving(self) -> bool:
        """True when envelopes can arrive: connected to Slack, or the sandbox's fake Slack."""
        return self.state in ("connected", "sandbox")
