"""The step every listener takes with a Slack identity before looking its binding up.

On Enterprise Grid a person is keyed on the organisation (`SlackIdentity.scope_id`); a
workspace that joined an organisation after people bound there still has bindings keyed on
the workspace. `settle_identity` has the domain move them (`BindingService.settle_identity`:
the rules, the transaction and the audit are there). When two bindings of the person merged
into one, that transaction also wrote the DM telling them which account was kept and which
removed to the outbox (issue 11: `bolt_app.outbox_sender` sends it); the notifier then
republishes their Home tab, in the background so that no acknowledgement waits for Slack.

Slash commands call it (bolt_app/listeners/commands/app_command.py); interactions and events
call it too, with the identity built from their payload (`SlackIdentity.from_ids`), before
anything reads the person's binding.
"""

from __future__ import annotations

import asyncio
import logging

from account_binding.binding import SettledIdentity
from account_binding.models import SlackIdentity

from .services import SlackServices

log = logging.getLogger(__name__)

#: Notifier calls under way; kept so that the event loop does not drop them before they end.
_telling: set[asyncio.Task[None]] = set()


async def settle_identity(
    services: SlackServices, identity: SlackIdentity, *, team_name: str | None = None
) -> SettledIdentity:
    """Settle `identity`'s keys (see `BindingService.settle_identity`) and, after a merge,
    start the notifier's work (the Home tab; the DM is in the outbox); what was done. `team_name`: the organisation's name as the
    payload gives it (a slash command's `enterprise_name`), None when unknown. Quick when
    there is nothing to move (one indexed read); raises StoreBusy as the store does.
    """
    settled = await services.bindings.settle_identity(identity, team_name)
    if settled.merged is not None:
        task = asyncio.ensure_future(services.notifier.bindings_merged(settled.merged))
        _telling.add(task)
        task.add_done_callback(_told)
        services.in_flight.track(task, "DM")  # Issue 11, shutdown: a stop waits for it
    return settled


def _told(task: asyncio.Task[None]) -> None:
    _telling.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("Telling about merged bindings failed", exc_info=task.exception())
