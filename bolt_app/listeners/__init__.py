"""Every listener of the app, registered the way Slack's Bolt templates lay them out."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from ..services import SlackServices
from . import actions, commands, events
from .actions import home_buttons
from .events import app_home
from .shortcuts import connect_account


def register_listeners(app: AsyncApp, services: SlackServices | None = None) -> None:
    commands.register(app)
    actions.register(app)
    # Issue 10, App Home and the shortcut "Connect account":
    app_home.register(app)
    home_buttons.register(app)
    connect_account.register(app, services.binding_triggers if services else ())
    # Issue 10, lifecycle: app_uninstalled, tokens_revoked, user_change
    events.register(app)
