"""Events API listeners (over Socket Mode)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from . import lifecycle


def register(app: AsyncApp) -> None:
    lifecycle.register(app)
