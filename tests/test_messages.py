"""What the Slack side says, and how the sandbox shows it."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from bolt_app import messages
from bolt_app.blocks import context, fields
from bolt_app.commands import (
    Argument,
    Arguments,
    CommandContext,
    CommandPlugin,
    Subcommand,
    core,
)
from bolt_app.commands.table import CommandTable
from fake_slack.blocks_html import mrkdwn

HOSTILE = "<!channel> <https://evil.example|click> & co"
ESCAPED = "&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; co"


def assert_escaped(reply: messages.Reply) -> None:
    """No raw mrkdwn control sequence from `HOSTILE` in the fallback text or in any block."""
    for part in (reply.text, str(reply.blocks)):
        assert "<!channel>" not in part and "<https://evil" not in part, reply
        assert "& co" not in part, reply
    assert ESCAPED in reply.text + str(reply.blocks), reply


def test_text_from_people_is_escaped_in_every_part_of_a_message() -> None:
    for reply in (
        core.whoami_reply(HOSTILE, HOSTILE, "Acme"),
        messages.bound_dm("Acme", HOSTILE),
    ):
        assert_escaped(reply)


# One test per reply that carries text from people: each fails when that reply's escaping
# is removed (SECURITY.md, mrkdwn injection).


async def _noop(ctx: CommandContext, args: Arguments) -> None:
    return None


WITH_ARGUMENTS = Subcommand(
    "note add",
    "adds a note in {app}",
    _noop,
    [Argument("title"), Argument("when", optional=True)],
)


TABLE = CommandTable([CommandPlugin("notes", [WITH_ARGUMENTS])], first=core.FIRST, last=core.LAST)


def test_the_help_escapes_the_unknown_words() -> None:
    reply = messages.help_reply(TABLE, "/acme", "Acme", unknown=HOSTILE)
    assert ESCAPED in reply.blocks[0]["text"]["text"]
    assert "<!channel>" not in str(reply.blocks) and "& co" not in str(reply.blocks)


def test_the_help_and_usage_lines_escape_their_placeholders() -> None:
    for reply in (
        messages.help_reply(TABLE, "/acme", "Acme"),
        messages.usage_reply("/acme", WITH_ARGUMENTS, "Acme"),
    ):
        rendered = reply.text + str(reply.blocks)
        assert "<title>" not in rendered and "[when]" in rendered, reply
        assert "&lt;title&gt;" in rendered, reply


def test_the_error_reply_escapes_its_message() -> None:
    assert_escaped(messages.error_reply(f"Acme refused: {HOSTILE}"))


@pytest.mark.parametrize(
    "build",
    [
        lambda name: messages.help_reply(TABLE, "/acme", name),
        lambda name: messages.usage_reply("/acme", core.LINK, name),
        lambda name: messages.link_reply("https://x.example/bind/n", name, 600),
        lambda name: messages.already_linked_reply(name, "/acme"),
        lambda name: messages.unlinked_reply(name, was_linked=True),
        lambda name: core.whoami_reply("ada", "ada@example.com", name),
        lambda name: messages.bound_dm(name, "ada"),
        lambda name: messages.unbound_dm(name),
        lambda name: messages.outside_installation_reply(name, "workspace"),
    ],
)
def test_the_application_name_is_escaped_in_mrkdwn(
    build: Callable[[str], messages.Reply],
) -> None:
    reply = build("R&D <tools>")
    mrkdwn_parts = reply.text + str(
        [b for b in reply.blocks if b.get("type") != "header" and b.get("type") != "actions"]
    )
    assert "R&D" not in mrkdwn_parts and "<tools>" not in mrkdwn_parts, reply


def test_the_sandbox_renders_slack_links_but_not_escaped_text_as_links() -> None:
    html = str(
        mrkdwn("*Hi* &lt;https://evil.example|click&gt; <https://ok.example/?a=1&amp;b=2|here>")
    )
    assert '<a href="https://ok.example/?a=1&amp;b=2">here</a>' in html
    assert "evil.example" in html and 'href="https://evil' not in html
    assert "<strong>Hi</strong>" in html
    assert str(mrkdwn("<script>")) == "&lt;script&gt;"


@pytest.mark.parametrize(
    ("ttl", "words"),
    [
        (30, "expires in 30 seconds"),
        (90, "expires in 1 minute 30 seconds"),
        (600, "expires in 10 minutes"),
        (5400, "expires in 1 hour 30 minutes"),
        (604800, "expires in 7 days"),
    ],
)
def test_the_link_reply_says_the_links_real_lifetime(ttl: int, words: str) -> None:
    """BINDING_TTL=30 was announced as "1 minute" and 604800 as "10080 minutes"."""
    reply = messages.link_reply("http://localhost:8000/bind/x", "Acme", ttl)
    assert words in json.dumps(reply.blocks)


def test_the_fields_helper_keeps_within_slacks_limit() -> None:
    """LOW: Slack refuses a section field over 2000 characters (invalid_blocks); fields()
    cuts nothing, so a plugin showing a long description through the project's own helper
    gets its reply refused by the response_url, and the person sees nothing."""
    block = fields([("Description", "x" * 2500)])
    assert all(len(field["text"]) <= 2000 for field in block["fields"])


def test_the_context_helper_keeps_within_slacks_limit() -> None:
    """LOW: a mrkdwn text object holds at most 3000 characters; context() cuts nothing."""
    block = context("y" * 3500)
    assert all(len(element["text"]) <= 3000 for element in block["elements"])
