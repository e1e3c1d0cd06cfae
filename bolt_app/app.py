"""Builds the Bolt app and its Socket Mode handler."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Iterator
from time import time
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app, send_async_response
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from monitoring.connection import ConnectionState
from monitoring.metrics import Metrics

from . import messages, socket_connection
from .bursts import ACKNOWLEDGED_AT_ONCE, Backlog
from .command_payload import CommandRequest, MalformedCommand
from .draining import count_listeners, counted_envelope
from .in_flight import InFlight
from .installation import CONTEXT_KEY as INSTALLATION_KEY
from .installation import InstallationLookup
from .lifecycle import event_id_of
from .listeners import register_listeners
from .prompt_ack import answer_promptly
from .redelivery import EventLedger, Redeliveries
from .response_urls import is_slack_response_url
from .services import CONTEXT_KEY as SERVICES_KEY
from .services import SlackServices
from .slack_calls import (
    RetryingRespond,
    post_to_response_url,
    request_timeout,
    response_url_client,
    retry_handlers,
)
from .socket_connection import ResilientSocketModeClient, SocketTimings

log = logging.getLogger("bolt_app")

#: The Socket Mode handler acknowledges every envelope within this many seconds, whatever
#: Bolt does meanwhile (its first auth.test, a middleware, a listener); Slack waits 3 s.
#: The command listener answers within its own, shorter deadline.
HANDLER_ACK_DEADLINE_SECONDS = 2.5

FAILED = (
    "Sorry, something went wrong in the app, so this was not done. "
    "Try again in a minute; if it keeps failing, tell your administrator."
)


class _SkipTokenWarning(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN in the environment is unused when a client is given:
    that is deliberate here (the client carries the token and SLACK_API_URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


log.addFilter(_SkipTokenWarning())


#: Environment variables from which Bolt's App sets up its OAuth installation flow.
BOLT_OAUTH_VARIABLES = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")


@contextlib.contextmanager
def _hidden_from_bolt(*names: str) -> Iterator[None]:
    """The environment without `names` for the block (Bolt reads them when an App is made;
    nothing else runs meanwhile: the app is built before it serves), then as it was."""
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def build_web_client(
    bot_token: str,
    api_url: str,
    *,
    timeout_seconds: float = 10.0,
    metrics: Metrics | None = None,
) -> AsyncWebClient:
    """The bot's Web API client at SLACK_API_URL (issue 11): each request within
    `timeout_seconds` (SLACK_API_TIMEOUT), rate limits, 5xx, timeouts and dropped
    connections retried by slack_sdk's handlers within the deadline of the caller's path
    (bolt_app.slack_calls), each failed attempt counted in `metrics` when given."""
    return AsyncWebClient(
        token=bot_token,
        base_url=api_url,
        timeout=request_timeout(timeout_seconds),
        retry_handlers=retry_handlers(metrics),
    )


def build_bolt_app(client: AsyncWebClient, services: SlackServices) -> AsyncApp:
    # Bolt turns SLACK_CLIENT_ID and SLACK_CLIENT_SECRET in the environment into its OAuth
    # installation flow, whose authorization then finds no installation and answers every
    # command "your installation with this app is no longer available". Here they are the
    # credentials of Sign in with Slack (VERIFY_SLACK_IDENTITY): the app is single-workspace,
    # authorised by its bot token, so Bolt is built without seeing them.
    with _hidden_from_bolt(*BOLT_OAUTH_VARIABLES):
        app = _ContextApp(services, InstallationLookup(client), client=client, logger=log)
    register_listeners(app, services)
    answer_promptly(app)  # Issue 12, fast: no 10 ms polling for each acknowledgement
    return app


class _ContextApp(AsyncApp):
    """Bolt's `AsyncApp`, which puts in each request's context, as it is dispatched, what the
    listeners read there: the services (`services_of`), the installation lookup
    (`installation_of`), and (issue 11) a `respond()` that posts to the response_url with
    retries and a deadline (`slack_calls.RetryingRespond`), each request within the Web API
    client's timeout (SLACK_API_TIMEOUT), failed attempts counted in the services' metrics,
    instead of Bolt's plain one.

    Issue 12: this was three global middlewares, each of which Bolt calls through its
    keyword-argument building for every request: about a tenth of a command's CPU time."""

    def __init__(
        self, services: SlackServices, installation: InstallationLookup, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._services = services
        self._installation = installation

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        context = req.context
        context[SERVICES_KEY] = self._services
        context[INSTALLATION_KEY] = self._installation
        if context.response_url:
            client = self._async_client
            context["respond"] = RetryingRespond(
                response_url=context.response_url,
                metrics=self._services.metrics,
                timeout_seconds=client.timeout,
                proxy=client.proxy,
                ssl=client.ssl,
            )
        return await super().async_dispatch(req)


class AcknowledgingSocketModeHandler(AsyncSocketModeHandler):
    """Acknowledges every envelope, within HANDLER_ACK_DEADLINE_SECONDS, whatever Bolt does.

    Bolt leaves an envelope unacknowledged when no listener handles it (404), when a listener
    or middleware fails (500, or an exception), and until its first auth.test answers. Slack
    would then retry an event or show the person `operation_timeout`. Here: an unhandled
    envelope is acknowledged empty (received and ignored is the honest answer); a failure is
    acknowledged with an ephemeral "something went wrong" for a slash command, or told
    through the payload's response_url; a late answer is acknowledged empty at the deadline
    and what Bolt answers later is posted to the response_url. Each case is logged.

    Envelopes Bolt and slack_sdk cannot take at all are answered before them: one whose
    `payload` is missing or not a JSON object (slack_sdk would raise and never acknowledge
    it), and a slash command whose fields `CommandRequest` refuses (Bolt would match no
    listener, or fail matching). Both are acknowledged at once and logged; a slash command
    gets the malformed-command error as its ephemeral answer.
    """

    def __init__(
        self,
        app: AsyncApp,
        app_token: str,
        web_client: AsyncWebClient,
        api_url: str = "",
        *,
        metrics: Metrics | None = None,
        connection: ConnectionState | None = None,
        timings: SocketTimings | None = None,
        redeliveries: Redeliveries | None = None,
    ) -> None:
        # Issue 11, socket: AsyncSocketModeHandler's three attributes, with slack_sdk's client
        # kept connected through Slack's refreshes and network faults
        # (bolt_app.socket_connection) in place of the plain one its __init__ would make.
        self.app = app
        self.app_token = app_token
        # Issue 11: where acks and the connection's state are reported
        self.metrics = metrics or Metrics()
        self.connection = connection or ConnectionState()
        self.client = ResilientSocketModeClient(
            app_token,
            web_client=web_client,
            logger=app.logger,
            timings=timings,
            connection=self.connection,
            metrics=self.metrics,
        )
        #: Issue 11, socket: repeated envelopes and Events API retries (bolt_app.redelivery).
        self.redeliveries = redeliveries or Redeliveries()
        #: SLACK_API_URL: late answers go only to its Slack's response_urls.
        self.api_url = api_url or str(web_client.base_url)
        # Issue 11, shutdown: envelopes being handled and their work, for a graceful stop
        self.in_flight = InFlight()
        # Issue 11, durability: a burst of slash commands is acknowledged at once
        self.backlog = Backlog()
        # Every envelope comes through `_receive`, which builds the SocketModeRequest itself
        # rather than let slack_sdk's SocketModeRequest.from_dict raise on an odd payload.
        self.client.message_listeners.append(self._receive)  # type: ignore[arg-type]

    async def _receive(self, client: SocketModeClient, message: object, raw: str | None) -> None:
        """One websocket message, as slack_sdk hands it over (a dict, {} when not JSON)."""
        arrived = time()
        if not isinstance(message, dict):
            return
        envelope_id = message.get("envelope_id")
        if not isinstance(envelope_id, str) or not envelope_id:
            return  # hello, disconnect: nothing to acknowledge
        kind = message.get("type")
        payload = message.get("payload")
        # Issue 11, socket: an envelope seen moments ago is acknowledged and not acted on
        if self.redeliveries.repeated_envelope(envelope_id):
            await self._drop_repeat(client, str(kind), envelope_id, "envelope", arrived)
            return
        if not isinstance(payload, dict):
            log.warning(
                "An envelope of type %.40r came with a payload that is %s, not an object; "
                "acknowledged it and did nothing",
                kind,
                "missing" if payload is None else type(payload).__name__,
            )
            answer = _malformed_command_answer(["payload"]) if kind == "slash_commands" else None
            await client.send_socket_mode_response(
                SocketModeResponse(envelope_id=envelope_id, payload=answer)
            )
            self.metrics.acknowledged(str(kind), time() - arrived)
            return
        if kind == "slash_commands":
            try:
                CommandRequest.from_payload(payload)
            except MalformedCommand as error:
                log.warning(
                    "Refused a slash command with missing or malformed fields: %s",
                    ", ".join(error.fields),
                )
                await client.send_socket_mode_response(
                    SocketModeResponse(
                        envelope_id=envelope_id, payload=_malformed_command_answer(error.fields)
                    )
                )
                self.metrics.acknowledged(str(kind), time() - arrived)
                return
        # Issue 11, socket: an Events API retry of a delivery handled (or under way) does not
        # act again
        event_id = event_id_of(payload) if kind == "events_api" else None
        if event_id is not None and await self.redeliveries.repeated_event(event_id):
            await self._drop_repeat(client, str(kind), envelope_id, f"event {event_id}", arrived)
            return
        retry_attempt = message.get("retry_attempt")
        retry_reason = message.get("retry_reason")
        request = SocketModeRequest(
            type=kind if isinstance(kind, str) else "",
            envelope_id=envelope_id,
            payload=payload,
            accepts_response_payload=message.get("accepts_response_payload") is True,
            retry_attempt=retry_attempt if isinstance(retry_attempt, int) else None,
            retry_reason=retry_reason if isinstance(retry_reason, str) else None,
        )
        try:
            await self.handle(client, request, arrived)
        except ConnectionError as error:  # Issue 11, socket: the connection went meanwhile
            log.warning(
                "Could not acknowledge an envelope of type %s: the Socket Mode connection "
                "closed meanwhile (%s); Slack retries an event, a person sees a timeout",
                request.type,
                type(error).__name__,
            )

    @counted_envelope  # Issue 11, shutdown: counted in self.in_flight; refused once stopping
    async def handle(  # type: ignore[override]
        self, client: SocketModeClient, req: SocketModeRequest, arrived: float | None = None
    ) -> None:
        start = arrived or time()
        if self.backlog.is_full(req.type):  # Issue 11, durability (bolt_app.bursts)
            await self._answer_later(client, req, start)
            return
        work = asyncio.ensure_future(run_async_bolt_app(self.app, req))
        self.backlog.track(req.type, work)
        done, _ = await asyncio.wait({work}, timeout=HANDLER_ACK_DEADLINE_SECONDS)
        if work in done:
            response, to_post = _acknowledgeable(req, work)
            await self._taken(req, work)
            await send_async_response(client, req, response, start)
            self.metrics.acknowledged(req.type, time() - start)
            if to_post is not None:
                await _post_to_response_url(
                    req, to_post, self.api_url, self.metrics, self.app.client.timeout
                )
            return
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
        self.metrics.acknowledged(req.type, time() - start)
        log.warning(
            "An envelope of type %s was not answered within %ss; acknowledged it empty",
            req.type,
            HANDLER_ACK_DEADLINE_SECONDS,
        )
        try:
            await work
        except Exception:  # reported by _acknowledgeable
            log.debug("the late envelope failed")
        late, to_post = _acknowledgeable(req, work)
        await self._taken(req, work)
        if to_post is None and late.body:
            to_post = _payload_of(late)
        if to_post is not None:
            await _post_to_response_url(
                req, to_post, self.api_url, self.metrics, self.app.client.timeout
            )

    # Issue 11, shutdown: an envelope refused while stopping (bolt_app.draining) was not
    # acted on, so an Events API retry of it must act: it is not a repeat.
    def refused(self, req: SocketModeRequest) -> None:
        event_id = event_id_of(req.payload) if req.type == "events_api" else None
        if event_id is not None:
            self.redeliveries.failed(event_id)

    # Issue 11, socket: each envelope acts once (bolt_app.redelivery)

    async def _drop_repeat(
        self, client: SocketModeClient, kind: str, envelope_id: str, what: str, arrived: float
    ) -> None:
        """Acknowledge a repeated envelope empty, and do nothing else."""
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=envelope_id))
        self.metrics.acknowledged(kind, time() - arrived)
        self.metrics.events_deduplicated.labels(type=_envelope_type(kind)).inc()
        log.info(
            "Got %s again (an envelope of type %.40s); acknowledged it and did not act on it",
            what,
            kind,
        )

    async def _taken(self, req: SocketModeRequest, work: asyncio.Future[BoltResponse]) -> None:
        """For an Events API delivery: record it as handled when Bolt took it (200), or
        forget it when not, so that Slack's retry acts."""
        if req.type != "events_api" or not isinstance(req.payload, dict):
            return
        event_id = event_id_of(req.payload)
        if event_id is None:
            return
        if work.exception() is None and work.result().status == 200:
            event = req.payload.get("event")
            event_type = event.get("type") if isinstance(event, dict) else None
            await self.redeliveries.taken(event_id, str(event_type))
        else:
            self.redeliveries.failed(event_id)

    # Issue 11, durability: a burst of slash commands (bolt_app.bursts)

    async def _answer_later(
        self, client: SocketModeClient, req: SocketModeRequest, start: float
    ) -> None:
        """Acknowledge the slash command `req` (arrived at `start`, time()) at once with
        "One moment…", then run Bolt on it (in one of the backlog's slots) telling the
        listener so, and post what Bolt answers to its response_url."""
        reply = messages.one_moment_reply()
        await client.send_socket_mode_response(
            SocketModeResponse(
                envelope_id=req.envelope_id,
                payload={"response_type": "ephemeral", "text": reply.text, "blocks": reply.blocks},
            )
        )
        self.metrics.acknowledged(req.type, time() - start)
        async with self.backlog.slots:
            request = AsyncBoltRequest(
                mode="socket_mode", body=req.payload, headers=build_headers(req)
            )
            request.context[ACKNOWLEDGED_AT_ONCE] = True
            work = asyncio.ensure_future(self.app.async_dispatch(request))
            try:
                await work
            except Exception:  # reported by _acknowledgeable
                log.debug("the answer of a command acknowledged at once failed")
            answer, to_post = _acknowledgeable(req, work)
            if to_post is None and answer.body:
                to_post = _payload_of(answer)
        # Issue 12: posted outside the slot, so that the next answers are computed meanwhile
        # (holding it for the post capped a burst's answers at SLOTS round trips to Slack).
        if to_post is not None:
            await _post_to_response_url(
                req, to_post, self.api_url, self.metrics, self.app.client.timeout
            )


def _envelope_type(kind: str) -> str:
    """Slack's envelope type as a metric label: one of a few, whatever a sender sends."""
    return kind if kind in ("slash_commands", "interactive", "events_api") else "other"


def _acknowledgeable(
    req: SocketModeRequest, work: asyncio.Future[BoltResponse]
) -> tuple[BoltResponse, dict[str, Any] | None]:
    """Bolt's outcome as a 200 the handler can send, and what to post to the response_url
    after it: a 404 becomes an empty acknowledgement, a failure an ephemeral error in the
    acknowledgement of a slash command, or through the response_url for other envelopes."""
    empty = BoltResponse(status=200, body="")
    error = work.exception()
    if error is None:
        response = work.result()
        if response.status == 200:
            return response, None
        if response.status == 404:
            log.info("Acknowledged an envelope of type %s that no listener handles", req.type)
            return empty, None
        log.error(
            "Bolt answered an envelope of type %s with HTTP %s; acknowledged it with an error",
            req.type,
            response.status,
        )
    else:
        log.error("An envelope of type %s failed; acknowledged it", req.type, exc_info=error)
    body = {"response_type": "ephemeral", "text": FAILED}
    if req.type == "slash_commands":
        answer = json.dumps(body)
        return BoltResponse(
            status=200, body=answer, headers={"content-type": "application/json"}
        ), None
    return empty, body


def _malformed_command_answer(fields: list[str]) -> dict[str, Any]:
    """The ephemeral acknowledgement of a slash command the app cannot read: the same words
    the command listener answers with."""
    reply = messages.error_reply(str(MalformedCommand(fields)))
    return {"response_type": "ephemeral", "text": reply.text, "blocks": reply.blocks}


def _payload_of(response: BoltResponse) -> dict[str, Any]:
    content_type = response.headers.get("content-type", [""])[0]
    if content_type.startswith("application/json"):
        body = json.loads(response.body)
        if isinstance(body, dict):
            return body
    return {"text": response.body}


async def _post_to_response_url(
    req: SocketModeRequest,
    body: dict[str, Any],
    api_url: str,
    metrics: Metrics | None = None,
    timeout_seconds: float = 10.0,
) -> None:
    """Post `body` to the envelope's response_url, if it has one and it is Slack's (as
    `api_url` names Slack), retried within RESPONSE_URL_DEADLINE_SECONDS; failures are
    logged."""
    payload = req.payload if isinstance(req.payload, dict) else {}
    url = payload.get("response_url")
    if url is None:
        return
    if not is_slack_response_url(url, api_url):
        log.warning("An envelope of type %s named a response_url that is not Slack's", req.type)
        return
    try:
        sent = await post_to_response_url(
            response_url_client(url, metrics, timeout_seconds),
            {"response_type": "ephemeral", "replace_original": False, **body},
            metrics=metrics,
        )
    except Exception as error:  # a broken response_url must not take the handler down
        log.error("Could not post to the response_url: %s", type(error).__name__)
        return
    if sent.status_code != 200:
        log.error("The response_url refused a late answer: HTTP %s", sent.status_code)


def build_socket_mode_handler(
    app: AsyncApp,
    app_token: str,
    api_url: str,
    *,
    metrics: Metrics | None = None,
    connection: ConnectionState | None = None,
    events: EventLedger | None = None,
    in_flight: InFlight | None = None,
) -> AsyncSocketModeHandler:
    """Must be called inside the running event loop: the aiohttp client binds to it.
    `metrics` and `connection` (issue 11) are where it reports acks and its state; `events`
    (issue 11) is where handled Events API deliveries are recorded (None: in memory only);
    `in_flight` (issue 11, shutdown), where it counts envelopes and their listeners' work.
    Its timings are `socket_connection.TIMINGS`, read now."""
    handler = AcknowledgingSocketModeHandler(
        app,
        app_token,
        web_client=AsyncWebClient(base_url=api_url),
        api_url=api_url,
        metrics=metrics,
        connection=connection,
        timings=socket_connection.TIMINGS,
        redeliveries=Redeliveries(events),
    )
    handler.in_flight = in_flight or InFlight()  # Issue 11, shutdown
    count_listeners(app, handler.in_flight)
    return handler
