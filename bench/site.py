"""The site's figures (issue 12, item 3), against the running product.

As browsers use it: each person's link comes from a real `/acme link` through the fake
Slack; their browser (an aiohttp client with its own cookies) opens the link, logs in for it,
and is then shown the confirm page and presses Connect.

- logins/s: the login POSTs of every browser, a few at a time (the password hash is slow on
  purpose, so it is reported on its own);
- confirm page GETs/s: the logged-in browsers reloading the confirm page (each asks Slack
  who the person is: `users.info` to the fake Slack);
- bind POSTs/s: every browser pressing Connect once (the binding written, the token issued);
- introspection calls/s: the call a company's API makes for every request under
  ACT_AS=token (`POST /oauth/introspect` with a bound person's personal token).

The baseline is a bare Starlette site served by uvicorn as the product is
(`bench.baseline_site`): a GET of a small page and a POST of a small form.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from account_binding.crypto import TokenCipher
from bench.stores import store_at
from fake_slack import FakeSlack

from .load import percentile
from .people import PASSWORD, People
from .processes import Child
from .systems import INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET, start_baseline_site

_LINK = re.compile(r"https?://[^\s|>\"]+/bind/[A-Za-z0-9_-]+")
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
#: Seconds any one request of the site's load may take.
TIMEOUT = aiohttp.ClientTimeout(total=30)


@dataclass(frozen=True)
class SitePlan:
    """`people`: browsers (one link, login and bind each); the loops' seconds and
    concurrencies."""

    people: int
    warmup: float
    seconds: float
    concurrency: int = 20
    login_concurrency: int = 4

    @classmethod
    def quick(cls) -> SitePlan:
        return cls(people=8, warmup=0.2, seconds=0.8)

    @classmethod
    def full(cls) -> SitePlan:
        return cls(people=200, warmup=2.0, seconds=10.0)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


async def timed_loop(
    call: Callable[[int], Awaitable[bool]], *, concurrency: int, seconds: float, warmup: float
) -> dict[str, Any]:
    """`concurrency` workers call `call(worker number)` back to back; the figures count the
    calls that started in the last `seconds`. `call` says whether it succeeded."""
    times: list[tuple[float, float, bool]] = []
    start = time.perf_counter()
    measure_from, end = start + warmup, start + warmup + seconds

    async def worker(number: int) -> None:
        while (began := time.perf_counter()) < end:
            ok = await call(number)
            times.append((began, time.perf_counter() - began, ok))

    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    window = [(t, ok) for began, t, ok in times if began >= measure_from]
    return _figures([t for t, ok in window if ok], len(window), seconds)


async def timed_each(
    calls: list[Callable[[], Awaitable[bool]]], *, concurrency: int
) -> dict[str, Any]:
    """Every call once, `concurrency` at a time; the rate over the whole."""
    queue = list(reversed(calls))
    durations: list[float] = []
    attempts = 0
    start = time.perf_counter()

    async def worker() -> None:
        nonlocal attempts
        while queue:
            call = queue.pop()
            began = time.perf_counter()
            attempts += 1
            if await call():
                durations.append(time.perf_counter() - began)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return _figures(durations, attempts, time.perf_counter() - start)


def _figures(durations: list[float], attempts: int, seconds: float) -> dict[str, Any]:
    ordered = sorted(durations)
    p50, p99 = percentile(ordered, 0.5), percentile(ordered, 0.99)
    return {
        "count": len(ordered),
        "failed": attempts - len(ordered),
        "seconds": round(seconds, 3),
        "per_second": round(len(ordered) / seconds, 1) if seconds > 0 else None,
        "p50_ms": None if p50 is None else round(p50 * 1000, 2),
        "p99_ms": None if p99 is None else round(p99 * 1000, 2),
    }


class Browser:
    """One person's browser on the site: its own cookies, and the Origin the site's forms
    are posted from. (aiohttp rather than httpx: its client costs the generator less per
    request, so that the site, not the generator, sets the pace.)"""

    def __init__(self, base_url: str) -> None:
        self.http = aiohttp.ClientSession(
            base_url=base_url,
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # cookies for 127.0.0.1 too
            headers={"Origin": base_url},
            timeout=TIMEOUT,
        )
        self.confirm_form: dict[str, str] = {}

    async def open_link(self, url: str) -> None:
        async with self.http.get(urlsplit(url).path, allow_redirects=False):
            pass

    async def login_form(self, username: str) -> dict[str, str]:
        """The login page's form for the link just opened, filled in."""
        async with self.http.get("/login", params={"next": "/bind"}) as page:
            text = await page.text()
        csrf = _CSRF.search(text)
        if csrf is None:
            raise RuntimeError(f"the login page has no form (HTTP {page.status})")
        return {
            **dict(_HIDDEN.findall(text)),
            "username": username,
            "password": PASSWORD,
            "csrf_token": csrf.group(1),
            "next": "/bind",
        }

    async def login(self, form: dict[str, str]) -> bool:
        async with self.http.post("/login", data=form, allow_redirects=False) as answer:
            await answer.read()
            return answer.status in (302, 303)

    async def confirm_page(self) -> bool:
        async with self.http.get("/bind", allow_redirects=False) as page:
            text = await page.text()
        if page.status == 200 and not self.confirm_form:
            self.confirm_form = dict(_HIDDEN.findall(text))
        return page.status == 200

    async def connect(self) -> bool:
        form = {**self.confirm_form, "action": "connect"}
        async with self.http.post("/bind", data=form, allow_redirects=False) as done:
            await done.read()
            return done.status == 200

    async def close(self) -> None:
        await self.http.close()


async def measure(
    fake: FakeSlack,
    base_url: str,
    database: Path,
    secret_key: str,
    workdir: Path,
    plan: SitePlan,
    *,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The site's figures against the product serving `base_url` on `database`."""
    results: dict[str, Any] = {}
    store = store_at(database)
    browsers: list[Browser] = []
    try:
        await store.open()
        people = People(store, secret_key, fake.workspace.team_id)
        usernames = [f"site-{n:05d}" for n in range(plan.people)]
        for username in usernames:
            await people.add_account(username)
        forms = []
        for n, username in enumerate(usernames):
            outcome = await fake.send_slash_command(f"US{n:08d}", "link")
            link = _LINK.search(str(outcome.ack_payload))
            if link is None:
                raise RuntimeError(f"`/acme link` gave no link: {outcome.ack_payload!r:.300}")
            browser = Browser(base_url)
            browsers.append(browser)
            await browser.open_link(link.group(0))
            forms.append(await browser.login_form(username))
        results["login"] = await timed_each(
            [
                functools.partial(browser.login, form)
                for browser, form in zip(browsers, forms, strict=True)
            ],
            concurrency=plan.login_concurrency,
        )
        log(f"    logins: {results['login']}")
        results["confirm_page"] = await timed_loop(
            lambda n: browsers[n % len(browsers)].confirm_page(),
            concurrency=min(plan.concurrency, len(browsers)),
            seconds=plan.seconds,
            warmup=plan.warmup,
        )
        log(f"    confirm page: {results['confirm_page']}")
        for browser in browsers:
            await browser.confirm_page()  # the form as the person last saw it
        results["bind"] = await timed_each(
            [browser.connect for browser in browsers], concurrency=min(10, len(browsers))
        )
        log(f"    binds: {results['bind']}")
        stored = await store.find_binding(people.identity("US00000000"))
        ciphertext = stored.api_token_ciphertext if stored else None
        token = TokenCipher(secret_key).decrypt(ciphertext) if ciphertext else None
        if token is None:
            raise RuntimeError("the first site person's binding has no personal token")
        introspection = aiohttp.ClientSession(
            base_url=base_url,
            timeout=TIMEOUT,
            auth=aiohttp.BasicAuth(INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET),
        )
        try:

            async def introspect(n: int) -> bool:
                async with introspection.post("/oauth/introspect", data={"token": token}) as answer:
                    body = await answer.json()
                return answer.status == 200 and body.get("active") is True

            results["introspection"] = await timed_loop(
                introspect, concurrency=plan.concurrency, seconds=plan.seconds, warmup=plan.warmup
            )
        finally:
            await introspection.close()
        log(f"    introspection: {results['introspection']}")
    finally:
        for browser in browsers:
            await browser.close()
        await store.close()
    results.update(await _baseline(workdir, plan))
    log(f"    bare Starlette: GET {results['baseline_get']}, POST {results['baseline_post']}")
    return results


async def _baseline(workdir: Path, plan: SitePlan) -> dict[str, Any]:
    child: Child | None = None
    try:
        child, url = await start_baseline_site(workdir)
        async with aiohttp.ClientSession(base_url=url, timeout=TIMEOUT) as http:

            async def get(n: int) -> bool:
                async with http.get("/page") as answer:
                    await answer.read()
                    return answer.status == 200

            async def post(n: int) -> bool:
                form = {"csrf_token": "x" * 43, "action": "connect"}
                async with http.post("/form", data=form) as answer:
                    await answer.read()
                    return answer.status == 200

            return {
                "baseline_get": await timed_loop(
                    get, concurrency=plan.concurrency, seconds=plan.seconds, warmup=plan.warmup
                ),
                "baseline_post": await timed_loop(
                    post, concurrency=plan.concurrency, seconds=plan.seconds, warmup=plan.warmup
                ),
            }
    finally:
        if child is not None:
            await child.stop()
