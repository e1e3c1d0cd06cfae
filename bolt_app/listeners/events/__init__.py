"""Events API listeners (events arrive over Socket Mode; Bolt acknowledges each at once)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from . import lifecycle


def register(app: AsyncApp) -> None:
    # Issue 10, lifecycle: app_uninstalled, tokens_revoked, user_change
    lifecycle.register(app)
