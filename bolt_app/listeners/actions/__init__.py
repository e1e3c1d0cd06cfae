from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from ...messages import OPEN_LINK_ACTION
from .open_link import acknowledge_link_button


def register(app: AsyncApp) -> None:
    app.action(OPEN_LINK_ACTION)(acknowledge_link_button)
