"""The Home tab's buttons: Connect (a link by DM) and Disconnect (after Slack's confirmation
dialog, the same unbinding as the command's `unlink`).

Each click is acknowledged first; the work follows. A click acts only for the Slack user who
clicked (`user.id` of the payload). Disconnect carries the public ID of the binding the tab
showed, and removes only that binding of the person who clicked: a stale tab never removes a
newer one.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from account_binding.audit import Actor
from account_binding.errors import DomainError

from ... import messages
from ...connect_by_dm import FAILED, admitted, send_link_by_dm, settle
from ...home_tab import CONNECT_ACTION, DISCONNECT_ACTION
from ...interaction_payload import Interaction, MalformedInteraction
from ...services import SlackServices, services_of

log = logging.getLogger(__name__)


async def _clicked(
    body: dict[str, Any], context: AsyncBoltContext, what: str
) -> Interaction | None:
    """Who clicked, if the click is theirs to act on; None (logged) otherwise."""
    try:
        clicked = Interaction.from_interaction(body)
    except MalformedInteraction as error:
        log.warning("Ignored a click on %s with %s", what, error)
        return None
    if not await admitted(context, clicked.identity, f"a click on {what}"):
        return None
    return clicked


async def connect_clicked(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    clicked = await _clicked(body, context, "Connect on the Home tab")
    if clicked is None:
        return
    services = services_of(context)
    if "home" not in services.binding_triggers:
        # A view published before BINDING_TRIGGERS dropped `home`: the fresh one says how to
        # connect instead of showing the button.
        log.info(
            "Connect on the Home tab from %s: not in BINDING_TRIGGERS; republished the tab",
            clicked.identity.user_id,
        )
        await _refresh(services, clicked)
        return
    if await send_link_by_dm(services, clicked, "home"):
        await _refresh(services, clicked)  # it showed Connect to someone connected


async def disconnect_clicked(
    ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext
) -> None:
    await ack()
    clicked = await _clicked(body, context, "Disconnect on the Home tab")
    if clicked is None:
        return
    services = services_of(context)
    identity = clicked.identity
    try:
        await settle(services, clicked)
        # Only the binding the tab showed: a stale tab (a publish that failed) must not
        # remove a newer binding the person made since.
        public_id = clicked_value(body)
        binding = (
            await services.bindings.unbind_binding(
                identity, public_id, Actor(client=f"slack:{identity.user_id}")
            )
            if public_id
            else None
        )
    except DomainError as error:  # StoreBusy: nothing was done; the person can try again
        log.warning("Disconnect on the Home tab for %s: %s", identity.user_id, type(error).__name__)
        await services.dm(identity.user_id, messages.error_reply(str(error)))
        return
    except Exception:
        log.exception("Disconnect on the Home tab for Slack user %s failed", identity.user_id)
        await services.dm(identity.user_id, messages.error_reply(FAILED))
        return
    if binding is None:
        await _refresh(services, clicked)  # it showed Disconnect to someone not connected
        return
    log.info("Disconnect on the Home tab: unbound Slack user %s", identity.user_id)
    await services.notifier.binding_removed(binding)  # the DM, and the tab republished


def clicked_value(body: dict[str, Any]) -> str | None:
    """The `value` of the clicked button (block_actions `actions[0].value`), if a string."""
    actions = body.get("actions")
    if isinstance(actions, list) and actions and isinstance(actions[0], dict):
        value = actions[0].get("value")
        if isinstance(value, str) and value:
            return value
    return None


async def _refresh(services: SlackServices, clicked: Interaction) -> None:
    if services.home is not None:
        await services.home.refresh(clicked.identity)


def register(app: AsyncApp) -> None:
    app.action(CONNECT_ACTION)(connect_clicked)
    app.action(DISCONNECT_ACTION)(disconnect_clicked)
