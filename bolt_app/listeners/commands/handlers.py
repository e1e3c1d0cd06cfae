"""Running a plugin's handler for a bound person: after the acknowledgement, on the handlers'
own loop, within COMMAND_TIMEOUT; whatever it does, the person gets an answer and the
administrator a log record."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncRespond

from account_binding.binding import BoundAccount
from monitoring.metrics import CommandOutcome

from ... import command_outcome, messages
from ...acting import ConnectionEnded
from ...blocks import Reply
from ...command_payload import CommandRequest
from ...commands.api import ApiRefused, ApiUnavailable, CredentialRejected, InternalApiError
from ...commands.interface import CommandContext, InternalUser, SlackUser
from ...commands.runner import HandlerTimeout
from ...commands.table import Invocation
from ...services import SlackServices
from .responding import respond

log = logging.getLogger(__name__)

#: Slack's limit on the blocks of one message.
MAX_BLOCKS = 50


async def run_handler(
    services: SlackServices,
    invocation: Invocation,
    account: BoundAccount,
    request: CommandRequest,
    responder: AsyncRespond | None,
    *,
    answer: Callable[[Reply], Awaitable[bool]] | None = None,
) -> Reply | None:
    """The handler's reply, or the reply that says what went wrong: its own InternalApiError
    message, a credential refused (as the acting mode words it), "did not finish in time",
    or "something went wrong" with an incident ID logged with the traceback.

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
        credential = services.acting.credential(account)
    except Exception as error:  # a binding this mode cannot act for: logged, answered
        return _incident(typed, plugin, request, error)
    api = services.api.as_person(credential)
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
        respond=_on(main_loop, answer or (lambda reply: respond(responder, reply))),
        send_dm=_on(main_loop, lambda reply: services.dm(request.identity.user_id, reply)),
    )

    async def handle() -> Reply | None:
        try:
            # Before the plugin runs: a token due for refresh is refreshed here, so that a
            # connection the provider ended, or a provider out of reach, is answered as such
            # whatever the plugin would make of it.
            await credential.headers()
            return await subcommand.handler(context, invocation.arguments)
        finally:
            await api.aclose()  # its connections belong to this handler's loop

    try:
        reply = await services.runner.run(handle, services.command_timeout)
    except HandlerTimeout:
        command_outcome.note("unavailable")
        log.warning(
            "%s (plugin %s) for Slack user %s did not finish within COMMAND_TIMEOUT (%ss); "
            "cancelled",
            typed,
            plugin,
            request.identity.user_id,
            services.command_timeout,
        )
        return messages.error_reply(
            f"{typed} did not finish within {services.command_timeout:g} seconds, so I "
            f"stopped waiting. It may or may not have been done: check in {name} before "
            f"trying again."
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
        command_outcome.note("refused")
        log.warning(
            "%s (plugin %s): the internal application refused the credential of ACT_AS=%s "
            "for Slack user %s (HTTP 401)",
            typed,
            plugin,
            services.acting.name,
            request.identity.user_id,
        )
        return messages.error_reply(services.acting.rejected(slash, name))
    except InternalApiError as error:
        command_outcome.note(_outcome_of(error))
        log.info("%s (plugin %s): %s", typed, plugin, type(error).__name__)
        return messages.error_reply(str(error))
    except Exception as error:
        return _incident(typed, plugin, request, error)
    if reply is not None and not isinstance(reply, Reply):
        return _incident(
            typed, plugin, request, TypeError(f"the handler returned a {type(reply).__name__}")
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
    return reply


def _outcome_of(error: InternalApiError) -> CommandOutcome:
    """Issue 11, health: how /metrics counts the command the internal application failed."""
    if isinstance(error, ApiUnavailable):
        return "unavailable"
    return "refused" if isinstance(error, ApiRefused) else "failed"


def _incident(typed: str, plugin: str, request: CommandRequest, error: BaseException) -> Reply:
    command_outcome.note("failed")
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


def _on(
    loop: asyncio.AbstractEventLoop, send: Callable[[Reply], Awaitable[bool]]
) -> Callable[[Reply], Awaitable[bool]]:
    """`send` callable from the handlers' loop: it runs on `loop`, where Slack's client
    lives, and the handler awaits its result."""

    async def call(reply: Reply) -> bool:
        async def run() -> bool:
            return await send(reply)

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), loop))

    return call
