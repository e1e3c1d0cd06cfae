"""Every listener of the app, registered the way Slack's Bolt templates lay them out."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from . import actions, commands, events


def register_listeners(app: AsyncApp) -> None:
    commands.register(app)
    actions.register(app)
    events.register(app)
