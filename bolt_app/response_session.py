"""One HTTP session for the answers posted to response_urls (issue 12).

slack_sdk's AsyncWebhookClient (under Bolt's `respond()` and `bolt_app.slack_calls`) makes an
aiohttp session, and with it a new connection, for every answer; under load that is a good
part of the work after the acknowledgement. Here the answers of an event loop share a session
(its connections kept alive between answers), one per request time-out (a shared session's
time-out is the one each request gets), opened by each site as it starts (`hold`) and closed
when the last site on the loop stops (`release`). The sessions keep no cookies, so nothing
one answer's reply sets goes with another's, and carry no credential: a response_url is its
own.
"""

from __future__ import annotations

import asyncio

import aiohttp


class _Held:
    """One loop's sessions, by request time-out in seconds, and how many sites hold them."""

    def __init__(self) -> None:
        self.sessions: dict[float, aiohttp.ClientSession] = {}
        self.holders = 0


_held: dict[asyncio.AbstractEventLoop, _Held] = {}


def hold() -> None:
    """A site on the running loop will post answers until it calls `release`."""
    _held.setdefault(asyncio.get_running_loop(), _Held()).holders += 1


async def release() -> None:
    """The site that called `hold` stopped; the last one on the loop closes the sessions."""
    loop = asyncio.get_running_loop()
    held = _held.get(loop)
    if held is None:
        return
    held.holders -= 1
    if held.holders > 0:
        return
    del _held[loop]
    for session in held.sessions.values():
        await session.close()


def session(timeout_seconds: float) -> aiohttp.ClientSession | None:
    """The running loop's session whose requests each get `timeout_seconds`, made on first
    use; None when no site holds them, or outside an event loop (then slack_sdk makes one
    per answer)."""
    try:
        held = _held.get(asyncio.get_running_loop())
    except RuntimeError:  # no running loop
        return None
    if held is None:
        return None
    shared = held.sessions.get(timeout_seconds)
    if shared is None or shared.closed:
        shared = held.sessions[timeout_seconds] = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
    return shared
