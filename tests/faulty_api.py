"""An internal application on loopback that misbehaves on demand, and a command plugin that
calls it (`COMMAND_PLUGINS=faulty_api:plugin`), for the tests of issue 11's "internal
application slow or down".

The server speaks HTTP/1.1 over raw asyncio streams, so that it can fail at any byte: answer
late, answer 5xx as a proxy in front of a dead application does, close the connection in the
middle of its answer, send its headers and then nothing, or trickle its body a byte at a time.
It serves a list of items: `GET /api/items` lists them, `POST /api/items {"text": ...}` adds
one (carried out as soon as the request is read, whatever the answer then does, as a real
application would).

The plugin's handlers note how each run ended (`EXITS`), so that a test can wait for a
handler to be over (cancelled at COMMAND_TIMEOUT included) rather than sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Literal

from bolt_app.commands import (
    Argument,
    Arguments,
    CommandContext,
    CommandPlugin,
    InternalApiError,
    Reply,
    Subcommand,
    reading,
    reply,
)

Fault = Literal["none", "slow", "status", "close_mid_answer", "stall", "trickle"]

#: The bodies a proxy in front of a dead application answers with (nginx's, shortened).
PROXY_PAGES = {
    502: b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    503: b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
    504: b"<html><body><h1>504 Gateway Time-out</h1></body></html>",
}


@dataclass
class FaultyApi:
    """The server's state: set `fault` (and `delay` or `status`) before a command."""

    url: str
    #: "none": answers at once; "slow": answers after `delay` seconds; "status": answers
    #: `status` with `body` (by default a proxy's HTML page); "close_mid_answer": sends
    #: headers and half the body, then resets the connection; "stall": sends headers and
    #: one byte of the body, then nothing until the client closes; "trickle": sends headers,
    #: then one byte of the body every 0.2 s until the client closes.
    fault: Fault = "none"
    delay: float = 0.0
    status: int = 503
    body: bytes = b""
    #: Each request's method and path, as received.
    requests: list[tuple[str, str]] = field(default_factory=list)
    #: The items added: what the application carried out, whatever it answered.
    items: list[str] = field(default_factory=list)
    #: Requests whose handling ended (answered, or the connection dropped or given up).
    finished: int = 0
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def wait_finished(self, count: int, seconds: float = 10.0) -> None:
        """Wait until `count` requests have ended on the server's side."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.finished >= count), seconds)

    async def _note_finished(self) -> None:
        async with self._changed:
            self.finished += 1
            self._changed.notify_all()


async def _serve_one(
    api: FaultyApi, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, path, _ = request_line.split(" ", 2)
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in header_lines if line)
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        path = path.split("?", 1)[0]
        api.requests.append((method, path))
        if method == "POST" and path == "/api/items":
            text = str(json.loads(body or b"{}").get("text", ""))
            api.items.append(text)  # carried out, whatever the answer does next
            status, answer = 201, {"id": len(api.items), "text": text}
        elif method == "GET" and path == "/api/items":
            status, answer = 200, {"items": list(api.items)}
        else:
            status, answer = 404, {"error": f"no route {method} {path}"}
        await _answer(api, reader, writer, status, json.dumps(answer).encode())
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        await api._note_finished()


def _head(status: int, length: int, content_type: str = "application/json") -> bytes:
    return (
        f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()


async def _answer(
    api: FaultyApi,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
) -> None:
    fault = api.fault
    if fault == "slow":
        await asyncio.sleep(api.delay)
    if fault == "status":
        page = api.body or PROXY_PAGES.get(api.status, b"")
        writer.write(_head(api.status, len(page), "text/html") + page)
    elif fault == "close_mid_answer":
        writer.write(_head(status, len(body)) + body[: len(body) // 2])
        await writer.drain()
        writer.transport.abort()  # a reset, as when the application's process dies
        return
    elif fault == "stall":
        writer.write(_head(status, len(body)) + body[:1])
        await writer.drain()
        await reader.read()  # nothing more, until the client gives up and closes
    elif fault == "trickle":
        writer.write(_head(status, 10_000))
        for _ in range(10_000):
            await writer.drain()
            writer.write(b" ")
            await asyncio.sleep(0.2)
    else:
        writer.write(_head(status, len(body)) + body)
    await writer.drain()


@contextlib.asynccontextmanager
async def faulty_api(sock: socket.socket | None = None) -> AsyncIterator[FaultyApi]:
    """The server on a free loopback port (or on `sock`, bound and not yet listening: the
    application coming back up), until the block ends."""
    connections: set[asyncio.Task[None]] = set()
    api = FaultyApi(url="")

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        connections.add(task)
        try:
            await _serve_one(api, reader, writer)
        finally:
            connections.discard(task)

    if sock is None:
        server = await asyncio.start_server(accept, "127.0.0.1", 0)
    else:
        server = await asyncio.start_server(accept, sock=sock)
    api.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield api
    finally:
        server.close()
        for task in list(connections):
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)
        await server.wait_closed()


@contextlib.contextmanager
def nothing_listening() -> Iterator[socket.socket]:
    """A loopback port bound but not listening: connecting to it is refused (ECONNREFUSED),
    as when the internal application is down."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock
    finally:
        sock.close()


# The plugin


class Exits:
    """How each handler run ended, by subcommand: "returned", "raised", "cancelled"."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self.runs: list[tuple[str, str]] = []
        #: What `items stubborn`'s late ctx.respond returned.
        self.late_answer_delivered: bool | None = None

    def note(self, name: str, how: str) -> None:
        with self._lock:
            self.runs.append((name, how))
            self._lock.notify_all()

    def clear(self) -> None:
        with self._lock:
            self.runs.clear()
            self.late_answer_delivered = None

    async def wait_for(self, name: str, seconds: float = 15.0) -> str:
        """How the first run of `name` ended, once it has."""

        def wait() -> str:
            with self._lock:
                if not self._lock.wait_for(lambda: any(n == name for n, _ in self.runs), seconds):
                    raise TimeoutError(f"the handler of {name} did not end within {seconds}s")
                return next(how for n, how in self.runs if n == name)

        return await asyncio.to_thread(wait)


EXITS = Exits()
#: `items report` reads the list this many times.
REPORT_CALLS = 5


@contextlib.asynccontextmanager
async def _noted(name: str) -> AsyncIterator[None]:
    how = "returned"
    try:
        yield
    except asyncio.CancelledError:
        how = "cancelled"
        raise
    except BaseException:
        how = "raised"
        raise
    finally:
        EXITS.note(name, how)


async def _list(ctx: CommandContext, args: Arguments) -> Reply:
    async with _noted("items"):
        body = await ctx.api.get("/api/items")
        with reading(ctx.app_name):
            return reply(f"{len(body['items'])} items in {ctx.app_name}")


async def _add(ctx: CommandContext, args: Arguments) -> Reply:
    async with _noted("items add"):
        body = await ctx.api.post("/api/items", json={"text": args["text"]})
        with reading(ctx.app_name):
            return reply(f"Added #{body['id']}: {body['text']}")


async def _report(ctx: CommandContext, args: Arguments) -> Reply:
    """Several calls, each within INTERNAL_API_TIMEOUT, together longer than COMMAND_TIMEOUT
    when the application is slow."""
    async with _noted("items report"):
        counts = [len((await ctx.api.get("/api/items"))["items"]) for _ in range(REPORT_CALLS)]
        return reply(f"Report: {counts}")


async def _stubborn(ctx: CommandContext, args: Arguments) -> Reply:
    """A plugin's mistake: it swallows its cancellation at COMMAND_TIMEOUT to "always answer",
    then tries to change data and to answer, late."""
    async with _noted("items stubborn"):
        # The mistake, on purpose: the cancellation at COMMAND_TIMEOUT is swallowed.
        with contextlib.suppress(BaseException):
            await ctx.api.get("/api/items")  # slow
        with contextlib.suppress(InternalApiError):
            await ctx.api.post("/api/items", json={"text": "written late"})
        EXITS.late_answer_delivered = await ctx.respond(reply("a late answer"))
        return reply("a late reply")


plugin = CommandPlugin(
    name="faulty",
    subcommands=[
        Subcommand("items", "lists the items in {app}", _list, changes_data=False),
        Subcommand(
            "items add", "adds an item", _add, [Argument("text", rest=True)], changes_data=True
        ),
        Subcommand("items report", "reads the items several times", _report, changes_data=False),
        Subcommand("items stubborn", "ignores its cancellation", _stubborn, changes_data=True),
    ],
)
