"""Resume on the Slack side: the command a person ran before connecting runs once the binding
is made, through the same path as a command typed by a bound person
(`listeners.commands.handlers.run_handler`), and its answer reaches them.

The web side calls `SlackResumer.resume` (through the `account_binding.resume.Resumer`
interface) after the binding is committed, off the request. The answer goes through the
command's response_url while Slack takes posts there (RESPONSE_URL_LIFETIME_SECONDS after
the command; Slack's "up to 5 times within 30 minutes"), and by DM when it is too old, was
not kept, or refuses a post. Every answer says it is the command the person ran before
connecting. A command that names no subcommand now (its plugin was removed) or whose
arguments no longer parse is not run, and the person is told so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from account_binding.audit import Actor, AuditEvent, AuditLog
from account_binding.clock import Clock, system_clock
from account_binding.errors import BindingExpired, DomainError
from account_binding.resume import ResumedCommand
from monitoring.metrics import Metrics

from . import messages
from .acting import ConnectionEnded
from .blocks import Reply, context, section
from .command_payload import CommandRequest
from .commands import core
from .commands.table import BadArguments, Invocation, Unknown
from .listeners.commands.handlers import MAX_BLOCKS, run_handler
from .listeners.commands.responding import respond
from .services import SlackServices
from .slack_calls import RetryingRespond

log = logging.getLogger(__name__)

#: Seconds one post to a response_url may take before the answer goes by DM instead.
RESPONSE_URL_DEADLINE_SECONDS = 10.0

#: The core subcommands that are never resumed (the command listener answers them before
#: any binding is needed, so no link keeps them; never run `unlink` unseen regardless).
NOT_RESUMED = (core.LINK, core.UNLINK, core.HELP)

NOT_RUN = "was not run"


class SlackResumer:
    """`account_binding.resume.Resumer` for the Slack side: `services` are the command
    listener's own, `audit` records `command_resumed`."""

    def __init__(
        self, services: SlackServices, audit: AuditLog, clock: Clock = system_clock
    ) -> None:
        self._services = services
        self._audit = audit
        self._clock = clock

    def changes_data(self, text: str) -> bool:
        parsed = self._services.commands.parse(text)
        return not (isinstance(parsed, Invocation) and not parsed.subcommand.changes_data)

    async def resume(self, command: ResumedCommand) -> None:
        try:
            await self._resume(command)
        except Exception:  # never the web page's problem: logged for the administrator
            log.exception("Resuming the command of Slack user %s failed", command.identity.user_id)

    async def _resume(self, command: ResumedCommand) -> None:
        services = self._services
        slash = command.command or "/"
        name = services.internal_app_name
        delivery = _Delivery(
            command,
            self._clock,
            services.dm,
            _typed(slash, command.text),
            services.metrics,
            services.slack_api_timeout,
        )
        parsed = services.commands.parse(command.text)
        if isinstance(parsed, Invocation) and parsed.subcommand in NOT_RESUMED:
            log.warning("A link kept %r, which is never resumed: not run", parsed.subcommand.name)
            return
        if isinstance(parsed, Unknown):
            await delivery.send(
                messages.error_reply(
                    f"{slash} {parsed.words} is not a command I know now. "
                    f"{slash} help lists what I can do."
                ),
                note=NOT_RUN,
            )
            await self._record(command, "unknown", delivery)
            return
        if isinstance(parsed, BadArguments):
            await delivery.send(
                messages.usage_reply(slash, parsed.subcommand, name, parsed.reason),
                note="was not run: its arguments do not fit it now",
            )
            await self._record(command, f"{parsed.subcommand.name}; bad_arguments", delivery)
            return
        subcommand = parsed.subcommand
        try:
            account = await services.bindings.bound_account(command.identity)
        except BindingExpired:
            account = None
        except DomainError as error:  # StoreBusy: nothing ran
            await delivery.send(messages.error_reply(str(error)), note=NOT_RUN)
            await self._record(command, f"{subcommand.name}; not_run", delivery)
            return
        if account is None or account.user.id != command.user.id:
            # Unlinked (or bound again to someone else) in the moment since Connect.
            await delivery.send(
                messages.error_reply(f"Your Slack account is no longer connected to {name}."),
                note=NOT_RUN,
            )
            await self._record(command, f"{subcommand.name}; not_bound", delivery)
            return
        request = CommandRequest(
            identity=command.identity,
            command=slash,
            text=command.text,
            profile=command.binding.profile,
        )
        outcome = "answered"
        if subcommand is core.WHOAMI:  # answered from the binding, as the listener does
            reply: Reply | None = core.whoami_reply(account.user.username, account.user.email, name)
        else:
            try:
                handled = await run_handler(
                    services, parsed, account, request, None, answer=delivery.send
                )
                reply, outcome = handled.reply, handled.outcome
            except ConnectionEnded:
                await delivery.send(
                    messages.error_reply(
                        f"Your Slack account's connection to {name} ended. Run {slash} link "
                        f"to connect it again."
                    ),
                    note=NOT_RUN,
                )
                await self._record(command, f"{subcommand.name}; connection_ended", delivery)
                return
        if reply is not None:
            await delivery.send(reply)
        await services.bindings.record_use(account.binding)  # as the listener does
        # Issue 11, internal-api: a run that did not get through says so ("todo add;
        # unavailable; dm"): the internal application did not answer, or it failed.
        what = subcommand.name if outcome == "answered" else f"{subcommand.name}; {outcome}"
        await self._record(command, what, delivery)

    async def _record(self, command: ResumedCommand, what: str, delivery: _Delivery) -> None:
        await self._audit.record(
            AuditEvent.COMMAND_RESUMED,
            Actor(user=command.user, client=f"slack:{command.identity.user_id}"),
            command.identity,
            detail=f"{what}; {delivery.where}",
        )


class _Delivery:
    """Where a resumed command's answers go: the response_url while it is usable and takes
    them, then DMs. The first answer delivered carries the note saying which command this
    is."""

    def __init__(
        self,
        command: ResumedCommand,
        clock: Clock,
        dm: Callable[[str, Reply], Awaitable[bool]],
        typed: str,
        metrics: Metrics | None = None,
        timeout_seconds: float = 10.0,
    ) -> None:
        # Issue 11: failed response_url posts are counted; each within SLACK_API_TIMEOUT
        self._metrics = metrics
        self._timeout = timeout_seconds
        self._user_id = command.identity.user_id
        self._dm = dm
        self._typed = typed
        now = clock()
        self._response_url = command.response_url if command.response_url_usable(now) else None
        self._introduced = False
        #: "response_url", "dm", or "not delivered" (the last answer's way).
        self.where = "not delivered"

    async def send(self, reply: Reply, *, note: str = "") -> bool:
        reply = self._introduce(reply, note)
        if self._response_url is not None:
            if await self._post(self._response_url, reply):
                self.where = "response_url"
                return True
            self._response_url = None  # expired, used up or refused: DMs from now on
        if await self._dm(self._user_id, reply):
            self.where = "dm"
            return True
        self.where = "not delivered"
        return False

    def _introduce(self, reply: Reply, note: str) -> Reply:
        if self._introduced and not note:
            return reply
        self._introduced = True
        said = note or "ran now that you are connected"
        intro = f"The command you ran before connecting, {self._typed}, {said}:"
        return Reply(
            text=f"{intro} {reply.text}"[:3000],
            blocks=[context(intro), *reply.blocks[: MAX_BLOCKS - 1]]
            if reply.blocks
            else [context(intro), section(reply.text)],
        )

    async def _post(self, url: str, reply: Reply) -> bool:
        try:
            return await asyncio.wait_for(
                respond(
                    RetryingRespond(
                        response_url=url, metrics=self._metrics, timeout_seconds=self._timeout
                    ),
                    reply,
                ),
                RESPONSE_URL_DEADLINE_SECONDS,
            )
        except TimeoutError:
            log.warning("A resumed command's response_url did not answer in time; sending a DM")
            return False


def _typed(slash: str, text: str) -> str:
    """The command as typed, as mrkdwn: escaped, in a code span unless it holds a backtick."""
    typed = messages.escape(f"{slash} {text}")
    return typed if "`" in typed else f"`{typed}`"
