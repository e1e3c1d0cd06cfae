"""Calls to Slack's Web API and to response_urls: each within its path's deadline, retried by
slack_sdk's retry handlers (`slack_sdk.http_retry`) as far as that deadline allows.

slack_sdk retries inside the client call, so that every caller gets them: a 429 waits out
Slack's `Retry-After` (https://api.slack.com/apis/rate-limits), a 5xx (`http_5xx`), a
request that passed SLACK_API_TIMEOUT (`timeout`) and a dropped or refused connection
(`connection`) wait a backoff (0.5 s, 1 s, 2 s, ... plus up to 1 s of jitter). What slack_sdk
lacks is a deadline for the whole call: here each path sets one (`within`), the handlers see
it through a context variable, and a retry whose wait would not end before it is not made
(for a `Retry-After` longer than what remains, that is logged). Every failed attempt is
counted (`Metrics.slack_api_error(method, error)`, error being Slack's code such as
`ratelimited` or `channel_not_found`, or `http_5xx`, `timeout`, `connection`).

The paths and their deadlines, retries included (seconds):

| path | deadline | retried |
| --- | --- | --- |
| `users.info` while a page waits (`slack_directory`) | SLACK_PAGE_TIMEOUT | a dropped connection only: a 429 or 5xx is "not now", and the page uses what the link knows |
| a DM carrying a link or an answer (`SlackNotifier.direct_message`) | `DM_DEADLINE_SECONDS`; SLACK_PAGE_TIMEOUT when a page waits for it ("Send me a new link") | 429, 5xx, timeout, connection |
| `views.publish`, the Home tab (`home_tab`) | `PUBLISH_DEADLINE_SECONDS` | 429, 5xx, timeout, connection |
| `chat.postMessage` from the outbox (`outbox_sender`) | `OUTBOX_ATTEMPT_SECONDS` per attempt; then the outbox tries again later, until OUTBOX_MAX_AGE | 429, 5xx, timeout, connection |
| a post to a response_url (`respond`, late answers, resumed commands) | `RESPONSE_URL_DEADLINE_SECONDS` | 429, 5xx, timeout, connection |
| `auth.test` (`installation`) | `AUTH_TEST_DEADLINE_SECONDS` | 429, 5xx, timeout, connection |
| any other call (none today) | none set: each wait at most `UNBOUNDED_WAIT_SECONDS`, at most `MAX_RETRIES` retries | 429, 5xx, timeout, connection |

Each single request ends after SLACK_API_TIMEOUT (slack_sdk takes whole seconds: rounded up).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import re
from collections.abc import Awaitable, Sequence
from ssl import SSLContext
from typing import Any, TypeVar

from aiohttp import ClientOSError, ServerConnectionError, ServerDisconnectedError
from slack_bolt.async_app import AsyncRespond
from slack_bolt.context.respond.internals import _build_message
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.webhook import WebhookResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

from monitoring.metrics import Metrics

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Retries of one call at most, whatever its deadline leaves.
MAX_RETRIES = 5
#: Without a path deadline, the longest one retry may wait (a longer Retry-After gives up).
UNBOUNDED_WAIT_SECONDS = 10.0
#: A post to a response_url (Slack keeps one 30 minutes, for 5 posts).
RESPONSE_URL_DEADLINE_SECONDS = 10.0
#: What a response_url post is counted as (`Metrics.slack_api_error`).
RESPONSE_URL = "response_url"
#: slack_sdk's RandomJitter adds up to this much to every backoff.
_JITTER_SECONDS = 1.0

#: The loop time (`loop.time()`) by which the current path must be done; None: no path set one.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "slack_call_deadline", default=None
)


async def within(
    seconds: float,
    call: Awaitable[T],
    *,
    metrics: Metrics | None = None,
    method: str = "",
) -> T:
    """Await `call` (a Slack client call, not yet started) within `seconds`, retries
    included: the retry handlers see the deadline (the earlier of this one and an enclosing
    path's). Raises TimeoutError at the deadline (counted as a `timeout` of `method` in
    `metrics`, when given), or whatever the call raises."""
    loop = asyncio.get_running_loop()
    mine = loop.time() + seconds
    outer = _deadline.get()
    token = _deadline.set(mine if outer is None else min(mine, outer))
    try:
        return await asyncio.wait_for(call, seconds)
    except TimeoutError:
        if metrics is not None and method:
            metrics.slack_api_error(method, "timeout")
        raise
    finally:
        _deadline.reset(token)


def _remaining() -> float | None:
    """Seconds left of the current path's deadline; None when no path set one."""
    deadline = _deadline.get()
    if deadline is None:
        return None
    return deadline - asyncio.get_running_loop().time()


def _fits(wait: float) -> bool:
    """Whether a retry after `wait` seconds still ends its wait before the deadline."""
    remaining = _remaining()
    return wait <= (UNBOUNDED_WAIT_SECONDS if remaining is None else remaining)


def method_of(url: str) -> str:
    """The Web API method a request URL calls (`…/api/chat.postMessage` → `chat.postMessage`)."""
    return url.rsplit("/", 1)[-1].split("?", 1)[0][:40] or "unknown"


_SLACK_CODE = re.compile(r"[a-z][a-z0-9_]{0,39}")


def error_of(response: HttpResponse | None, error: Exception | None) -> str | None:
    """How a finished attempt failed, as `Metrics.slack_api_error` counts it; None when it
    did not. Only Slack's own error codes (lower-case words) become labels; anything else
    is `http_<status>` or "other", so a strange answer cannot multiply the series."""
    if error is not None:
        return "timeout" if isinstance(error, TimeoutError) else "connection"
    if response is None:
        return None
    if response.status_code == 429:
        return "ratelimited"
    if response.status_code >= 500:
        return "http_5xx"
    code: object = None
    if isinstance(response.body, dict):
        if response.body.get("ok") is not False:
            return None if response.status_code < 400 else f"http_{response.status_code}"
        code = response.body.get("error")
    elif response.status_code >= 400:
        code = (response.data or b"").decode("utf-8", "replace").strip()
    else:
        return None
    if isinstance(code, str) and _SLACK_CODE.fullmatch(code):
        return code
    return f"http_{response.status_code}" if response.status_code >= 400 else "other"


class CountedAttempts(AsyncRetryHandler):
    """Retries nothing: counts every failed attempt it is shown (put it first, so that it
    sees each one before a handler that retries). `method`: the label for every attempt
    (a response_url's); None: the Web API method from the request's URL."""

    def __init__(self, metrics: Metrics, method: str | None = None) -> None:
        super().__init__(max_retry_count=0)
        self._metrics = metrics
        self._method = method

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        failed = error_of(response, error)
        if failed is not None:
            self._metrics.slack_api_error(self._method or method_of(request.url), failed)
        return False


class RateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's: a 429 waits `Retry-After` seconds (plus up to 1 s of jitter), only if
    that wait ends before the path's deadline; otherwise it gives up at once, logged."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not await super()._can_retry_async(
            state=state, request=request, response=response, error=error
        ):
            return False
        assert response is not None
        wait = _retry_after(response) + _JITTER_SECONDS
        if _fits(wait):
            return True
        remaining = _remaining()
        log.warning(
            "Slack rate-limited %s and asked to wait %ss (Retry-After); %s, so it is not "
            "retried now",
            method_of(request.url),
            _retry_after(response),
            "that is more than one retry may wait"
            if remaining is None
            else f"only {max(0.0, remaining):.1f}s remain of its deadline",
        )
        return False


class ServerErrorRetry(AsyncServerErrorRetryHandler):
    """slack_sdk's, for every 5xx (it knows 500 and 503 only), with its backoff, only when
    the backoff ends before the path's deadline."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return (
            response is not None
            and response.status_code >= 500
            and _fits(_backoff(self, state) + _JITTER_SECONDS)
        )


class ConnectionRetry(AsyncConnectionErrorRetryHandler):
    """slack_sdk's, for a dropped or refused connection and for a request that passed its
    timeout (SLACK_API_TIMEOUT), with its backoff, only when the backoff ends before the
    path's deadline."""

    def __init__(self, max_retry_count: int = MAX_RETRIES) -> None:
        super().__init__(
            max_retry_count,
            error_types=[
                ServerConnectionError,
                ServerDisconnectedError,
                ClientOSError,  # also a refused connection (ClientConnectorError)
                TimeoutError,
            ],
        )

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return await super()._can_retry_async(
            state=state, request=request, response=response, error=error
        ) and _fits(_backoff(self, state) + _JITTER_SECONDS)


def _backoff(handler: AsyncRetryHandler, state: RetryState) -> float:
    """The backoff before the next attempt, without slack_sdk's jitter."""
    calculator = handler.interval_calculator
    factor = getattr(calculator, "backoff_factor", 0.5)
    return float(factor) * 2.0**state.current_attempt


def _retry_after(response: HttpResponse) -> int:
    for name, values in response.headers.items():
        if name.lower() == "retry-after" and values:
            try:
                return max(0, int(values[0]))
            except ValueError:
                break
    return 1


def retry_handlers(
    metrics: Metrics | None,
    *,
    method: str | None = None,
    rate_limits: bool = True,
    server_errors: bool = True,
) -> list[AsyncRetryHandler]:
    """The handlers for a client (first the counting, then those that retry): with
    `rate_limits` and `server_errors` false, only a dropped connection or a timeout is
    retried (a page someone waits on). `method`: see `CountedAttempts`."""
    handlers: list[AsyncRetryHandler] = []
    if metrics is not None:
        handlers.append(CountedAttempts(metrics, method))
    if rate_limits:
        handlers.append(RateLimitRetry(max_retry_count=MAX_RETRIES))
    if server_errors:
        handlers.append(ServerErrorRetry(max_retry_count=MAX_RETRIES))
    handlers.append(ConnectionRetry())
    return handlers


def request_timeout(seconds: float) -> int:
    """SLACK_API_TIMEOUT as slack_sdk takes it: whole seconds, rounded up."""
    return max(1, math.ceil(seconds))


# response_urls (slack_sdk's AsyncWebhookClient)


def response_url_client(
    url: str,
    metrics: Metrics | None,
    timeout_seconds: float,
    *,
    proxy: str | None = None,
    ssl: SSLContext | None = None,
) -> AsyncWebhookClient:
    """A client that posts to the response_url `url`, each request within `timeout_seconds`,
    retried as a Web API call is (post through `post_to_response_url`, for the deadline)."""
    return AsyncWebhookClient(
        url,
        timeout=request_timeout(timeout_seconds),
        proxy=proxy,
        ssl=ssl,
        retry_handlers=retry_handlers(metrics, method=RESPONSE_URL),
    )


async def post_to_response_url(
    client: AsyncWebhookClient,
    body: dict[str, Any],
    *,
    metrics: Metrics | None = None,
    deadline_seconds: float = RESPONSE_URL_DEADLINE_SECONDS,
) -> WebhookResponse:
    """Post `body` through `client` within `deadline_seconds`, retries included. Raises
    TimeoutError at the deadline, or what the client raises."""
    return await within(
        deadline_seconds, client.send_dict(body), metrics=metrics, method=RESPONSE_URL
    )


class RetryingRespond(AsyncRespond):
    """Bolt's `respond()`, posting through `response_url_client` within
    RESPONSE_URL_DEADLINE_SECONDS (Bolt's own makes a client without these retries or a
    deadline). Same arguments and answer as Bolt's."""

    def __init__(
        self,
        *,
        response_url: str | None,
        metrics: Metrics | None = None,
        timeout_seconds: float = 10.0,
        proxy: str | None = None,
        ssl: SSLContext | None = None,
    ) -> None:
        super().__init__(response_url=response_url, proxy=proxy, ssl=ssl)
        self.metrics = metrics
        self.timeout_seconds = timeout_seconds

    async def __call__(
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[Any] | None = None,
        attachments: Sequence[Any] | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WebhookResponse:
        if self.response_url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        if isinstance(text, dict):
            message = _build_message(**text)
        else:
            message = _build_message(
                text=text,
                blocks=blocks,
                attachments=attachments,
                response_type=response_type,
                replace_original=replace_original,
                delete_original=delete_original,
                unfurl_links=unfurl_links,
                unfurl_media=unfurl_media,
                thread_ts=thread_ts,
                metadata=metadata,
            )
        client = response_url_client(
            self.response_url, self.metrics, self.timeout_seconds, proxy=self.proxy, ssl=self.ssl
        )
        return await post_to_response_url(client, message, metrics=self.metrics)
