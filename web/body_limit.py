"""A cap on the size of every request body, applied before any route parses one.

A pure ASGI middleware (no buffering, no Starlette request object on the way in):

- a request whose `Content-Length` is over the cap is answered 413 at once, before a byte of
  its body is read;
- a body without a usable length (`Transfer-Encoding: chunked`) is counted as the route reads
  it, and the request is answered 413 as soon as the count passes the cap;
- a `Content-Length` that is not a plain decimal number is answered 400.

The answer is the site's error page, or JSON under `/api/`. It does not close the
connection: closing a socket with unread data makes the kernel reset it, and the client would
see "connection reset" instead of the 413. The server reads and discards the rest of the body
instead, without parsing it (uvicorn drops body data that arrives after the response).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import errors

DEFAULT_MAX_BODY_BYTES = 16 * 1024
#: More digits than any length this site could accept; longer is refused without int().
MAX_LENGTH_DIGITS = 12

TOO_LARGE = "This request is too large for this site. Its forms are small: go back and try again."


class BodyTooLarge(Exception):
    """Raised into the app from `receive` when a streamed body passes the cap."""


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        lengths = [value for key, value in scope["headers"] if key.lower() == b"content-length"]
        if lengths:
            length = _content_length(lengths)
            if length is None:
                await _refuse(scope, receive, send, 400, "The request's length is not valid.")
                return
            if length > self.max_body_bytes:
                await _refuse(scope, receive, send, 413, TOO_LARGE)
                return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge()
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:  # too late for a page; the server closes the connection
                raise
            await _refuse(scope, receive, send, 413, TOO_LARGE)


def _content_length(values: list[bytes]) -> int | None:
    """The one length all `Content-Length` values agree on (RFC 9110 8.6), or None."""
    if len(set(values)) != 1:
        return None
    value = values[0].strip()
    if not value.isdigit() or len(value) > MAX_LENGTH_DIGITS:
        return None
    return int(value)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    response = await errors.http_error(Request(scope, receive), HTTPException(status, message))
    await response(scope, receive, send)
