from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from ...messages import DISCONNECT_ACTION, KEEP_ACTION, OPEN_LINK_ACTION
from .disconnect import disconnect, keep
from .open_link import acknowledge_link_button


def register(app: AsyncApp) -> None:
    app.action(OPEN_LINK_ACTION)(acknowledge_link_button)
    # Issue 10, unbinding: the answers to unlink's question.
    app.action(DISCONNECT_ACTION)(disconnect)
    app.action(KEEP_ACTION)(keep)
