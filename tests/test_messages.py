"""What the Slack side says, and how the sandbox shows it."""

from __future__ import annotations

from bolt_app import messages
from bolt_app.internal_api import Me, TodoItem
from fake_slack.blocks_html import mrkdwn


def test_text_from_people_is_escaped_in_every_part_of_a_message() -> None:
    hostile = "<!channel> <https://evil.example|click> & co"
    for reply in (
        messages.todo_added_reply(TodoItem(1, hostile, False)),
        messages.todo_completed_reply(TodoItem(1, hostile, True)),
        messages.whoami_reply(Me(hostile, hostile), "Acme"),
        messages.bound_dm("Acme", hostile),
    ):
        rendered = reply.text + str(reply.blocks)
        assert "<!channel>" not in rendered and "<https://evil" not in rendered, reply
        assert "& co" not in rendered, reply
        assert "&lt;!channel&gt;" in rendered


def test_the_sandbox_renders_slack_links_but_not_escaped_text_as_links() -> None:
    html = str(
        mrkdwn("*Hi* &lt;https://evil.example|click&gt; <https://ok.example/?a=1&amp;b=2|here>")
    )
    assert '<a href="https://ok.example/?a=1&amp;b=2">here</a>' in html
    assert "evil.example" in html and 'href="https://evil' not in html
    assert "<strong>Hi</strong>" in html
    assert str(mrkdwn("<script>")) == "&lt;script&gt;"
