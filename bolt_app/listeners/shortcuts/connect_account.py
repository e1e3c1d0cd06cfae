"""The global shortcut "Connect account" (callback_id `connect_account`): a link by DM.

Registered only when BINDING_TRIGGERS lists `shortcut` (the manifest then declares it);
otherwise a stray invocation is acknowledged and logged as unhandled, like any envelope no
listener takes. Acknowledged first; the work follows. It acts only for the Slack user who ran
it (`user.id` of the payload).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from ...connect_by_dm import admitted, send_link_by_dm
from ...interaction_payload import Interaction, MalformedInteraction
from ...services import services_of

log = logging.getLogger(__name__)

CALLBACK_ID = "connect_account"


async def connect_account(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    try:
        ran = Interaction.from_interaction(body)
    except MalformedInteraction as error:
        log.warning("Ignored the shortcut %s with %s", CALLBACK_ID, error)
        return
    if not await admitted(context, ran.identity, f"the shortcut {CALLBACK_ID}"):
        return
    await send_link_by_dm(services_of(context), ran, "shortcut")


def register(app: AsyncApp, binding_triggers: Collection[str]) -> None:
    if "shortcut" in binding_triggers:
        app.global_shortcut(CALLBACK_ID)(connect_account)
    else:
        log.info(
            "The shortcut %s is off (BINDING_TRIGGERS has no `shortcut`): not listening for it",
            CALLBACK_ID,
        )
