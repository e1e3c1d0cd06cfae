"""`app_home_opened`: publish the person's Home tab as their connection stands now.

Bolt acknowledges the event before this runs. Slack retries an event it thinks unanswered
(`retry_attempt`), and sends one each time the person opens the app; publishing the same view
again is harmless, so duplicates need no bookkeeping. The Messages tab sends the event too
(`tab: "messages"`): it is ignored.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from ...connect_by_dm import admitted, settle
from ...interaction_payload import Interaction, MalformedInteraction
from ...services import services_of

log = logging.getLogger(__name__)


async def app_home_opened(
    event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
) -> None:
    if event.get("tab") != "home":
        return
    try:
        opened = Interaction.from_event(body)
    except MalformedInteraction as error:
        log.warning("Ignored an app_home_opened event with %s", error)
        return
    services = services_of(context)
    if services.home is None:
        return
    if not await admitted(context, opened.identity, "app_home_opened"):
        return
    try:
        await settle(services, opened)
    except Exception:  # StoreBusy: the tab keeps its last view; the next opening tries again
        log.exception(
            "app_home_opened from %s: could not settle the identity", opened.identity.user_id
        )
        return
    await services.home.refresh(opened.identity)


def register(app: AsyncApp) -> None:
    app.event("app_home_opened")(app_home_opened)
