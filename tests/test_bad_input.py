"""Property-based tests: whatever arrives, never a 500, never a traceback, never a row
changed that should not change, and every page escapes what it shows."""

from __future__ import annotations

import json
import string
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from conftest import RunningApp, csrf_of, login, run_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text as hostile as it gets: any Unicode (surrogates and NUL included), markup, SQL.
nasty = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec=None), max_size=50),
    st.sampled_from(
        [
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            '"; DROP TABLE users; --',
            "\x00",
            "\ud800",
            "\uff21\uff24\uff21",  # fullwidth ADA
            "a" * 10_000,
            "../../etc/passwd",
            "%00%2e%2e",
            "{{ 7*7 }}",
        ]
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | nasty,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(nasty, children, max_size=4),
    max_leaves=10,
)


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[RunningApp]:
    async with run_app(
        tmp_path, LOGIN_MAX_FAILURES="1000", LOGIN_MAX_FAILURES_PER_ADDRESS="100000"
    ) as running:
        await running.add_user("ada")
        yield running


def snapshot(app: RunningApp) -> dict[str, Any]:
    return {
        table: app.query(f"SELECT * FROM {table} ORDER BY 1")
        for table in ("users", "bindings", "api_tokens", "todos", "binding_requests")
    }


def assert_handled(response: httpx.Response, allowed: set[int]) -> None:
    assert response.status_code in allowed, (response.status_code, response.text[:300])
    assert "Traceback" not in response.text and 'File "/' not in response.text


@EXAMPLES
@given(username=nasty, password=nasty, next_path=nasty, extra=nasty)
async def test_the_login_form_takes_anything(
    app: RunningApp, username: str, password: str, next_path: str, extra: str
) -> None:
    before = snapshot(app)
    browser = app.browser()
    page = await browser.get(
        "/login", params={"next": next_path.encode("utf-8", "replace").decode()}
    )
    assert_handled(page, {200})
    fields = {
        "username": username,
        "password": password,
        "next": next_path,
        "csrf_token": csrf_of(page),
        "x": extra,
    }
    body = "&".join(f"{quote(k)}={quote(v, errors='surrogatepass')}" for k, v in fields.items())
    response = await browser.post(
        "/login", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert_handled(response, {400, 413})
    if response.status_code == 400 and username.strip() and "<" in username and len(username) < 64:
        assert "<script>" not in response.text
    assert snapshot(app) == before
    await browser.aclose()
    app.browsers.remove(browser)


@EXAMPLES
@given(nonce=nasty)
async def test_any_link_path_is_refused_cleanly(app: RunningApp, nonce: str) -> None:
    before = snapshot(app)
    path = "/bind/" + quote(nonce or "x", safe="", errors="surrogatepass")
    response = await app.http.get(path)
    # "." and ".." are dot-segments the client folds away: /bind/. is /bind, which says 400.
    assert_handled(
        response, {400, 404, 410, 307, 308} if nonce in (".", "..") else {404, 410, 307, 308}
    )
    assert snapshot(app) == before


@EXAMPLES
@given(
    fields=st.dictionaries(nasty, nasty, max_size=5),
    content_type=st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/json",
            "text/plain",
            "",
        ]
    ),
)
async def test_the_confirm_form_takes_anything(
    app: RunningApp, fields: dict[str, str], content_type: str
) -> None:
    if not app.http.cookies.get("session"):
        await login(app.http, "ada")
        app.http.cookies.set("binding_link", "not-a-real-link", domain="127.0.0.1", path="/")
    before = snapshot(app)
    body = "&".join(
        f"{quote(k, errors='surrogatepass')}={quote(v, errors='surrogatepass')}"
        for k, v in fields.items()
    )
    response = await app.http.post("/bind", content=body, headers={"content-type": content_type})
    assert_handled(response, {400, 403, 409, 413, 415})
    assert snapshot(app) == before


@pytest.fixture
async def token(app: RunningApp) -> str:
    return await app.bind("ada", "U0ADA")


@EXAMPLES
@given(
    body=st.one_of(
        json_values,
        st.fixed_dictionaries({"title": nasty}),
        st.fixed_dictionaries({"title": json_values}, optional={"done": json_values}),
    )
)
async def test_the_api_takes_any_json(app: RunningApp, token: str, body: object) -> None:
    before = snapshot(app)
    raw = json.dumps(body, ensure_ascii=True).encode()
    response = await app.http.post(
        "/api/todos", content=raw, headers={"Authorization": f"Bearer {token}"}
    )
    assert_handled(response, {201, 400, 413})
    after = snapshot(app)
    if response.status_code == 201:
        title = response.json()["title"]
        assert isinstance(body, dict) and isinstance(body.get("title"), str)
        assert title == " ".join(body["title"].split())
        assert len(after["todos"]) == len(before["todos"]) + 1
    else:
        assert after == before


@EXAMPLES
@given(text=nasty)
async def test_any_command_text_gets_an_answer(app: RunningApp, text: str) -> None:
    before = snapshot(app)
    outcome = await app.fake.send_slash_command("U0GRACE", text[:4000])
    assert outcome.acked and outcome.ack_payload and outcome.ack_payload.get("text")
    after = snapshot(app)
    # An unbound person changes nothing but, for most words, gets a fresh link.
    assert {k: v for k, v in after.items() if k != "binding_requests"} == {
        k: v for k, v in before.items() if k != "binding_requests"
    }


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(user_name=st.text(alphabet=string.printable + "<>&\"'éß漢", min_size=1, max_size=40))
async def test_the_confirm_page_escapes_what_slack_sends(app: RunningApp, user_name: str) -> None:
    await app.fake.send_slash_command("U0ALAN", "link", user_name=user_name)
    url = next(
        json.dumps(m.blocks)
        for m in reversed(app.fake.ephemerals("U0ALAN"))
        if "/bind/" in json.dumps(m.blocks)
    )
    link = json.loads(url)[1]["elements"][0]["url"]
    browser = app.browser()
    await browser.get(urlsplit(link).path)
    await login(browser, "ada", next_path="/bind")
    page = await browser.get("/bind")
    assert_handled(page, {200})
    if "<" in user_name:
        assert "@" + user_name not in page.text  # shown only escaped
    await browser.aclose()
    app.browsers.remove(browser)
