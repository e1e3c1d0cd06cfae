"""A fake Slack for the sandbox and the tests: Slack's Web API, Socket Mode and a page to try
the app as a Slack user would.

`FakeSlack` plays Slack: slash commands, Events API deliveries (`send_event` with
`app_home_opened_event`, `user_change_event`, `app_uninstalled_event`,
`tokens_revoked_event`), button clicks on messages and the Home tab (`click`, `click_home`,
with Slack's confirm rule), global shortcuts (`run_shortcut`), `views.publish`
(`home_view`), and workspace changes (`set_user`, `delete_user`, `join_org`). The
`fake_slack.server` docstring gives each one's shape.
"""

from .server import NO_PAYLOAD, CommandOutcome, FakeSlack, Message
from .workspace import FakeUser, FakeWorkspace, crowd

__all__ = [
    "NO_PAYLOAD",
    "CommandOutcome",
    "FakeSlack",
    "FakeUser",
    "FakeWorkspace",
    "Message",
    "crowd",
]
