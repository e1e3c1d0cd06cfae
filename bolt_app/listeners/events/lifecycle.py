"""Slack's lifecycle events, over Socket Mode: `app_uninstalled`, `tokens_revoked` and
`user_change` (the payloads are read by `bolt_app.lifecycle`).

Each is acknowledged at once (Bolt acknowledges an event before its listener runs; the
listener's own `ack()` comes first too), then handled:

- `app_uninstalled`, and `tokens_revoked` naming the bot's token: every binding of the
  workspace (of the organisation, for an org-wide install) is removed and its credentials
  revoked, its unused links voided, each removal audited (`binding_removed_by_slack`). No
  DM: the app can no longer post there. Bolt skips auth.test for these two events, and so
  does this listener (`InstallationLookup.known` never asks): the token may be revoked
  already, and auth.test would fail with `token_revoked` or `invalid_auth`.
- `user_change` whose user is deactivated or deleted (`user.deleted`): that person's binding
  goes the same way.
- A delivery whose wrapper names another installation than this app's (as auth.test told it;
  for the first two, when it is known) is ignored and logged, as a command from outside the
  installation would be. Any other `user_change` (a new status, a new title) costs nothing: no
  write, no Slack call.

A delivery is handled once: its `event_id` is recorded in the same write that checks it
(Slack retries a delivery it thinks was not acknowledged). The database being locked past
its busy timeout is retried a few times, then logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from account_binding.errors import SlackUnavailable, StoreBusy
from account_binding.lifecycle import Lifecycle
from account_binding.store import SlackSelection

from ...installation import installation_of
from ...lifecycle import (
    bot_token_revoked,
    deleted_user,
    delivered_to,
    event_id_of,
    installation_of_event,
)
from ...services import services_of

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Tries of a write that found the database locked past its busy timeout, and the pause
#: before each retry in seconds.
RETRY_PAUSES = (1.0, 3.0)


def register(app: AsyncApp) -> None:
    app.event("app_uninstalled")(app_uninstalled)
    app.event("tokens_revoked")(tokens_revoked)
    app.event("user_change")(user_change)


async def app_uninstalled(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    await _installation_gone(body, context, "app_uninstalled")


async def tokens_revoked(
    ack: AsyncAck, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
) -> None:
    await ack()
    if not bot_token_revoked(event):
        log.info("Slack revoked user tokens only; the app keeps none, so nothing changes")
        return
    await _installation_gone(body, context, "tokens_revoked")


async def user_change(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    identities = deleted_user(body)
    if not identities:
        return  # a profile change: nothing to do, nothing written
    try:  # the bot token works (Bolt asked auth.test for this event): this asks at most once
        installation = await installation_of(context).get()
    except SlackUnavailable:
        installation = None
    if installation is not None and not delivered_to(body, installation):
        log.warning("A user_change for another installation was ignored")
        return
    lifecycle = _lifecycle(context)
    if lifecycle is None or not await _first_delivery(lifecycle, body):
        return
    for identity in identities:
        await _retrying(
            partial(lifecycle.slack_went_away, SlackSelection.person(identity), "user_change"),
            f"removing the binding of deactivated Slack user {identity.user_id}",
        )


async def _installation_gone(body: dict[str, Any], context: AsyncBoltContext, event: str) -> None:
    known = installation_of(context).known
    if known is not None and not delivered_to(body, known):
        log.warning("Slack's %s for another installation was ignored; nothing was removed", event)
        return
    lifecycle = _lifecycle(context)
    if lifecycle is None or not await _first_delivery(lifecycle, body):
        return
    where = installation_of_event(body, known)
    if where is None:
        log.warning("Slack's %s named no workspace or organisation; nothing was removed", event)
        return
    removed = await _retrying(
        partial(lifecycle.slack_went_away, where, event), f"handling {event} for the {where}"
    )
    log.warning(
        "Slack says the app's bot token for the %s is gone (%s): removed %d binding(s). "
        "The app cannot answer there until it is installed again and SLACK_BOT_TOKEN holds "
        "the new token.",
        where,
        event,
        len(removed or ()),
    )


def _lifecycle(context: AsyncBoltContext) -> Lifecycle | None:
    services = services_of(context).lifecycle
    if services is None:
        log.info("A lifecycle event arrived, but the app is not set up to handle them")
        return None
    return services.lifecycle


async def _first_delivery(lifecycle: Lifecycle, body: dict[str, Any]) -> bool:
    """Whether this delivery is the event's first (a delivery without an `event_id` counts as
    one: handling an event twice removes nothing more)."""
    event_id = event_id_of(body)
    if event_id is None:
        return True
    first = await _retrying(partial(lifecycle.first_delivery, event_id), f"recording {event_id}")
    if first is False:
        log.info("Event %s was delivered again; it is handled once", event_id)
        return False
    return True


async def _retrying(work: Callable[[], Awaitable[T]], what: str) -> T | None:
    """`work()`, tried again after each of RETRY_PAUSES while the database stays locked;
    None (logged as an error) when it never got the lock."""
    for pause in (*RETRY_PAUSES, None):
        try:
            return await work()
        except StoreBusy:
            if pause is None:
                break
            log.warning("The database was locked while %s; trying again in %ss", what, pause)
            await asyncio.sleep(pause)
    log.error("Gave up %s: the database stayed locked", what)
    return None
