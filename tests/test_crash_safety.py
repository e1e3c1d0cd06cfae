"""A crash (issue 11, item 5): the process SIGKILLed in the middle of a burst of bindings,
then started again on the same database.

Every binding whose success page was served is there; a link is consumed exactly when its
binding exists (none both unused and bound, none used without a binding unless refused or
replaced); each binding's DM is still in the outbox or was sent; `PRAGMA integrity_check`
passes; the app serves again, and whoever had not finished connects with the page they had
open.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
from pathlib import Path

import httpx
from crowd import (
    CONNECTED,
    Crowd,
    add_users,
    connect,
    limited,
    open_for,
    open_with_session,
    serving,
)

from account_binding.sqlite_store import open_database
from fake_slack import FakeSlack

#: Kills, each at a random moment of its own burst.
ROUNDS = 3
#: In each burst: people pressing Connect (the first few having logged in with their
#: password just before, the others holding a session made for the link), and people
#: asking for a link at the same time.
CONNECTING = 30
LOGGING_IN = 3
ASKING = 20
#: Seconds over which the presses of a burst are spread, at most and at least: a short
#: spread has many Connects in flight at the kill, a long one kills between answers.
SPREAD = (0.2, 1.0)
#: How a link may end other than by binding (account_binding.store).
ENDED_UNBOUND = ("replaced", "refused", "cancelled")


def assert_consistent(database: Path, confirmed: dict[str, str], fake: FakeSlack) -> set[str]:
    """The database after a crash: sound, every confirmed binding in it (Slack user →
    username), each link consumed exactly when its person is bound, and each binding's DM
    either still in the outbox or sent (`fake` has it). Who is bound."""
    with contextlib.closing(sqlite3.connect(database)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        bound = dict(
            db.execute(
                "SELECT bindings.slack_user_id, users.username FROM bindings "
                "JOIN users ON users.id = bindings.user_id"
            ).fetchall()
        )
        links = db.execute(
            "SELECT slack_user_id, used_at, ended_reason FROM binding_requests"
        ).fetchall()
        tokens = db.execute(
            "SELECT count(*) FROM bindings JOIN api_tokens ON api_tokens.id = api_token_id"
        ).fetchone()
        waiting = {person for (person,) in db.execute("SELECT slack_user_id FROM outbox")}
    # Read after the outbox: a row leaves it only once its DM was sent.
    told = {m.user_id for m in fake.state.messages if m.where == "dm"}
    lost = {person: name for person, name in confirmed.items() if bound.get(person) != name}
    assert not lost, f"bindings whose success page was served are missing: {lost}"
    for person, used_at, reason in links:
        if used_at is None:
            assert person not in bound, f"{person}'s link is unused, yet they are bound"
        elif reason == "bound":
            assert person in bound, f"{person}'s link was consumed, yet they are not bound"
        else:
            assert reason in ENDED_UNBOUND, (person, reason)
    consumed = [person for person, _, reason in links if reason == "bound"]
    assert sorted(consumed) == sorted(bound), "a binding without its link consumed"
    assert tokens == (len(bound),)  # each binding with the API token it was issued
    untold = set(bound) - waiting - told
    assert not untold, f"bound, yet their DM is neither in the outbox nor sent: {untold}"
    return set(bound)


async def test_a_kill_in_the_middle_of_a_burst_of_bindings_loses_nothing_confirmed(
    tmp_path: Path,
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    per_round = CONNECTING + ASKING
    async with serving(tmp_path, people=ROUNDS * per_round) as crowd:
        # Each person has an account of their own (user0 for U0P00, …).
        names = {person.id: f"user{n}" for n, person in enumerate(crowd.people)}
        await add_users(crowd.store, names.values())
        confirmed: dict[str, str] = {}
        for round_ in range(ROUNDS):
            group = [p.id for p in crowd.people[round_ * per_round : (round_ + 1) * per_round]]
            connecting, asking = group[:CONNECTING], group[CONNECTING:]
            kill_after = rng.randint(1, CONNECTING - 1)
            spread = rng.uniform(*SPREAD)
            pages = await _confirm_pages(crowd, connecting, names)
            burst = Burst(crowd, kill_after)
            asking_tasks = [
                asyncio.ensure_future(burst.ask(person, rng.uniform(0, spread)))
                for person in asking
            ]
            served = await burst.press_and_kill(
                {person: (*pages[person], rng.uniform(0, spread)) for person in connecting}
            )
            confirmed.update({person: names[person] for person in served})
            bound = assert_consistent(crowd.database, confirmed, crowd.fake)
            print(
                f"round {round_ + 1} (seed {seed}): presses over {spread:.1f} s, killed after "
                f"{kill_after} success pages; "
                f"{sum(p in confirmed for p in connecting)} of {CONNECTING} were served, "
                f"{sum(p in bound for p in connecting)} bound"
            )
            await crowd.restart()
            assert_consistent(crowd.database, confirmed, crowd.fake)
            await asyncio.gather(*asking_tasks)  # unanswered: their app is gone

            # The app serves: a confirmed person's command acts as their account.
            whoami = await crowd.answer_to(served[0], "whoami")
            assert f"You are {names[served[0]]} in Acme" in whoami.text
            # Whoever was cut off connects now, from the page they had open; a Connect that
            # was committed but whose page never came says they are connected already.
            for person in connecting:
                if person in confirmed:
                    continue
                browser, page = pages[person]
                again = await connect(browser, page)
                if again.status_code == 200:
                    assert CONNECTED in again.text
                else:
                    assert again.status_code == 409 and "Already connected" in again.text
                confirmed[person] = names[person]
            assert_consistent(crowd.database, confirmed, crowd.fake)
    assert "Traceback" not in crowd.app.output


class Burst:
    """People pressing Connect, each after their own delay, and others asking for a link
    meanwhile; the app SIGKILLed the moment the `kill_after`-th success page is read."""

    def __init__(self, crowd: Crowd, kill_after: int) -> None:
        self.crowd = crowd
        self.kill_after = kill_after
        self.served: list[str] = []  # whose success page was read, in order
        self.killed = asyncio.Event()

    async def press_and_kill(
        self, presses: dict[str, tuple[httpx.AsyncClient, httpx.Response, float]]
    ) -> list[str]:
        """Press each person's Connect (browser, confirm page, seconds to wait first); once
        the app is killed, wait for every press to end. Whose success page was served."""
        pressing = [asyncio.ensure_future(self.press(p, *how)) for p, how in presses.items()]
        await asyncio.wait_for(self.killed.wait(), 30)
        await self.crowd.kill()
        await asyncio.gather(*pressing)
        return self.served

    async def press(
        self, person: str, browser: httpx.AsyncClient, page: httpx.Response, after: float
    ) -> None:
        await asyncio.sleep(after)  # people press within a second or so of each other
        try:
            answer = await connect(browser, page)
        except httpx.TransportError:
            return  # the process died under it
        assert answer.status_code == 200 and CONNECTED in answer.text, answer.text
        self.served.append(person)
        if len(self.served) == self.kill_after:
            assert self.crowd.app.process is not None
            self.crowd.app.process.kill()  # now, before any other answer is read
            self.killed.set()

    async def ask(self, person: str, after: float) -> None:
        await asyncio.sleep(after)
        # No socket left to send it on (RuntimeError), or the one left is closing.
        with contextlib.suppress(RuntimeError, ConnectionError):
            await self.crowd.fake.send_slash_command(person, "link")


async def _confirm_pages(
    crowd: Crowd, people: list[str], names: dict[str, str]
) -> dict[str, tuple[httpx.AsyncClient, httpx.Response]]:
    """Each person's link (from a slash command), opened in a browser of their own and
    logged in for: the browser and the confirm page."""
    outcomes = await asyncio.gather(
        *(crowd.fake.send_slash_command(person, "link") for person in people)
    )
    assert all(o.acked for o in outcomes)
    links = await crowd.wait_for_links(people, 30)

    async def confirm_page(n: int, person: str) -> tuple[httpx.AsyncClient, httpx.Response]:
        browser = crowd.browser()
        if n < LOGGING_IN:
            return browser, await open_for(browser, links[person], names[person])
        return browser, await open_with_session(browser, links[person], crowd.store, names[person])

    opened = await limited(
        [lambda n=n, p=p: confirm_page(n, p) for n, p in enumerate(people)], at_once=8
    )
    return dict(zip(people, opened, strict=True))


def test_every_commit_is_on_disk_before_it_returns(tmp_path: Path) -> None:
    """WAL with synchronous=FULL: each commit is in the log on disk (fsync) before the app
    goes on, so a power cut keeps a binding whose page was served, not only a crash of the
    process (NORMAL would keep it through that one alone)."""
    db = open_database(tmp_path / "app.sqlite3")
    try:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    finally:
        db.close()
