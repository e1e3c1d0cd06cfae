"""Text from Slack as Slack really sends it: typed text HTML-escaped, and names people choose
for themselves (with bidirectional overrides, invisible characters, any length, pictures
from anywhere). The real app against the fake Slack, which escapes as Slack does."""

from __future__ import annotations

import unicodedata

import pytest
from conftest import RunningApp

from account_binding.errors import SlackUnavailable
from account_binding.models import SlackIdentity
from account_binding.text import DISPLAY_NAME_LIMIT, display_name, slack_image_url
from bolt_app.app import build_web_client
from bolt_app.command_payload import CommandRequest
from bolt_app.slack_directory import SlackUsersDirectory
from fake_slack import FakeSlack, FakeUser


def identity(user_id: str) -> SlackIdentity:
    return SlackIdentity.from_ids(team_id="T0SANDBOX", user_id=user_id, enterprise_id=None)


LONG = "Alice " + "x" * 4969 + " Verified, safe to connect"
#: A display name of characters that draw nothing, none of them a format character.
BLANK_LOOKING = "\u3164\u115f\u2800\ufe0f\U000e0100\u180b\u034f\u17b4"

#: Every character the cleaning must drop as drawing nothing: Unicode's
#: Default_Ignorable_Code_Point set (DerivedCoreProperties.txt), its letters and marks
#: especially, and the Braille blank.
DRAWS_NOTHING = [
    *"\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u180f",
    *"\u200b\u200c\u200d\u200e\u200f\u202a\u202e\u2060\u2064\u2065\u206f",
    *"\u3164\ufe00\ufe0e\ufe0f\ufeff\uffa0\ufff0\U0001bca0\U0001d173\U0001d17a",
    *"\U000e0001\U000e0041\U000e007f\U000e0100\U000e01ef\U000e0fff\u2800",
]

HOSTILE = FakeUser(
    "U0ALICE",
    "alice\u202e",
    "Alice Smith",
    "alice@example.com",
    display_name="alice\u202e" + LONG,
    image_72="https://tracker.example/pixel.png",
)


async def test_typed_text_is_stored_and_shown_as_typed(running_app: RunningApp) -> None:
    app = running_app
    await app.bind("ada", "U0ADA")
    delivered = app.fake.slash_command_payload("U0ADA", "todo add Fish & chips <today>")
    assert delivered["text"] == "todo add Fish &amp; chips &lt;today&gt;"  # as Slack sends it
    added = await app.command("U0ADA", "todo add Fish & chips <today>")
    assert app.query("SELECT title FROM todos") == [("Fish & chips <today>",)]
    assert "Fish &amp; chips &lt;today&gt;" in added[-1].text  # escaped once, for mrkdwn
    assert "&amp;amp;" not in added[-1].text + str(added[-1].blocks)
    listed = await app.command("U0ADA", "todo")
    assert "Fish &amp; chips &lt;today&gt;" in str(listed[-1].blocks)
    assert "&amp;amp;" not in str(listed[-1].blocks)


async def test_an_unknown_word_is_quoted_as_typed(running_app: RunningApp) -> None:
    help_reply = await running_app.command("U0ALAN", "R&D <stuff>")
    text = help_reply[0].blocks[0]["text"]["text"]
    assert "`R&amp;D &lt;stuff&gt;`" in text and "&amp;amp;" not in text


async def test_a_wrong_to_do_number_gets_the_usage_of_todo_done(running_app: RunningApp) -> None:
    app = running_app
    await app.bind("ada", "U0ADA")
    for text in ("todo done 99999999999999999999", "todo done seven", "todo done", "todo done 0"):
        reply = await app.command("U0ADA", text)
        assert len(reply) == 1 and reply[0].source == "ack", text
        assert reply[0].text == "Usage: /acme todo done &lt;number&gt;", text
        assert "in Slack" not in str(reply[0].blocks)  # not the whole help
    biggest = await app.command("U0ADA", "todo done 9223372036854775807")
    assert biggest[-1].source == "response_url"  # a number SQLite holds goes to the API


@pytest.mark.parametrize("char", DRAWS_NOTHING, ids=lambda c: f"U+{ord(c):04X}")
def test_characters_that_draw_nothing_are_removed_from_names(char: str) -> None:
    assert display_name(f"Ada{char}") == "Ada"
    assert display_name(f"{char}A{char}{char}da {char}L") == "Ada L"
    assert display_name(char * 5) == ""


def test_a_name_that_draws_nothing_counts_as_absent() -> None:
    assert display_name(BLANK_LOOKING) == ""
    assert display_name(f" {BLANK_LOOKING} \u3000{BLANK_LOOKING}") == ""
    payload = {
        "team_id": "T0SANDBOX",
        "user_id": "U0BLANK",
        "command": "/acme",
        "text": "link",
        "user_name": BLANK_LOOKING,
        "team_domain": "sandbox",
        "enterprise_id": "E0ORG",
        "enterprise_name": BLANK_LOOKING,
    }
    profile = CommandRequest.from_payload(payload).profile
    assert profile.user_name == "U0BLANK"  # the ID, not a blank
    assert profile.team_name == "sandbox"  # the next name, not the ID
    del payload["team_domain"]
    assert CommandRequest.from_payload(payload).profile.team_name == "T0SANDBOX"


async def test_the_confirm_page_shows_no_blank_looking_name(running_app: RunningApp) -> None:
    """Names that draw nothing are left out: the page names the person by what is left
    (their user name) and always by their Slack user ID."""
    app = running_app
    app.fake.set_user(
        FakeUser("U0BLANK", "bob", BLANK_LOOKING, "bob@example.com", display_name=BLANK_LOOKING)
    )
    directory = SlackUsersDirectory(build_web_client(app.fake.bot_token, app.fake.api_url))
    person = await directory.person(identity("U0BLANK"))
    assert person is not None and person.real_name == "" and person.display_name == ""
    await app.add_user("ada")
    before = len(app.fake.state.messages)
    await app.fake.send_slash_command("U0BLANK", "link", user_name=BLANK_LOOKING)
    assert app.query("SELECT user_name FROM binding_requests") == [("U0BLANK",)]
    url = next(
        b["elements"][0]["url"]
        for m in app.fake.state.messages[before:]
        for b in m.blocks
        if b["type"] == "actions"
    )
    _, page = await app.open_link_as("ada", url)
    assert page.status_code == 200 and "U0BLANK" in page.text
    assert not any(c in page.text for c in BLANK_LOOKING), page.text
    assert "Real name:" not in page.text and "Display name:" not in page.text
    assert 'User name: <bdi class="name">@U0BLANK</bdi>' in page.text


def test_self_chosen_names_lose_bidirectional_and_invisible_characters() -> None:
    assert display_name("alice\u202e") == "alice"
    assert display_name("\u2067evil\u2069 \u200bAda\u200d\u00ad") == "evil Ada"
    assert display_name("Ada\nLovelace\u2028\tAdmin") == "Ada Lovelace Admin"
    assert display_name("\u3164\u115f") == ""  # Hangul fillers draw nothing
    assert display_name("x" + "\u0301" * 50) == "x" + "\u0301" * 3
    assert display_name("Ze\u0301") == "Zé"  # NFC
    assert display_name("x\U000e0041\U000e007f") == "x"  # tag characters
    assert display_name(None) == "" and display_name(["Ada"]) == ""
    long = display_name(LONG)
    assert len(long) == DISPLAY_NAME_LIMIT and long.endswith("…")
    assert "Verified" not in long
    assert all(
        unicodedata.category(c) != "Cf"
        for c in display_name("".join(map(chr, range(0x2000, 0x2070))))
    )


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://avatars.slack-edge.com/2024-01-01/123_abc_72.png", True),
        ("https://a.slack-edge.com/80588/img/avatars/ava_0001-72.png", True),
        ("https://tracker.example/pixel.png", False),
        ("http://avatars.slack-edge.com/x.png", False),
        ("https://slack-edge.com.evil.example/x.png", False),
        ("https://evilslack-edge.com/x.png", False),
        ("https://evil.example\\@avatars.slack-edge.com/x.png", False),
        ("https://user@avatars.slack-edge.com/x.png", False),
        ("https://avatars.slack-edge.com:8443/x.png", False),
        ("https://secure.gravatar.com/avatar/abc.jpg", False),
        ("javascript:alert(1)//.slack-edge.com", False),
        ("", False),
        (None, False),
    ],
)
def test_avatars_come_only_from_slacks_image_hosts(url: object, kept: bool) -> None:
    assert slack_image_url(url) == (url if kept else None)


async def test_the_directory_cleans_what_people_chose(running_app: RunningApp) -> None:
    app = running_app
    app.fake.set_user(HOSTILE)
    directory = SlackUsersDirectory(build_web_client(app.fake.bot_token, app.fake.api_url))
    person = await directory.person(identity("U0ALICE"))
    assert person is not None
    assert person.real_name == "Alice Smith"
    assert "\u202e" not in person.display_name and "Verified" not in person.display_name
    assert len(person.display_name) <= DISPLAY_NAME_LIMIT
    assert person.image_url is None  # an outside host: the page shows initials
    app.fake.set_user(
        FakeUser(
            "U0ALICE",
            "alice",
            "Alice Smith",
            "alice@example.com",
            image_72="https://avatars.slack-edge.com/a_72.png",
        )
    )
    person = await directory.person(identity("U0ALICE"))
    assert person and person.image_url == "https://avatars.slack-edge.com/a_72.png"


async def test_the_confirm_page_shows_no_override_long_name_or_outside_picture(
    running_app: RunningApp,
) -> None:
    app = running_app
    app.fake.set_user(HOSTILE)
    await app.add_user("ada")
    before = len(app.fake.state.messages)
    await app.fake.send_slash_command("U0ALICE", "link", user_name="alice\u202e" + LONG)
    stored = app.query("SELECT user_name, command FROM binding_requests")
    assert stored == [(display_name("alice" + LONG), "/acme")]
    url = next(
        b["elements"][0]["url"]
        for m in app.fake.state.messages[before:]
        for b in m.blocks
        if b["type"] == "actions"
    )
    _, page = await app.open_link_as("ada", url)
    assert page.status_code == 200 and "U0ALICE" in page.text
    assert "\u202e" not in page.text
    assert "Verified, safe to connect" not in page.text
    assert "tracker.example" not in page.text


@pytest.fixture
async def fake() -> FakeSlack:
    return FakeSlack(bot_token="xoxb-1", app_token="xapp-1")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (429, "ratelimited"),
        (503, "service_unavailable"),
        (500, "internal_error"),
        (200, "fatal_error"),
    ],
)
async def test_a_temporary_slack_failure_is_slack_unavailable_not_no_such_person(
    fake: FakeSlack, status: int, error: str
) -> None:
    await fake.start()
    try:
        directory = SlackUsersDirectory(build_web_client("xoxb-1", fake.api_url))
        ada = identity("U0ADA")
        fake.fail("users.info", error, status=status, retry_after=30 if status == 429 else None)
        with pytest.raises(SlackUnavailable):
            await directory.person(ada)
        assert await directory.person(identity("U404")) is None
        fake.slow("users.info", 1.5)
        quick = SlackUsersDirectory(build_web_client("xoxb-1", fake.api_url), deadline_seconds=0.5)
        with pytest.raises(SlackUnavailable):
            await quick.person(ada)
        person = await directory.person(ada)
        assert person and person.real_name == "Ada Lovelace"
    finally:
        await fake.stop()


def test_the_printable_ascii_shortcut_gives_what_the_full_sanitising_gives() -> None:
    """Issue 12: display_name skips its per-character pass for printable ASCII; the result
    must be the same as the full pass's for every such name."""
    import random
    import string

    from account_binding.text import DISPLAY_NAME_LIMIT, _sanitised

    rng = random.Random(12)
    names = ["", " ", "Ada Lovelace", "  a   b  ", "x" * (DISPLAY_NAME_LIMIT + 5), "a" + " " * 90]
    names += [
        "".join(rng.choices(string.printable[:95], k=rng.randint(0, 120))) for _ in range(500)
    ]
    for name in names:
        assert name.isascii() and name.isprintable()
        assert display_name(name) == _sanitised(name, DISPLAY_NAME_LIMIT), repr(name)
        assert display_name(name, 10) == _sanitised(name, 10), repr(name)
