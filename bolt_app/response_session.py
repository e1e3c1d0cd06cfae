"""One HTTP session for the answers posted to response_urls (issue 12).

Bolt's `respond()` makes an aiohttp session, and with it a new connection, for every answer;
under load that is a good part of the work after the acknowledgement. Here the answers of an
event loop share one session (its connections kept alive between answers), opened by each
site as it starts (`hold`) and closed when the last site on the loop stops (`release`). The
session keeps no cookies, so nothing one answer's reply sets goes with another's, and it
carries no credential: a response_url is its own.
"""

from __future__ import annotations

import asyncio

import aiohttp

_sessions: dict[asyncio.AbstractEventLoop, tuple[aiohttp.ClientSession, int]] = {}


def hold() -> None:
    """A site on the running loop will post answers until it calls `release`."""
    loop = asyncio.get_running_loop()
    session, holders = _sessions.get(loop, (None, 0))
    if session is None or session.closed:
        session = _new()
    _sessions[loop] = (session, holders + 1)


async def release() -> None:
    """The site that called `hold` stopped; the last one on the loop closes the session."""
    loop = asyncio.get_running_loop()
    session, holders = _sessions.get(loop, (None, 0))
    if session is None:
        return
    if holders > 1:
        _sessions[loop] = (session, holders - 1)
        return
    del _sessions[loop]
    await session.close()


def session() -> aiohttp.ClientSession | None:
    """The running loop's session, None when no site holds one (then an answer makes its
    own, as Bolt does)."""
    held = _sessions.get(asyncio.get_running_loop())
    if held is None or held[0].closed:
        return None
    return held[0]


def _new() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
