"""Never a dead button, on the web: the expired-link page's "Send me a new link in Slack", over
the real app (uvicorn, the Bolt app on a fake Slack, a real SQLite file).

The new link goes by DM to the Slack user the old one was issued to, never to the browser;
only for a link that really expired (not used, replaced or cancelled); at most once a
minute per Slack user; never voiding a newer live link. Every refusal is a 4xx page."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import string
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest
from conftest import RunningApp, find_link, hidden_fields, login, run_app
from hypothesis import given
from hypothesis import strategies as st
from test_bad_input import EXAMPLES, assert_handled, nasty
from unbinding import disconnect

from account_binding.audit import Actor, AuditLog
from account_binding.binding import BindingPolicy, BindingService
from account_binding.crypto import TokenCipher
from account_binding.link_renewal import LinkRenewal, ResendRefused
from account_binding.models import SlackIdentity, SlackPerson, SlackProfile
from account_binding.sqlite_store import SQLiteStore

ADA = "U0ADA"
RESEND = "/resend-link"
BUTTON = "Send me a new link in Slack"


def nonce_of(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[1]


def digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def expire(app: RunningApp, url: str) -> None:
    """The link `url` runs out of time (a second ago), whatever else happened to it."""
    app.query(
        "UPDATE binding_requests SET expires_at = ? WHERE nonce_hash = ?",
        (int(time.time()) - 1, digest(nonce_of(url))),
    )


async def expired_page(app: RunningApp, url: str) -> tuple[httpx.AsyncClient, httpx.Response]:
    """A browser (not logged in) opens the expired link `url`: the page offers a new one."""
    browser = app.browser()
    page = await browser.get(urlsplit(url).path)
    assert page.status_code == 410, page.text
    assert "Link expired" in page.text and BUTTON in page.text
    assert f'action="{RESEND}"' in page.text
    return browser, page


async def press(browser: httpx.AsyncClient, page: httpx.Response) -> httpx.Response:
    """Press "Send me a new link in Slack" on `page`, as the browser would post its form."""
    return await browser.post(RESEND, data=hidden_fields(page))


async def forged_post(app: RunningApp, nonce: str) -> httpx.Response:
    """What anyone holding `nonce` can post without the page: its cookie and a token."""
    token = "a-double-submit-token-of-my-own-making"
    return await app.browser().post(
        RESEND,
        data={"csrf_token": token, "link_id": digest(nonce)},
        headers={"Cookie": f"binding_link={nonce}; login_csrf={token}"},
    )


async def bind_with(app: RunningApp, url: str, username: str = "ada") -> httpx.Response:
    if username not in app.users:
        await app.add_user(username)
    browser = app.browser()
    opened = await browser.get(urlsplit(url).path)
    if opened.status_code != 303:
        return opened
    await login(browser, username, next_path="/bind")
    page = await browser.get("/bind")
    return await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})


def audit(app: RunningApp, event: str) -> list[tuple[object, ...]]:
    return app.query(
        "SELECT slack_user_id, detail FROM audit_events WHERE event = ? ORDER BY id", (event,)
    )


async def test_an_expired_link_sends_a_working_link_by_dm(running_app: RunningApp) -> None:
    app = running_app
    old = await app.link_for(ADA)
    expire(app, old)
    browser, page = await expired_page(app, old)
    assert "/acme link" in page.text  # what else to do, as before

    sent = await press(browser, page)
    assert sent.status_code == 200, sent.text
    assert "New link sent" in sent.text and "expires in 10 minutes" in sent.text
    [dm] = app.fake.dms(ADA)
    assert dm.where == "dm" and dm.source == "chat.postMessage"
    new = find_link([dm])
    assert new != old and nonce_of(new) not in sent.text and "/bind/" not in sent.text
    assert "expires in 10 minutes" in str(dm.blocks) and "expired one" in str(dm.blocks)
    assert audit(app, "link_resent") == [(ADA, "page")]
    # The old link is replaced now; the new one binds.
    done = await bind_with(app, new)
    assert done.status_code == 200 and "Connected" in done.text
    assert app.query("SELECT slack_user_id FROM bindings") == [(ADA,)]


async def test_the_expired_page_is_offered_wherever_the_link_is_found_expired(
    running_app: RunningApp,
) -> None:
    """Opened, or confirmed too late by someone logged in for it: both offer a new link."""
    app = running_app
    await app.add_user("ada")
    url = await app.link_for(ADA)
    browser, page = await app.open_link_as("ada", url)
    assert page.status_code == 200
    expire(app, url)
    late = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
    assert late.status_code == 410 and BUTTON in late.text
    sent = await press(browser, late)
    assert sent.status_code == 200, sent.text
    assert len(app.fake.dms(ADA)) == 1


async def test_a_used_link_is_not_renewed(running_app: RunningApp) -> None:
    app = running_app
    url = await app.link_for(ADA)
    assert (await bind_with(app, url)).status_code == 200
    await disconnect(app, ADA)  # unlink, then its Disconnect (issue 10, unbinding)
    expire(app, url)
    page = await app.browser().get(urlsplit(url).path)
    assert page.status_code == 410 and BUTTON not in page.text  # "already used": no offer
    refused = await forged_post(app, nonce_of(url))
    assert refused.status_code == 410 and "already used" in refused.text
    assert not [m for m in app.fake.dms(ADA) if "/bind/" in m.text]
    assert audit(app, "link_resend_refused") == [(ADA, "used")]


async def test_a_cancelled_link_is_not_renewed(running_app: RunningApp) -> None:
    app = running_app
    await app.add_user("ada")
    url = await app.link_for(ADA)
    browser, page = await app.open_link_as("ada", url)
    cancelled = await browser.post("/bind", data={**hidden_fields(page), "action": "cancel"})
    assert cancelled.status_code == 200
    expire(app, url)
    refused = await forged_post(app, nonce_of(url))
    assert refused.status_code == 410 and "was cancelled" in refused.text
    assert app.fake.dms(ADA) == []


async def test_a_replaced_link_is_not_renewed_and_the_newer_live_link_still_works(
    running_app: RunningApp,
) -> None:
    app = running_app
    old = await app.link_for(ADA)
    expire(app, old)
    browser, page = await expired_page(app, old)
    newer = await app.link_for(ADA)  # a newer link, live, issued since the page was shown
    refused = await press(browser, page)
    assert refused.status_code == 409
    assert "A newer link was already sent to you in Slack" in refused.text
    assert app.fake.dms(ADA) == []
    done = await bind_with(app, newer)
    assert done.status_code == 200 and "Connected" in done.text


async def test_a_live_link_is_not_renewed(running_app: RunningApp) -> None:
    app = running_app
    url = await app.link_for(ADA)
    refused = await forged_post(app, nonce_of(url))
    assert refused.status_code == 409 and "has not expired" in refused.text
    assert app.fake.dms(ADA) == []
    assert (await bind_with(app, url)).status_code == 200


async def test_at_most_one_new_link_a_minute_per_slack_person(running_app: RunningApp) -> None:
    app = running_app
    first = await app.link_for(ADA)
    expire(app, first)
    browser, page = await expired_page(app, first)
    assert (await press(browser, page)).status_code == 200
    second = find_link(app.fake.dms(ADA))
    expire(app, second)  # that one ran out too: asking again at once is refused all the same
    browser, page = await expired_page(app, second)
    refused = await press(browser, page)
    assert refused.status_code == 429 and "less than a minute ago" in refused.text
    assert 0 < int(refused.headers["retry-after"]) <= 60
    assert len(app.fake.dms(ADA)) == 1
    # Once the minute has passed, it goes.
    app.query("UPDATE link_resends SET sent_at = sent_at - 60")
    again = await press(browser, page)
    assert again.status_code == 200, again.text
    assert len(app.fake.dms(ADA)) == 2
    assert [d for _, d in audit(app, "link_resend_refused")] == ["too_soon"]


async def test_two_presses_at_once_send_one_link(running_app: RunningApp) -> None:
    app = running_app
    url = await app.link_for(ADA)
    expire(app, url)
    browser, page = await expired_page(app, url)
    answers = await asyncio.gather(press(browser, page), press(browser, page))
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    assert len(app.fake.dms(ADA)) == 1


async def test_links_per_hour_still_applies(tmp_path: Path) -> None:
    async with run_app(tmp_path, LINKS_PER_HOUR="1") as app:
        url = await app.link_for(ADA)
        expire(app, url)
        browser, page = await expired_page(app, url)
        refused = await press(browser, page)
        assert refused.status_code == 429 and "many links in a short time" in refused.text
        assert app.fake.dms(ADA) == []
        # Nothing was written: no resend noted, the old link untouched.
        assert app.query("SELECT count(*) FROM link_resends") == [(0,)]
        assert app.query("SELECT used_at FROM binding_requests") == [(None,)]


async def test_a_dm_that_slack_refuses_is_said(running_app: RunningApp) -> None:
    app = running_app
    url = await app.link_for(ADA)
    expire(app, url)
    browser, page = await expired_page(app, url)
    app.fake.fail("chat.postMessage", "channel_not_found")
    failed = await press(browser, page)
    assert failed.status_code == 502
    assert "did not reach you" in failed.text and "/acme link" in failed.text


async def test_bad_or_missing_links_and_forms_are_refused_with_4xx(
    running_app: RunningApp,
) -> None:
    app = running_app
    url = await app.link_for(ADA)
    expire(app, url)
    nonce = nonce_of(url)
    # No link in this browser.
    assert (await app.browser().post(RESEND, data={"link_id": "x"})).status_code == 400
    # A made-up link.
    unknown = await forged_post(app, "A" * 43)
    assert unknown.status_code == 404 and "not valid" in unknown.text
    # Longer than any link: not one.
    assert (await forged_post(app, "A" * 200)).status_code == 400
    browser, page = await expired_page(app, url)
    fields = hidden_fields(page)
    # The form names another link than the browser holds.
    changed = await browser.post(RESEND, data={**fields, "link_id": digest("B" * 43)})
    assert changed.status_code == 409
    # Without its token, or with a wrong one.
    assert (await browser.post(RESEND, data={"link_id": digest(nonce)})).status_code == 403
    wrong = {**fields, "csrf_token": "wrong"}
    assert (await browser.post(RESEND, data=wrong)).status_code == 403
    # From another site.
    other = await browser.post(RESEND, data=fields, headers={"Origin": "http://evil.example"})
    assert other.status_code == 403
    assert app.fake.dms(ADA) == []
    # The page's own form still works.
    assert (await press(browser, page)).status_code == 200


async def test_refusals_are_audited_within_the_cap(running_app: RunningApp) -> None:
    app = running_app
    for _ in range(25):
        assert (await forged_post(app, "A" * 43)).status_code == 404
    assert len(audit(app, "link_resend_refused")) == 20


# The store's one write, from two processes' worth of stores at once


class _Directory:
    async def person(self, identity: SlackIdentity) -> SlackPerson | None:
        return None


async def test_two_stores_resending_one_link_at_once_send_one(tmp_path: Path) -> None:
    database = tmp_path / "shared.sqlite3"
    stores = [SQLiteStore(database), SQLiteStore(database)]
    for store in stores:
        await store.open()
    try:
        renewals = []
        for store in stores:
            audit_log = AuditLog(store)
            policy = BindingPolicy()
            bindings = BindingService(store, TokenCipher("k"), audit_log, _Directory(), policy)
            renewals.append(LinkRenewal(store, bindings, audit_log, policy))
        identity = SlackIdentity.from_ids(team_id="T1", user_id="U1", enterprise_id=None)
        issued = await BindingService(
            stores[0], TokenCipher("k"), AuditLog(stores[0]), _Directory(), BindingPolicy()
        ).issue_link(identity, SlackProfile(user_name="ada", team_name="acme"))
        with sqlite3.connect(database) as db:
            db.execute("UPDATE binding_requests SET expires_at = 1")

        async def resend(renewal: LinkRenewal) -> str:
            try:
                await renewal.resend(issued.nonce, Actor(client="127.0.0.1"))
            except ResendRefused as refusal:
                return refusal.reason
            return "sent"

        results = await asyncio.gather(*(resend(r) for r in renewals for _ in range(3)))
        assert sorted(results).count("sent") == 1, results
        assert set(results) <= {"sent", "replaced", "too_soon"}
    finally:
        for store in stores:
            await store.close()


# Whatever arrives at the form: a 4xx page, never a 500, nothing written


@pytest.fixture
async def expired(tmp_path: Path) -> AsyncIterator[tuple[RunningApp, httpx.AsyncClient]]:
    """The app, and a browser holding the expired-link page of Ada's expired link."""
    async with run_app(tmp_path) as app:
        url = await app.link_for(ADA)
        expire(app, url)
        browser, _ = await expired_page(app, url)
        yield app, browser


def written(app: RunningApp) -> list[list[tuple[object, ...]]]:
    return [
        app.query("SELECT * FROM binding_requests ORDER BY 1"),
        app.query("SELECT * FROM link_resends ORDER BY 1"),
    ]


@EXAMPLES
@given(
    fields=st.dictionaries(st.sampled_from(["csrf_token", "link_id", "x"]), nasty, max_size=3),
    content_type=st.sampled_from(
        ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain", ""]
    ),
)
async def test_the_resend_form_takes_anything(
    expired: tuple[RunningApp, httpx.AsyncClient], fields: dict[str, str], content_type: str
) -> None:
    app, browser = expired
    before = written(app)
    body = "&".join(
        f"{quote(k, errors='surrogatepass')}={quote(v, errors='surrogatepass')}"
        for k, v in fields.items()
    )
    response = await browser.post(RESEND, content=body, headers={"content-type": content_type})
    assert_handled(response, {400, 403, 409, 413, 415})
    assert written(app) == before and app.fake.dms(ADA) == []


@EXAMPLES
@given(nonce=st.text(alphabet=string.ascii_letters + string.digits + "-_.~!$'()*+,:=@%"))
async def test_any_link_in_the_cookie_gets_a_4xx(
    expired: tuple[RunningApp, httpx.AsyncClient], nonce: str
) -> None:
    app, _ = expired
    before = written(app)
    response = await forged_post(app, nonce)
    assert_handled(response, {400, 404})
    assert written(app) == before
