"""The Slack side's HTTP client for the internal application, behind the plugin interface
(`bolt_app.commands.InternalApiClient`).

Each command gets a client that carries the acting mode's credential (`bolt_app.acting`),
asked for its headers before each call, and asked once more after a 401 (the call is then
made again, once, with the renewed headers); its HTTP connections are made on first use in
the handler's own event loop and closed with it. Redirects are never followed, answers are
read up to MAX_ANSWER_BYTES, and a path can only name something under INTERNAL_API_URL: a
credential is never sent anywhere else.

Each call has one deadline, INTERNAL_API_TIMEOUT seconds, for all of it: connecting, sending,
the status line and the whole body (a body that trickles in byte by byte cannot hold a
command past it). A call without a usable answer raises ApiUnavailable, saying whether the
request may have reached the application (`reached`) and naming the application in its
`headline`; the client remembers whether any request that could change data may have reached
it (`PersonApi.may_have_changed`), so that the command listener tells the person whether
the command may have been carried out.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import httpx

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

_UNSAFE_PATH = re.compile(r"[\x00-\x20\x7f\\#]")
#: httpx errors raised before any byte of the request left: the application cannot have
#: acted on it.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
#: 5xx answers from a server in front of the application (a gateway or proxy): the
#: application itself did not answer.
_GATEWAY_STATUSES = (502, 503, 504)
#: Methods that only read (RFC 9110 section 9.2.1): never counted as a possible change.
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


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
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_name = app_name
        self._timeout = timeout
        self._transport = transport
        self._people: set[PersonApi] = set()  # until closed

    def as_person(self, credential: Credential | Mapping[str, str]) -> PersonApi:
        """A client whose every call carries `credential` (the acting mode's; fixed headers
        may be given as a mapping). Its connections live in the event loop that first uses
        it: close it there (`aclose`)."""
        if isinstance(credential, Mapping):
            credential = FixedHeaders(credential)
        person = PersonApi(self, credential)
        self._people.add(person)
        return person

    def forget(self, person: PersonApi) -> None:
        self._people.discard(person)

    def new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self._timeout,
            transport=self._transport,
            trust_env=False,
            follow_redirects=False,
        )

    async def close(self) -> None:
        """Close the clients made here that are still open (those used in this loop)."""
        for person in list(self._people):
            await person.aclose()

    async def call(
        self,
        client: httpx.AsyncClient,
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
        try:
            # One deadline for the whole call: httpx's own timeout bounds each read, so a
            # body sent a byte at a time would never end without it.
            async with (
                asyncio.timeout(self._timeout),
                client.stream(
                    method, url, params=params, content=content, headers=request_headers
                ) as response,
            ):
                body = await _read(response)
        except (httpx.HTTPError, TimeoutError) as error:
            raise self._unanswered(method, path, error) from None
        except _TooLarge:
            log.warning("The internal application's answer to %s %s is too large", method, path)
            raise UnreadableAnswer(f"{name} gave an answer too large to read.") from None
        status = response.status_code
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

    def _unanswered(self, method: str, path: str, error: Exception) -> ApiUnavailable:
        """ApiUnavailable for a call that got no answer: `error` is httpx's, or TimeoutError
        at the call's deadline. Logged for the administrator, naming the setting."""
        name = self.app_name
        reached = not isinstance(error, _NOT_SENT)
        if isinstance(error, TimeoutError | httpx.TimeoutException) and reached:
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
                type(error).__name__,
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
        self._client: httpx.AsyncClient | None = None
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

    async def aclose(self) -> None:
        self._connection.forget(self)
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Json:
        if self._client is None:
            self._client = self._connection.new_client()
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
        assert self._client is not None
        reached = True
        try:
            return await self._connection.call(self._client, method, path, headers, **kwargs)
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


async def _read(response: httpx.Response) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
        raise _TooLarge
    body = bytearray()
    async for chunk in response.aiter_bytes():
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
