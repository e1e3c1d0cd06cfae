"""Many at once (issue 11, item 8): the real app in its own process, over Socket Mode to a
fake Slack, on a real SQLite file.

- 100 confirmations of one link at once make exactly one binding; every other one gets a
  4xx page that says the link was used or the person is connected, never a 500.
- 1,000 slash commands at once from 1,000 people not yet connected: each is acknowledged
  within Slack's 3 seconds, each person gets a link of their own that opens, and no reply
  says the database was busy or anything failed.
- Connect pressed at once by many people, each on their own link: every one binds.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import LINK, RunningApp, write_lock_held
from crowd import (
    CONNECTED,
    add_users,
    connect,
    limited,
    nonce_of,
    open_for,
    open_with_session,
    serving,
    session_for,
    wait_for_links,
)

from account_binding.sessions import MAX_SESSIONS_PER_USER
from bolt_app.bursts import AT_ONCE
from fake_slack import Message
from web import cookies

#: Words of a reply that says something went wrong (bolt_app.messages, StoreBusy, Slack's).
#: The confirm page's Connect button.
CONNECT = 'value="connect"'
TROUBLE = ("busy", "locked", "went wrong", "try again", "operation_timeout", "failed")


def troubled(message: Message) -> bool:
    words = LINK.sub("", message.text).lower()  # a random link may spell "busy"
    return any(word in words for word in TROUBLE)


async def test_a_hundred_confirmations_of_one_link_make_exactly_one_binding(
    tmp_path: Path,
) -> None:
    """Ten browsers hold sessions of the same account (ada: as many sessions as one account
    keeps), ninety of other accounts, each session made for the link as a login makes one:
    whichever POST takes the write lock first binds; the rest find the link used."""
    others = [f"user{n}" for n in range(90)]
    async with serving(tmp_path, people=0) as crowd:
        await add_users(crowd.store, ["ada", *others])
        outcome = await crowd.fake.send_slash_command("U0ADA", "link")
        assert outcome.acked
        (url,) = (await crowd.wait_for_links(["U0ADA"], 10)).values()
        names = ["ada"] * MAX_SESSIONS_PER_USER + others
        browsers = [crowd.browser() for _ in names]
        pages = await limited(
            [
                lambda b=b, n=n: open_with_session(b, url, crowd.store, n)
                for b, n in zip(browsers, names, strict=True)
            ],
            at_once=8,
        )
        pressed = await asyncio.gather(
            *(connect(b, page) for b, page in zip(browsers, pages, strict=True))
        )
        answers = [(answer.status_code, answer.text) for answer in pressed]

        statuses = sorted(status for status, _ in answers)
        assert not [s for s in statuses if s >= 500], statuses
        winners = [text for status, text in answers if status == 200]
        assert len(winners) == 1 and CONNECTED in winners[0], statuses
        for status, text in answers:
            if status != 200:
                assert status in (409, 410), (status, text)
                assert "Already connected" in text or "already used" in text, text
        assert crowd.query("SELECT count(*) FROM bindings") == [(1,)]
        assert crowd.query("SELECT used_at IS NOT NULL, ended_reason FROM binding_requests") == [
            (1, "bound")
        ]
        # The binding works, from Slack.
        whoami = await crowd.answer_to("U0ADA", "whoami")
        assert whoami.text.startswith("You are ")
    assert "Traceback" not in crowd.app.output
    assert "database is locked" not in crowd.app.output
    assert "StoreBusy" not in crowd.app.output


async def test_a_thousand_commands_at_once_each_get_a_working_link(tmp_path: Path) -> None:
    """Each is acknowledged in time (the fake Slack waits 3 s per envelope, as Slack does),
    each person's link is their own and opens their confirm page, and nobody is told of a
    busy database."""
    async with serving(tmp_path, people=1000) as crowd:
        people = [person.id for person in crowd.people]
        names = {person: f"user{n}" for n, person in enumerate(people)}
        await add_users(crowd.store, names.values())
        warm = await crowd.fake.send_slash_command("U0ADA", "help")  # auth.test is behind it
        assert warm.acked

        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(crowd.fake.send_slash_command(person, "link") for person in people)
        )

        late = [o.envelope_id for o in outcomes if not o.acked]
        assert not late, f"{len(late)} of {len(people)} commands were not acknowledged in 3 s"
        seconds = sorted(o.ack_seconds or 0.0 for o in outcomes)
        print(  # the figures, for `pytest -s`
            f"1,000 commands: acknowledged in {statistics.median(seconds):.2f} s (median), "
            f"{seconds[int(len(seconds) * 0.99)]:.2f} s (99th), {seconds[-1]:.2f} s (slowest)"
        )
        links = await crowd.wait_for_links(people, 60)
        print(f"Every link had arrived {time.monotonic() - started:.1f} s after the burst began")
        assert len(links) == len(people)
        assert len(set(links.values())) == len(people)  # each their own
        replies = [m for m in crowd.fake.state.messages if m.user_id in set(people)]
        assert not [m.text for m in replies if troubled(m)]
        for message in replies:  # a link, or "One moment…" before it
            assert LINK.search(str(message.blocks)) or message.text == "One moment…", message

        opener = crowd.browser()

        async def opens(url: str) -> int:
            return (await opener.get(urlsplit(url).path)).status_code

        statuses = await limited([lambda u=u: opens(u) for u in links.values()], at_once=20)
        assert statuses == [303] * len(people)
        assert crowd.query(
            "SELECT count(DISTINCT slack_user_id) FROM binding_requests WHERE used_at IS NULL"
        ) == [(len(people),)]

        async def confirm_page(person: str) -> bool:
            """The person's confirm page, with their link's cookie and a session of their
            account made for the link (sent as the Cookie header: one client for all)."""
            url = links[person]
            token = await session_for(crowd.store, names[person], url)
            page = await opener.get(
                "/bind",
                headers={"Cookie": f"{cookies.LINK}={nonce_of(url)}; {cookies.SESSION}={token}"},
            )
            return page.status_code == 200 and person in page.text and CONNECT in page.text

        shown = await limited([lambda p=p: confirm_page(p) for p in people], at_once=20)
        assert shown == [True] * len(people)

        # One of them connects, all the way, logging in with their password.
        person = people[500]
        browser = crowd.browser()
        page = await open_for(browser, links[person], names[person])
        done = await connect(browser, page)
        assert done.status_code == 200 and CONNECTED in done.text
    assert "database is locked" not in crowd.app.output
    assert "StoreBusy" not in crowd.app.output
    assert "Traceback" not in crowd.app.output


async def test_many_people_pressing_connect_at_once_are_all_connected(tmp_path: Path) -> None:
    """A hundred people, each with their own link and account, press Connect at the same
    moment: every one gets the success page and a binding."""
    async with serving(tmp_path, people=100) as crowd:
        people = [person.id for person in crowd.people]
        names = [f"user{n}" for n in range(len(people))]
        await add_users(crowd.store, names)
        outcomes = await asyncio.gather(
            *(crowd.fake.send_slash_command(person, "link") for person in people)
        )
        assert all(o.acked for o in outcomes)
        links = await crowd.wait_for_links(people, 30)
        browsers = [crowd.browser() for _ in people]
        pages = await limited(
            [
                lambda b=b, p=p, n=n: open_with_session(b, links[p], crowd.store, n)
                for b, p, n in zip(browsers, people, names, strict=True)
            ],
            at_once=8,
        )

        answers = await asyncio.gather(
            *(connect(b, page) for b, page in zip(browsers, pages, strict=True))
        )

        assert [a.status_code for a in answers] == [200] * len(people)
        assert all(CONNECTED in a.text for a in answers)
        bound = crowd.query(
            "SELECT bindings.slack_user_id, users.username FROM bindings "
            "JOIN users ON users.id = bindings.user_id"
        )
        assert sorted(bound) == sorted(zip(people, names, strict=True))
    assert "database is locked" not in crowd.app.output
    assert "StoreBusy" not in crowd.app.output
    assert "Traceback" not in crowd.app.output


async def test_commands_that_come_while_many_wait_on_their_answer_are_acknowledged_at_once(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    """With the database locked, AT_ONCE commands wait on their answer (and are acknowledged
    "One moment…" at the listener's 2 s deadline); five more that come meanwhile are
    acknowledged at once, before any of them. Once the lock goes, each of the 25 people gets
    their link, and each was told "One moment…" once."""
    app = running_app
    await app.command("U0ALAN", "help")  # the app has met Slack (auth.test) already
    first = [f"U0W{n:03d}" for n in range(AT_ONCE)]
    more = [f"U0X{n:03d}" for n in range(5)]
    acknowledged: list[str] = []

    async def send(person: str) -> bool:
        outcome = await app.fake.send_slash_command(person, "link")
        acknowledged.append(person)
        return outcome.acked

    with write_lock_held(app.settings.database):
        # In this order on the socket: the first AT_ONCE are being answered when `more` come.
        assert all(await asyncio.gather(*(send(person) for person in first + more)))

    assert sorted(acknowledged[: len(more)]) == more, acknowledged
    crowd_ = set(first + more)
    links = await wait_for_links(app.fake, crowd_, 30)
    assert len(set(links.values())) == len(crowd_)
    told = [m.user_id for m in app.fake.state.messages if m.text == "One moment…"]
    assert sorted(told) == sorted(crowd_)  # once each
    burst = [r.getMessage() for r in caplog.records if r.name == "bolt_app.bursts"]
    assert len(burst) == 1 and f"{AT_ONCE} are waiting on their answers" in burst[0]
