"""No object's repr or str shows a secret: a repr ends up in logs, tracebacks and debuggers."""

from __future__ import annotations

from fake_slack import FakeSlack
from launcher.compose import SlackConnection
from launcher.sandbox import Sandbox


def test_the_slack_connection_hides_its_tokens() -> None:
    slack = SlackConnection("xoxb-bot-secret-value", "xapp-app-secret-value", "https://x/api/")
    for text in (repr(slack), str(slack)):
        assert "bot-secret-value" not in text and "app-secret-value" not in text
        assert "https://x/api/" in text


def test_the_sandbox_hides_the_demo_password_and_the_fake_slacks_tokens() -> None:
    fake = FakeSlack(bot_token="xoxb-fake-secret", app_token="xapp-fake-secret")
    box = Sandbox(fake=fake, demo_password="demo-password-value")
    for text in (repr(box), str(box), repr(box.slack)):
        assert "demo-password-value" not in text and "fake-secret" not in text, text
