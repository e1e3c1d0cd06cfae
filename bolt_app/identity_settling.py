"""The step every listener takes with a Slack identity before looking its binding up.

On Enterprise Grid a person is keyed on the organisation (`SlackIdentity.scope_id`); a
workspace that joined an organisation after people bound there still has bindings keyed on
the workspace. `settle_identity` has the domain move them (`BindingService.settle_identity`:
the rules, the transaction and the audit are there) and, when two bindings of the person
merged into one, DMs them which account was kept and which removed, in the background so
that no acknowledgement waits for Slack.

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

#: DMs under way; kept so that the event loop does not drop them before they finish.
_telling: set[asyncio.Task[None]] = set()


async def settle_identity(
    services: SlackServices, identity: SlackIdentity, *, team_name: str | None = None
) -> SettledIdentity:
    """Settle `identity`'s keys (see `BindingService.settle_identity`) and start the DM about
    a merge, if there was one; what was done. `team_name`: the organisation's name as the
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
        log.error("The DM about merged bindings failed", exc_info=task.exception())
