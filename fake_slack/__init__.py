"""A fake Slack for the sandbox and the tests: Slack's Web API, Socket Mode and a page to try
the app as a Slack user would."""

from .server import NO_PAYLOAD, CommandOutcome, FakeSlack, Message
from .workspace import FakeUser, FakeWorkspace

__all__ = ["NO_PAYLOAD", "CommandOutcome", "FakeSlack", "FakeUser", "FakeWorkspace", "Message"]
