"""Connecting from a surface with nowhere to reply: the Home tab's Connect button and the
global shortcut "Connect account" have no response URL, so the link goes by direct message.

Both are acknowledged before any of this runs; each step here is bounded (the store's busy
timeout, Slack's DM deadline) and nothing is raised to Bolt: what fails is logged and, where
the person is waiting for an answer, told to them by DM.
"""

from __future__ import annotations

import logging
from typing import Literal

from slack_bolt.context.async_context import AsyncBoltContext

from account_binding.errors import BindingExpired, DomainError, LinkRateLimited
from account_binding.models import SlackIdentity
from account_binding.tokens import digest

from . import messages
from .home_tab import default_slash_command
from .identity_settling import settle_identity
from .installation import installation_of
from .interaction_payload import Interaction
from .services import SlackServices

log = logging.getLogger(__name__)

FAILED = (
    "Sorry, something went wrong in the app, so no link was made. "
    "Try again in a minute; if it keeps failing, tell your administrator."
)

#: Where the person asked, as the DM names it.
Origin = Literal["home", "shortcut"]

_ASKED = {
    "home": "as you asked on the app's Home tab",
    "shortcut": "as you asked with the shortcut *Connect account*",
}


def slash_command(services: SlackServices) -> str:
    """The slash command as the Home tab names it (its content), for messages about it."""
    if services.home is not None:
        return services.home.content.command
    return default_slash_command(services.internal_app_name)


async def admitted(context: AsyncBoltContext, identity: SlackIdentity, what: str) -> bool:
    """Whether `identity` belongs to the installation (as for a slash command: Slack delivers
    only what belongs to it, so anything else is forged or misrouted). Logs a refusal, and an
    installation Slack would not describe in time, and answers False for both."""
    try:
        where = await installation_of(context).get(identity)
    except DomainError:  # SlackUnavailable: auth.test failed; logged there
        log.warning("%s from Slack user %s: ignored, auth.test failed", what, identity.user_id)
        return False
    if where.admits(identity):
        return True
    log.warning(
        "Ignored %s from team %s, enterprise %s: the app is installed for the %s %s",
        what,
        identity.team_id,
        identity.enterprise_id,
        where.kind,
        where.enterprise_id if where.is_enterprise_install else where.team_id,
    )
    return False


async def settle(services: SlackServices, interaction: Interaction) -> None:
    """Move the person's binding to their organisation's key if their workspace joined one
    (Enterprise Grid; `settle_identity`), before anything reads it. Raises StoreBusy."""
    await settle_identity(services, interaction.identity, team_name=interaction.organisation_name)


async def send_link_by_dm(
    services: SlackServices, interaction: Interaction, origin: Origin
) -> bool:
    """DM `interaction`'s person a new link (BINDING_TTL named), or "already connected", or
    why there is no link (LINKS_PER_HOUR, a busy database, a failure). True when they turned
    out to be connected already (so a Home tab showing Connect is out of date)."""
    identity, name = interaction.identity, services.internal_app_name
    user_id = identity.user_id
    try:
        await settle(services, interaction)
        try:
            account = await services.bindings.bound_account(identity)
        except BindingExpired:
            account = None  # removed just now: a new link, as a command would answer
        if account is not None:
            await services.dm(user_id, messages.already_linked_reply(name, slash_command(services)))
            return True
        link = await services.bindings.issue_link(identity, interaction.profile)
    except LinkRateLimited as error:
        log.warning("Connect (%s): no link for %s, who asked for too many", origin, user_id)
        await services.dm(user_id, messages.error_reply(str(error)))
        return False
    except DomainError as error:  # StoreBusy: the person can try again
        log.warning("Connect (%s) for %s: %s", origin, user_id, type(error).__name__)
        await services.dm(user_id, messages.error_reply(str(error)))
        return False
    except Exception:
        log.exception("Connect (%s) for Slack user %s failed", origin, user_id)
        await services.dm(user_id, messages.error_reply(FAILED))
        return False
    reason = (
        f"Here is your link to connect your Slack account to your {messages.escape(name)} "
        f"account, {_ASKED[origin]}."
    )
    url = services.association_url(link.nonce)
    # Issue 10, never a dead button (helper "links"): the button carries its link's ID.
    reply = messages.link_reply(
        url,
        name,
        services.link_ttl_seconds,
        reason=reason,
        link_id=digest(link.nonce),
        in_dm=True,
    )
    sent = await services.dm(user_id, reply)
    log.info(
        "Connect (%s): sent Slack user %s a link%s", origin, user_id, "" if sent else " (DM failed)"
    )
    return False
