"""The slash command: acknowledged within ACK_DEADLINE_SECONDS whatever the store or Slack
does, the internal application's work done after.

Slack shows the person `operation_timeout` unless the acknowledgement arrives within 3
seconds. Everything the answer needs before the acknowledgement (the installation, the
binding lookup, issuing a link, an unlink) runs as one task under the deadline: when it is
ready in time, its answer is the acknowledgement; when it is not, the acknowledgement says
"One moment…" and the answer follows through the command's `response_url` when it is ready
(or says what failed). The work is never cancelled: a link stored late still reaches its
owner.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext, AsyncRespond

from account_binding.errors import (
    BindingExpired,
    DomainError,
    LinkRateLimited,
    SlackUnavailable,
    StoreBusy,
)
from account_binding.models import Binding
from account_binding.resume import PendingCommand
from account_binding.tokens import digest

from ... import command_outcome, messages
from ...acting import ConnectionEnded
from ...bursts import acknowledged_at_once
from ...command_payload import CommandRequest, MalformedCommand
from ...commands import core
from ...commands.table import BadArguments, Unknown
from ...identity_settling import settle_identity
from ...installation import InstallationLookup, installation_of
from ...lifecycle import ended_binding_reply
from ...messages import Reply
from ...response_urls import is_slack_response_url
from ...services import SlackServices, services_of
from .handlers import Handled, run_handler
from .responding import respond as _respond

log = logging.getLogger(__name__)

#: The acknowledgement is sent within this many seconds of the command's arrival; Slack's
#: own limit is 3 s, and the rest is margin for the network and Bolt's 10 ms polling.
ACK_DEADLINE_SECONDS = 2.0

SLACK_SLOW = "Slack did not answer the app in time, so nothing was done. Try again in a minute."
FAILED = (
    "Sorry, something went wrong in the app, so this may not have been done. "
    "Try again in a minute; if it keeps failing, tell your administrator."
)


@dataclass(frozen=True)
class Answer:
    """What the command answers: `reply` with the acknowledgement (None: an empty one), and
    `then`, work after it whose reply (if any) goes through the response_url."""

    reply: Reply | None
    # Issue 11, internal-api: the plugin's reply and the outcome ("unavailable" when the
    # internal application did not answer: handlers.Handled).
    then: Callable[[], Awaitable[Handled]] | None = None
    # Issue 10, unbinding: the binding the command acted with, whose use is recorded
    # (`last_used_at`) once the person has their answer.
    used: Binding | None = None


# Issue 11, health: each command counted once by what the person got (bolt_app.command_outcome;
# the answers below `note` refusals, links and failures where they decide them, and a plugin
# subcommand's outcome is the one run_handler's `Handled` gives)


async def app_command(
    ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    with command_outcome.counted(services_of(context).metrics):
        await _app_command(ack, command, respond, context)


async def _app_command(
    ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    started = time.monotonic()
    try:
        request = CommandRequest.from_payload(command)
    except MalformedCommand as error:
        log.warning(
            "Refused a slash command with missing or malformed fields: %s",
            ", ".join(error.fields),
        )
        command_outcome.note("refused")
        await _ack(ack, messages.error_reply(str(error)))
        return
    services = services_of(context)
    installation = installation_of(context)
    subcommand = request.text.split(maxsplit=1)[0][:20] if request.text.strip() else ""
    what = f"{request.command} {subcommand!r} from {request.identity.user_id}"

    work = asyncio.ensure_future(_answer(services, installation, request, respond))
    done, _ = await asyncio.wait({work}, timeout=ACK_DEADLINE_SECONDS)
    if work in done:
        answer = _result(work, what)
        if answer.reply is None:
            await ack()
        else:
            await _ack(ack, answer.reply)
    else:
        if acknowledged_at_once(context):  # Issue 11, durability: Slack has "One moment…"
            await ack()
        else:
            await _ack(ack, messages.one_moment_reply())
        log.warning(
            "%s: the answer was not ready within %ss (the database or Slack is slow); "
            "acknowledged with 'One moment' and answering through the response_url",
            what,
            ACK_DEADLINE_SECONDS,
        )
        try:
            await work
        except Exception:  # reported through _result below
            log.debug("the late answer failed")
        answer = _result(work, what)
        if answer.reply is not None:
            sent = await _respond(respond, answer.reply)
            log.info(
                "%s: answered through the response_url after %.1fs%s",
                what,
                time.monotonic() - started,
                "" if sent else " (not delivered)",
            )
    if answer.then is not None:
        handled = await answer.then()
        command_outcome.note(handled.outcome)
        if handled.reply is not None:
            await _respond(respond, handled.reply)
    if answer.used is not None:
        await services.bindings.record_use(answer.used)


def _result(work: asyncio.Future[Answer], what: str) -> Answer:
    """The finished work's answer, or an answer that says what failed."""
    error = work.exception()
    if error is None:
        return work.result()
    command_outcome.note("failed")
    if isinstance(error, SlackUnavailable):
        log.warning("%s: Slack did not answer in time", what)
        return Answer(messages.error_reply(SLACK_SLOW))
    if isinstance(error, StoreBusy):
        log.warning("%s: the database stayed locked past its busy timeout (StoreBusy)", what)
        return Answer(messages.error_reply(str(error)))
    if isinstance(error, DomainError):
        command_outcome.note("refused")
        log.info("%s: refused: %s", what, type(error).__name__)
        return Answer(messages.error_reply(str(error)))
    log.error("%s failed", what, exc_info=error)
    return Answer(messages.error_reply(FAILED))


async def _answer(
    services: SlackServices,
    installation: InstallationLookup,
    request: CommandRequest,
    respond: AsyncRespond,
) -> Answer:
    """Everything before the acknowledgement. Raises DomainError (LinkRateLimited,
    SlackUnavailable) for the person to read, or anything the store raises."""
    name, slash, identity = services.internal_app_name, request.command, request.identity
    where = await installation.get(identity)
    if not where.admits(identity):
        log.warning(
            "Refused %s from team %s, enterprise %s: the app is installed for the %s %s",
            slash,
            identity.team_id,
            identity.enterprise_id,
            where.kind,
            where.enterprise_id if where.is_enterprise_install else where.team_id,
        )
        command_outcome.note("refused")
        return Answer(messages.outside_installation_reply(name, where.kind))
    # Issue 10, Enterprise Grid: bindings from before the workspace joined its organisation
    # move to the organisation's key before anything looks the person up.
    await settle_identity(
        services, identity, team_name=request.profile.team_name if identity.enterprise_id else None
    )

    parsed = services.commands.parse(request.text)
    if isinstance(parsed, Unknown):
        if parsed.words:
            command_outcome.note("refused")
        return Answer(messages.help_reply(services.commands, slash, name, parsed.words or None))
    if isinstance(parsed, BadArguments):
        command_outcome.note("refused")
        return Answer(messages.usage_reply(slash, parsed.subcommand, name, parsed.reason))
    subcommand = parsed.subcommand
    if subcommand is core.LINK and "link" not in services.binding_triggers:
        # BINDING_TRIGGERS without `link`: the table leaves it out; answered as unknown.
        command_outcome.note("refused")
        return Answer(messages.help_reply(services.commands, slash, name, request.text[:100]))
    if subcommand is core.HELP:
        return Answer(messages.help_reply(services.commands, slash, name))
    if subcommand is core.UNLINK:
        # Issue 10, unbinding: asked first; the Disconnect button unbinds
        # (listeners/actions/disconnect.py), naming this binding by its public ID.
        connection = await services.bindings.connection_of(identity)
        if connection is None:
            return Answer(messages.unlinked_reply(name, was_linked=False))
        return Answer(
            messages.unlink_question_reply(
                name, connection.user.username, connection.binding.public_id or "", slash
            )
        )

    expired = False
    try:
        account = await services.bindings.bound_account(identity)
    except BindingExpired:
        account, expired = None, True
    if subcommand is core.LINK and account is not None:
        return Answer(messages.already_linked_reply(name, slash))
    if account is None and not expired and subcommand is not core.LINK and services.lifecycle:
        # Issue 10, lifecycle: whose account an administrator disabled or removed is told so
        # instead of being sent a link (`link` still sends one: they may connect another).
        ended = await ended_binding_reply(
            services.lifecycle, request, name, services.binding_triggers
        )
        if ended is not None:
            command_outcome.note("refused")
            return Answer(ended)
    if account is None:
        if subcommand is not core.LINK and "command" not in services.binding_triggers:
            # BINDING_TRIGGERS without `command`: no link, but how to connect.
            command_outcome.note("refused")
            return Answer(_not_connected(services, request, expired=expired))
        if expired:
            reason: str | None = (
                f"Your Slack account's connection to {messages.escape(name)} has expired. "
                f"Connect it again to use `{messages.escape(slash)}`."
            )
        elif subcommand is core.LINK:
            reason = None
        else:
            reason = (
                f"To use `{messages.escape(slash)}`, first connect your Slack account to your "
                f"{messages.escape(name)} account."
            )
        # Issue 10, resume: the command runs by itself once they connect, if they tick it.
        resume = None if subcommand is core.LINK else _resumable(services, request, respond)
        return Answer(await _link_reply(services, request, reason, resume))
    if subcommand is core.WHOAMI:  # answered from the binding: no internal API needed
        return Answer(
            core.whoami_reply(account.user.username, account.user.email, name),
            used=account.binding,
        )
    bound = account

    async def act() -> Handled:
        # After the acknowledgement: the internal application may take longer than Slack waits.
        try:
            return await run_handler(services, parsed, bound, request, respond)
        except ConnectionEnded as ended:
            # The connection was removed on the way (ACT_AS=oauth2: the provider refused to
            # refresh the grant): a new link, as for an expired connection.
            if ended.reason == "refused":
                reason = (
                    f"Your Slack account's connection to {messages.escape(name)} was ended at "
                    f"{messages.escape(ended.provider_name)}, so nothing was done. Connect it "
                    f"again to use `{messages.escape(slash)}`."
                )
            else:
                reason = (
                    f"Your Slack account's connection to {messages.escape(name)} was removed, "
                    f"so nothing was done. Connect it again to use `{messages.escape(slash)}`."
                )
            if "command" not in services.binding_triggers:
                return Handled(
                    messages.not_connected_reply(
                        name, slash, services.binding_triggers, reason=reason
                    ),
                    "refused",
                )
            try:
                return Handled(await _link_reply(services, request, reason), "link_sent")
            except DomainError as error:  # StoreBusy: the person can try again
                return Handled(messages.error_reply(str(error)), "failed")

    return Answer(None, then=act, used=bound.binding)


async def _link_reply(
    services: SlackServices,
    request: CommandRequest,
    reason: str | None,
    resume: PendingCommand | None = None,
) -> Reply:
    """A new link for the person who ran the command, or why there is none (too many links).
    `reason` (mrkdwn) says why they need it; `resume`, the command the link keeps to run once
    it binds."""
    name, slash, identity = services.internal_app_name, request.command, request.identity
    try:
        link = await services.bindings.issue_link(identity, request.profile, resume)
    except LinkRateLimited as error:
        log.warning("%s: no link for %s, who asked for too many", slash, identity.user_id)
        command_outcome.note("refused")
        return messages.error_reply(str(error))
    command_outcome.note("link_sent")
    url, ttl = services.association_url(link.nonce), services.link_ttl_seconds
    link_id = digest(link.nonce)
    if services.link_delivery == "dm":
        # LINK_DELIVERY=dm: the link goes by DM; the reply says where. Should Slack not take
        # the DM, the link comes in the reply after all, so that nothing is lost.
        dm = messages.link_reply(url, name, ttl, reason=reason, link_id=link_id, in_dm=True)
        if await services.dm(identity.user_id, dm):
            return messages.link_sent_by_dm_reply(name, ttl, reason=reason)
        log.warning(
            "%s: could not DM the link to %s (LINK_DELIVERY=dm); gave it in the reply instead",
            slash,
            identity.user_id,
        )
        return messages.link_reply(
            url, name, ttl, reason=reason, link_id=link_id, note=messages.LINK_DM_FAILED
        )
    return messages.link_reply(url, name, ttl, reason=reason, link_id=link_id)


def _not_connected(services: SlackServices, request: CommandRequest, *, expired: bool) -> Reply:
    """BINDING_TRIGGERS without `command`: a person not connected is told how to connect."""
    name, slash = services.internal_app_name, request.command
    reason = (
        f"Your Slack account's connection to {messages.escape(name)} has expired, so "
        f"`{messages.escape(slash)}` cannot act for you. Nothing was done."
        if expired
        else None
    )
    return messages.not_connected_reply(name, slash, services.binding_triggers, reason=reason)


def _resumable(
    services: SlackServices, request: CommandRequest, respond: AsyncRespond
) -> PendingCommand | None:
    """Issue 10, resume: the command to keep with the link (its text as the app parsed it,
    and its response_url when it is Slack's: else the answer will come by DM), None when it
    is too long to show whole."""
    response_url = getattr(respond, "response_url", None)
    if response_url is not None and not is_slack_response_url(response_url, services.slack_api_url):
        log.warning(
            "%s from %s came with a response_url that is not Slack's; the resumed answer "
            "will go by DM",
            request.command,
            request.identity.user_id,
        )
        response_url = None
    return PendingCommand.of(request.text, response_url if isinstance(response_url, str) else None)


async def _ack(ack: AsyncAck, reply: Reply) -> None:
    await ack(text=reply.text, blocks=reply.blocks, response_type="ephemeral")
