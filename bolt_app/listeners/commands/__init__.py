from __future__ import annotations

import re

from slack_bolt.async_app import AsyncApp

from .app_command import app_command

#: The command answers under whatever name the manifest gives it.
ANY_COMMAND = re.compile(r"^/.+")


def register(app: AsyncApp) -> None:
    app.command(ANY_COMMAND)(app_command)
