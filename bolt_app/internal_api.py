"""The Slack side's HTTP client for the internal application, behind the plugin interface
(`bolt_app.commands.InternalApiClient`).

Each command gets a client that carries the acting mode's credential (`bolt_app.acting`),
asked for its headers before each call, and asked once more after a 401 (the call is then
made again, once, with the renewed headers). Redirects are never followed, answers are
read up to MAX_ANSWER_BYTES, and a path can only name something under INTERNAL_API_URL: a
credential is never sent anywhere else.

Issue 12: the HTTP connections are pooled, one aiohttp session per event loop (each plugin
runner worker's, `bolt_app.commands.runner`), kept between commands and closed with the
loop (`close`). aiohttp rather than httpx: the same call costs several times less CPU (see
README "Performance"). A pooled session carries nothing of any person: the credential goes
in each request's headers, never on the session, and the session keeps no cookies (a cookie
one person's answer sets would otherwise go with the next person's request). It takes no
proxy from the environment, and it sends each request once: aiohttp's own re-send of an
idempotent request whose connection broke is turned off, as a DELETE carried out before the
break would be sent again.

Each call has one deadline, INTERNAL_API_TIMEOUT seconds, for all of it: connecting, sending,
the status line and the whole body (a body that trickles in byte by byte cannot hold a
command past it). A call without a usable answer raises ApiUnavailable, saying whether the
request may have reached the application (`reached`: false only when no byte of it left,
as aiohttp reports while it writes the request) and naming the application in its
`headline`; the client remembers whether any request that could change data may have reached
it (`PersonApi.may_have_changed`), so that the command listener tells the person whether
the command may have been carried out.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import re
import ssl
import threading
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote

import aiohttp
import certifi

from . import messages
from .acting import Credential, FixedHeaders
from .commands.api import (
    ApiRefused,
    ApiUnavailable,
    CredentialRejected,
    InternalApiError,
    Json,
    UnreadableAnswer,
)

log = logging.getLogger(__name__)

#: The largest answer read, in bytes; a larger one is UnreadableAnswer.
MAX_ANSWER_BYTES = 1024 * 1024
#: Issue 12: seconds a pooled connection is kept idle for the next call. Shorter than the
#: keep-alive time-outs of common servers (gunicorn 2 s, uvicorn and Node 5 s), so that a
#: call is not sent on a connection the application is just closing (it would fail as "the
#: connection broke off"); under load the connections are used again long before.
KEEPALIVE_SECONDS = 1.0
#: Issue 12: connections open at once per event loop (httpx's default, kept from before).
MAX_CONNECTIONS = 100

_UNSAFE_PATH = re.compile(r"[\x00-\x20\x7f\\#]")
#: 5xx answers from a server in front of the application (a gateway or proxy): the
#: application itself did not answer.
_GATEWAY_STATUSES = (502, 503, 504)
#: Methods that only read (RFC 9110 section 9.2.1): never counted as a possible change.
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


async def _on_request_headers_sent(
    session: aiohttp.ClientSession,
    context: SimpleNamespace,
    params: aiohttp.TraceRequestHeadersSentParams,
) -> None:
    """The request's headers are being written: from now on it may reach the application."""
    context.trace_request_ctx.sent = True


#: Tells `call` whether any of a request was written (its `trace_request_ctx`).
_SENDING = aiohttp.TraceConfig()
_SENDING.on_request_headers_sent.append(_on_request_headers_sent)


class InternalApiConnection:
    """INTERNAL_API_URL (`base_url`: scheme, host and an optional path prefix) and how to
    reach it; `app_name` (INTERNAL_APP_NAME) is how errors name the application; `timeout`
    (INTERNAL_API_TIMEOUT) the seconds one call may take, all of it. A command's handler as
    a whole is bounded by COMMAND_TIMEOUT."""

    def __init__(
        self,
        base_url: str,
        app_name: str,
        *,
        timeout: float,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_name = app_name
        self._timeout = timeout
        # Issue 12: one pooled session per event loop, made on first use there
        self._clients: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None  # one for all the sessions: costly to make

    def as_person(self, credential: Credential | Mapping[str, str]) -> PersonApi:
        """A client whose every call carries `credential` (the acting mode's; fixed headers
        may be given as a mapping). Its calls use the pooled connections of the event loop
        they run in (see `close`)."""
        if isinstance(credential, Mapping):
            credential = FixedHeaders(credential)
        return PersonApi(self, credential)

    def client(self) -> aiohttp.ClientSession:
        """The running event loop's pooled session, made on first use: no credential, no
        cookies, no proxy from the environment, no re-sent requests (see the module)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.get(loop)
            if client is None:
                if self._tls is None:  # the CA bundle httpx used, made once (~20 ms)
                    self._tls = ssl.create_default_context(cafile=certifi.where())
                client = self._clients[loop] = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(
                        limit=MAX_CONNECTIONS,
                        keepalive_timeout=KEEPALIVE_SECONDS,
                        ssl=self._tls,
                    ),
                    cookie_jar=aiohttp.DummyCookieJar(),
                    trust_env=False,
                    # The deadline is the call's own (`call`): none of aiohttp's 5 minutes.
                    timeout=aiohttp.ClientTimeout(total=None),
                    trace_configs=[_SENDING],
                )
                # aiohttp sends an idempotent request (GET, PUT, DELETE...) again, once, when
                # its connection breaks before the answer; the application may have acted on
                # the first. aiohttp's own test client turns it off the same way (no public
                # setting); tests/test_internal_api_client.py checks that it stays off.
                client._retry_connection = False
        return client

    async def close(self) -> None:
        """Close the running event loop's pooled session, if it has one (the plugin runner
        calls it as each worker's loop ends)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.pop(loop, None)
        if client is not None:
            await client.close()

    async def call(
        self,
        client: aiohttp.ClientSession,
        method: str,
        path: str,
        headers: dict[str, str],
        *,
        params: Mapping[str, str] | None = None,
        json: Json = None,
        has_body: bool = False,
    ) -> Json:
        url = self.base_url + check_path(path)
        name = self.app_name
        content = None
        request_headers = {"Accept": "application/json", **headers}
        if has_body and json is not None:
            content = jsonlib.dumps(json).encode()
            request_headers["Content-Type"] = "application/json"
        sending = SimpleNamespace(sent=False)  # set by _SENDING as the request is written
        try:
            # One deadline for the whole call, connecting and the whole body included (a
            # body sent a byte at a time must not hold the call past it).
            async with (
                asyncio.timeout(self._timeout),
                client.request(
                    method,
                    url,
                    params=params,
                    data=content,
                    headers=request_headers,
                    allow_redirects=False,
                    trace_request_ctx=sending,
                ) as response,
            ):
                body = await _read(response)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise self._unanswered(method, path, error, reached=sending.sent) from None
        except _TooLarge:
            log.warning("The internal application's answer to %s %s is too large", method, path)
            raise UnreadableAnswer(f"{name} gave an answer too large to read.") from None
        status = response.status
        parsed, readable = _parse(body)
        if status == 401:
            raise CredentialRejected(f"{name} did not accept the app's credential.")
        if 300 <= status < 400 or status < 200:
            log.warning(
                "The internal application answered %s %s with HTTP %s (not followed)",
                method,
                path,
                status,
            )
            raise UnreadableAnswer(f"{name} gave an answer the app cannot use (HTTP {status}).")
        if status >= 400:
            reason = _reason(parsed)
            message = _without(reason or f"HTTP {status}", headers)
            if status >= 500:
                raise self._server_error(method, path, status, message, own=reason is not None)
            raise ApiRefused(f"{name} refused: {message}", status, message)
        if not readable:
            log.warning(
                "The internal application answered %s %s with HTTP %s and a body that is not JSON",
                method,
                path,
                status,
            )
            raise UnreadableAnswer(f"{name} gave an answer that could not be read (HTTP {status}).")
        return parsed

    def _server_error(
        self, method: str, path: str, status: int, message: str, *, own: bool
    ) -> ApiUnavailable:
        """ApiUnavailable for a 5xx answer; `own`: the answer gave a reason in the
        application's JSON (the application itself answered, not a gateway in front of it).

        502, 504, and 503 without the application's own reason, come from a gateway or proxy
        whose application is down or slow: "not responding". 503 with the application's
        reason is the application saying it cannot take requests now (RFC 9110 section
        15.6.4): it did not act on this one. Any other 5xx: "failed", and it may have acted
        (a 502 or 504 too: the request may have reached it before the gateway gave up)."""
        name = self.app_name
        gateway = status in _GATEWAY_STATUSES and not (status == 503 and own)
        log.warning(
            "The internal application answered %s %s with HTTP %s%s",
            method,
            path,
            status,
            " (from a gateway or proxy in front of it? Is it running?)" if gateway else "",
        )
        why = message.rstrip(". ") or f"HTTP {status}"
        if gateway:
            headline = messages.not_responding(name, why)
        elif status == 503:
            headline = f"{name} is not available just now ({why})"
        else:
            headline = messages.failed(name, why)
        reached = not (status == 503 and own)
        done: messages.Done = "read" if reached else "nothing"
        return ApiUnavailable(
            messages.unavailable_text(headline, name, done), reached=reached, headline=headline
        )

    def _unanswered(
        self, method: str, path: str, error: Exception, *, reached: bool
    ) -> ApiUnavailable:
        """ApiUnavailable for a call that got no answer: `error` is aiohttp's, or TimeoutError
        at the call's deadline; `reached`: some of the request was written (it may have
        reached the application). Logged for the administrator, naming the setting."""
        name = self.app_name
        if isinstance(error, TimeoutError) and reached:
            why = f"no answer within {messages.seconds(self._timeout)}"
            log.warning(
                "The internal application did not answer %s %s at INTERNAL_API_URL %s within "
                "INTERNAL_API_TIMEOUT (%gs): %s",
                method,
                path,
                self.base_url,
                self._timeout,
                type(error).__name__,
            )
        else:
            why = "the connection broke off" if reached else "no connection could be made"
            log.warning(
                "The internal application did not answer %s %s at INTERNAL_API_URL %s: %s%s",
                method,
                path,
                self.base_url,
                _what(error),
                "" if reached else " (is it running, and is INTERNAL_API_URL right?)",
            )
        headline = messages.not_responding(name, why)
        done: messages.Done = "read" if reached else "nothing"
        return ApiUnavailable(
            messages.unavailable_text(headline, name, done), reached=reached, headline=headline
        )


class PersonApi:
    """`InternalApiClient` for one command: calls carry the acting mode's credential."""

    def __init__(self, connection: InternalApiConnection, credential: Credential) -> None:
        self._connection = connection
        self._credential = credential
        #: True once a request that could change data (any method but GET, HEAD, OPTIONS)
        #: may have reached the application: sent, and not refused with a 4xx.
        self.may_have_changed = False
        self._stopped = threading.Event()  # set from the main loop, read on the handler's

    def stop(self) -> None:
        """The command was abandoned (COMMAND_TIMEOUT): from now on no call is sent, each
        raises ApiUnavailable at once. Callable from any thread."""
        self._stopped.set()

    def __repr__(self) -> str:  # the headers hold a credential
        return f"PersonApi({self._connection.base_url!r})"

    async def _call(self, method: str, path: str, **kwargs: Any) -> Json:
        headers = await self._credential.headers()
        try:
            return await self._send(method, path, headers, **kwargs)
        except CredentialRejected:
            # A 401 means the call was not acted on: safe to make again, once, when the
            # credential can be renewed (ACT_AS=oauth2 refreshes the access token).
            renewed = await self._credential.renewed()
            if renewed is None:
                raise
        return await self._send(method, path, renewed, **kwargs)

    async def _send(self, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> Json:
        if self._stopped.is_set():
            # The person was already told the command did not finish: nothing more is sent.
            name = self._connection.app_name
            raise ApiUnavailable(f"The command was stopped, so nothing more was sent to {name}.")
        reached = True
        client = self._connection.client()
        try:
            return await self._connection.call(client, method, path, headers, **kwargs)
        except ApiUnavailable as error:
            reached = error.reached
            raise
        except (ApiRefused, CredentialRejected):
            reached = False  # a 4xx: refused, not carried out
            raise
        finally:  # cancelled at COMMAND_TIMEOUT too: it may have reached the application
            if reached and method not in _SAFE_METHODS:
                self.may_have_changed = True

    async def get(self, path: str, *, params: Mapping[str, str] | None = None) -> Json:
        return await self._call("GET", path, params=params)

    async def post(self, path: str, *, json: Json = None) -> Json:
        return await self._call("POST", path, json=json, has_body=True)

    async def put(self, path: str, *, json: Json = None) -> Json:
        return await self._call("PUT", path, json=json, has_body=True)

    async def patch(self, path: str, *, json: Json = None) -> Json:
        return await self._call("PATCH", path, json=json, has_body=True)

    async def delete(self, path: str) -> Json:
        return await self._call("DELETE", path)


def check_path(path: str) -> str:
    """`path` when it names something under INTERNAL_API_URL: it starts with one `/`, has no
    scheme, host, query, fragment, backslash, space or control character, and no `.` or `..`
    segment (also percent-encoded). Raises ValueError otherwise: a plugin's fault."""
    if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
        raise ValueError(f"an internal API path must start with one '/': {path!r}")
    if _UNSAFE_PATH.search(path) or "?" in path:
        raise ValueError(
            f"an internal API path cannot hold spaces, '\\', '#', '?' or control characters "
            f"(give a query as params=): {path!r}"
        )
    for segment in path.split("/"):
        # A server or proxy may decode %2F and %5C before it resolves dot segments, so a
        # segment that decodes to "../x" walks up as surely as "..": judge the decoded parts.
        for part in re.split(r"[/\\]", unquote(segment)):
            if part in (".", ".."):
                raise ValueError(f"an internal API path cannot hold '.' or '..' segments: {path!r}")
    return path


class _TooLarge(Exception):
    pass


def _what(error: Exception) -> str:
    """The error's class, and for a failed connection the reason the system gave (DNS,
    refused, TLS): what the administrator needs to tell a wrong INTERNAL_API_URL from an
    application that is down."""
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"{type(error).__name__} ({error.os_error})"
    return type(error).__name__


async def _read(response: aiohttp.ClientResponse) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
        raise _TooLarge
    body = bytearray()
    async for chunk in response.content.iter_any():
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            raise _TooLarge
    return bytes(body)


def _parse(body: bytes) -> tuple[Json, bool]:
    """The body's JSON and whether it was JSON (an empty body is None, and readable)."""
    if not body.strip():
        return None, True
    try:
        return jsonlib.loads(body), True
    except (ValueError, RecursionError):
        return None, False


def _without(message: str, headers: Mapping[str, str]) -> str:
    """`message` with the values of the credential headers sent taken out: an application
    that echoes `Authorization` in its error must not show the credential to the person."""
    for value in headers.values():
        for secret in (value, value.partition(" ")[2]):
            if len(secret) >= 8:
                message = message.replace(secret, "[redacted]")
    return message


def _reason(body: Any) -> str | None:
    """The reason an error answer gives: its `error`, `message` or `detail` text."""
    if not isinstance(body, dict):
        return None
    for key in ("error", "message", "detail"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:200]
    return None


__all__ = ["InternalApiConnection", "InternalApiError", "PersonApi", "check_path"]
