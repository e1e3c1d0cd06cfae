"""Running a plugin's handler for a bound person: after the acknowledgement, on the handlers'
own loop, within COMMAND_TIMEOUT; whatever it does, the person gets one answer and the
administrator a log record.

Issue 11, internal-api: nothing is left half-done when the internal application is slow or
down. A handler abandoned at COMMAND_TIMEOUT is cancelled, and from that moment its
`ctx.respond`, `ctx.send_dm` and `ctx.api` do nothing (a handler that ignores its
cancellation cannot answer after the person was told it did not finish, nor act in the
application). The acting mode's credential is asked on the main loop, so that a refresh it
starts (ACT_AS=oauth2) runs to its end and stores the new tokens even when the command is
abandoned meanwhile: a provider that rotates refresh tokens has already spent the old one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from slack_bolt.async_app import AsyncRespond

from account_binding.binding import BoundAccount
from monitoring.metrics import CommandOutcome

from ... import messages
from ...acting import ConnectionEnded, Credential, FixedHeaders
from ...blocks import Reply
from ...command_payload import CommandRequest
from ...commands.api import ApiRefused, ApiUnavailable, CredentialRejected, InternalApiError
from ...commands.interface import CommandContext, InternalUser, SlackUser, Subcommand
from ...commands.runner import HandlerTimeout
from ...commands.table import Invocation
from ...internal_api import PersonApi
from ...services import SlackServices
from .responding import respond

log = logging.getLogger(__name__)

#: Slack's limit on the blocks of one message.
MAX_BLOCKS = 50

T = TypeVar("T")


@dataclass(frozen=True)
class Handled:
    """How a plugin subcommand ended: `reply` for the person (None: the handler answered
    through `ctx.respond`), and `outcome`, what they got, as `Metrics.command_finished` counts
    it: "answered"; "refused" (the internal application refused it: a 4xx, or the credential
    with a 401); "unavailable" (the internal application did not answer within
    INTERNAL_API_TIMEOUT, could not be reached or answered 5xx, the provider could not
    refresh the credential, or the handler did not finish within COMMAND_TIMEOUT); "failed"
    (the plugin broke, or the application's answer could not be read)."""

    reply: Reply | None
    outcome: CommandOutcome


async def run_handler(
    services: SlackServices,
    invocation: Invocation,
    account: BoundAccount,
    request: CommandRequest,
    responder: AsyncRespond | None,
    *,
    answer: Callable[[Reply], Awaitable[bool]] | None = None,
) -> Handled:
    """The handler's reply, or the reply that says what went wrong: its own InternalApiError
    message (the internal application not responding: whether anything may have been done,
    by the subcommand's `changes_data`), a credential refused (as the acting mode words it),
    "did not finish in time", or "something went wrong" with an incident ID logged with the
    traceback; and the outcome.

    `ctx.respond` posts through `responder` (the command's response_url), or calls `answer`
    when given (a resumed command: response_url while usable, else DM; bolt_app.resume).

    Raises ConnectionEnded when the person's connection was removed on the way (ACT_AS=oauth2:
    the provider refused to refresh their grant): the caller answers with a new link."""
    subcommand = invocation.subcommand
    slash, name = request.command, services.internal_app_name
    typed = f"{slash} {subcommand.name}"
    plugin = services.commands.owner_of(subcommand)
    main_loop = asyncio.get_running_loop()
    try:
        credential: Credential = services.acting.credential(account)
        if not isinstance(credential, FixedHeaders):
            # Issue 12: only a credential that may refresh (ACT_AS=oauth2) is asked on the
            # main loop; fixed headers are data, read on the handler's loop at no hop.
            credential = _OnLoop(credential, main_loop)
    except Exception as error:  # a binding this mode cannot act for: logged, answered
        return Handled(_incident(typed, plugin, request, error), "failed")
    api = services.api.as_person(credential)
    gate = _Gate()
    context = CommandContext(
        user=InternalUser(
            id=account.user.id, username=account.user.username, email=account.user.email
        ),
        slack=SlackUser(
            user_id=request.identity.user_id,
            team_id=request.identity.team_id,
            enterprise_id=request.identity.enterprise_id,
            user_name=request.profile.user_name,
        ),
        api=api,
        app_name=name,
        command=slash,
        respond=_on(main_loop, gate, answer or (lambda reply: respond(responder, reply))),
        send_dm=_on(main_loop, gate, lambda reply: services.dm(request.identity.user_id, reply)),
    )

    async def handle() -> Reply | None:
        # Before the plugin runs: a token due for refresh is refreshed here, so that a
        # connection the provider ended, or a provider out of reach, is answered as such
        # whatever the plugin would make of it.
        await credential.headers()
        return await subcommand.handler(context, invocation.arguments)

    def abandon() -> None:  # at COMMAND_TIMEOUT, before the handler is cancelled
        gate.close()
        api.stop()

    try:
        reply = await services.runner.run(handle, services.command_timeout, abandon=abandon)
    except HandlerTimeout:
        log.warning(
            "%s (plugin %s) for Slack user %s did not finish within COMMAND_TIMEOUT (%ss); "
            "cancelled",
            typed,
            plugin,
            request.identity.user_id,
            services.command_timeout,
        )
        headline = (
            f"{typed} did not finish within {messages.seconds(services.command_timeout)} "
            f"({name} may be slow or not responding), so I stopped waiting"
        )
        done: messages.Done = "maybe" if subcommand.changes_data else "read"
        return Handled(
            messages.error_reply(messages.unavailable_text(headline, name, done)), "unavailable"
        )
    except ConnectionEnded:
        log.info(
            "%s (plugin %s): the connection of Slack user %s ended; answering with a new link",
            typed,
            plugin,
            request.identity.user_id,
        )
        raise
    except CredentialRejected:
        log.warning(
            "%s (plugin %s): the internal application refused the credential of ACT_AS=%s "
            "for Slack user %s (HTTP 401)",
            typed,
            plugin,
            services.acting.name,
            request.identity.user_id,
        )
        return Handled(messages.error_reply(services.acting.rejected(slash, name)), "refused")
    except ApiUnavailable as error:
        log.info("%s (plugin %s): %s", typed, plugin, type(error).__name__)
        return Handled(
            messages.error_reply(_unavailable_text(error, subcommand, api, name)), "unavailable"
        )
    except InternalApiError as error:
        log.info("%s (plugin %s): %s", typed, plugin, type(error).__name__)
        outcome: CommandOutcome = "refused" if isinstance(error, ApiRefused) else "failed"
        return Handled(messages.error_reply(str(error)), outcome)
    except Exception as error:
        return Handled(_incident(typed, plugin, request, error), "failed")
    if reply is not None and not isinstance(reply, Reply):
        return Handled(
            _incident(
                typed, plugin, request, TypeError(f"the handler returned a {type(reply).__name__}")
            ),
            "failed",
        )
    if reply is not None and len(reply.blocks) > MAX_BLOCKS:
        log.warning(
            "%s (plugin %s) replied with %d blocks; Slack takes %d, so the rest were dropped",
            typed,
            plugin,
            len(reply.blocks),
            MAX_BLOCKS,
        )
        reply = Reply(text=reply.text, blocks=reply.blocks[:MAX_BLOCKS])
    return Handled(reply, "answered")


def _unavailable_text(
    error: ApiUnavailable, subcommand: Subcommand, api: PersonApi, name: str
) -> str:
    """What the person reads when the internal application did not answer: for a subcommand
    that changes data, whether it may have been done (a request that could change data may
    have reached the application); a plugin's own sentence as it is."""
    if error.headline is None or not subcommand.changes_data:
        return str(error)
    done: messages.Done = "maybe" if api.may_have_changed else "nothing"
    return messages.unavailable_text(error.headline, name, done)


def _incident(typed: str, plugin: str, request: CommandRequest, error: BaseException) -> Reply:
    incident = f"err-{secrets.token_hex(4)}"
    log.error(
        "Incident %s: %s (plugin %s) failed for Slack user %s",
        incident,
        typed,
        plugin,
        request.identity.user_id,
        exc_info=error,
    )
    return messages.error_reply(
        f"Sorry, something went wrong in {typed}, so it may not have been done. Your "
        f"administrator can find it in the app's log under {incident}."
    )


class _Gate:
    """Open while the person may still get the handler's answers; closed (on the main loop)
    when the command was abandoned at COMMAND_TIMEOUT and they were told so."""

    def __init__(self) -> None:
        self.open = True

    def close(self) -> None:
        self.open = False


def _on(
    loop: asyncio.AbstractEventLoop, gate: _Gate, send: Callable[[Reply], Awaitable[bool]]
) -> Callable[[Reply], Awaitable[bool]]:
    """`send` callable from the handlers' loop: it runs on `loop`, where Slack's client
    lives, and the handler awaits its result. Once `gate` is closed it sends nothing and
    returns False (checked on `loop`, where the gate is closed, so nothing slips between)."""

    async def call(reply: Reply) -> bool:
        async def run() -> bool:
            if not gate.open:
                log.warning(
                    "A command handler answered after COMMAND_TIMEOUT, when the person had "
                    "been told it did not finish: the answer was not sent"
                )
                return False
            return await send(reply)

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), loop))

    return call


class _OnLoop:
    """`credential`, asked on `loop` (the main loop) and awaited from the handler's: what
    it starts there (a refresh of the person's OAuth tokens, storing the new ones) runs to its
    end even when the handler is cancelled at COMMAND_TIMEOUT, bounded by PROVIDER_TIMEOUT."""

    def __init__(self, credential: Credential, loop: asyncio.AbstractEventLoop) -> None:
        self._credential = credential
        self._loop = loop

    def __repr__(self) -> str:
        return repr(self._credential)

    async def headers(self) -> dict[str, str]:
        return await self._on_loop(self._credential.headers)

    async def renewed(self) -> dict[str, str] | None:
        return await self._on_loop(self._credential.renewed)

    async def _on_loop(self, ask: Callable[[], Awaitable[T]]) -> T:
        here = asyncio.get_running_loop()
        if here is self._loop:
            return await ask()
        result: asyncio.Future[T] = here.create_future()

        def settle(task: asyncio.Future[T]) -> None:  # on the handler's loop
            if result.done():  # the handler was cancelled: nobody waits for it
                return
            if task.cancelled():
                result.cancel()
            elif (error := task.exception()) is not None:
                result.set_exception(error)
            else:
                result.set_result(task.result())

        def finished(task: asyncio.Future[T]) -> None:  # on the main loop
            if not task.cancelled():
                task.exception()  # retrieved here, whether or not the handler still waits
            with contextlib.suppress(RuntimeError):  # the handler's loop is closed
                here.call_soon_threadsafe(settle, task)

        async def run() -> T:
            return await ask()

        def start() -> None:  # on the main loop
            asyncio.ensure_future(run()).add_done_callback(finished)

        self._loop.call_soon_threadsafe(start)
        return await result
