"""A click on a link message's button: never a dead button.

The button opens its URL in the browser, and Slack also sends the click (block_actions),
which is acknowledged at once. Then, when the button's link still works, nothing more. When
it no longer does (it expired unused, a newer link replaced it, it was used, cancelled or
refused, or it is not known any more) and the person who clicked is not connected, the
message is replaced in place (its response_url, `replace_original`) by a fresh link for the
person who clicked (the payload's `user`, never anyone the button names), saying what became
of the old one; LINKS_PER_HOUR still applies, and a refusal says so in place. When they are
connected now, it is replaced by "You're connected as …". A button whose link was issued to
another Slack identity is not acted on (logged). The same holds for a button in a DM
(LINK_DELIVERY=dm, or a link sent from the expired-link page).

Slack's block_actions payload: https://api.slack.com/reference/interaction-payloads/block-actions
"""

from __future__ import annotations

import logging
import re
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncBoltContext, AsyncRespond

from account_binding.errors import DomainError
from account_binding.link_renewal import Renewal
from account_binding.models import SlackIdentity, SlackProfile
from account_binding.tokens import digest

from ... import messages
from ...command_payload import slack_unescape
from ...identity_settling import settle_identity
from ...installation import installation_of
from ...messages import OPEN_LINK_ACTION, Reply
from ...services import SlackServices, services_of

log = logging.getLogger(__name__)

#: Slack IDs: an upper-case letter then upper-case letters and digits (T…, U…, W…, E…).
_SLACK_ID = re.compile(r"[A-Z][A-Z0-9]{1,39}")


async def acknowledge_link_button(
    ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    services = services_of(context)
    if services.link_renewal is None:
        return
    click = _click(body)
    if click is None:
        log.warning("A link button's click came without a readable user, team or value")
        return
    identity, profile, link_id = click
    try:
        where = await installation_of(context).get()
    except DomainError:  # SlackUnavailable: the click can wait for another one
        log.warning("A link button's click from %s was not answered: auth.test failed", identity)
        return
    if not where.admits(identity):
        log.warning(
            "Ignored a link button's click from team %s, enterprise %s: not this installation",
            identity.team_id,
            identity.enterprise_id,
        )
        return
    try:
        # Enterprise Grid: a workspace that joined an organisation moves its keys first.
        await settle_identity(services, identity)
        renewal = await services.link_renewal.after_click(identity, profile, link_id)
    except DomainError as error:  # StoreBusy: the button can be pressed again
        log.warning("A link button's click from %s was not answered: %s", identity, error)
        return
    reply = _reply(services, renewal, in_dm=_in_dm(body))
    if renewal.outcome == "not_theirs":
        log.warning(
            "Slack user %s of %s clicked the button of a link issued to someone else; nothing done",
            identity.user_id,
            identity.scope_id,
        )
    if renewal.outcome == "usable":
        log.debug(
            "A link button was clicked while its link still works (or it names no link): "
            "nothing to do"
        )
    if reply is None:
        return
    log.info(
        "Replaced the link message clicked by Slack user %s (%s%s)",
        identity.user_id,
        renewal.outcome,
        f": the link was {renewal.why}" if renewal.why else "",
    )
    await _replace(services, respond, body, identity, reply)


def _reply(services: SlackServices, renewal: Renewal, *, in_dm: bool) -> Reply | None:
    name = services.internal_app_name
    if renewal.outcome == "connected":
        assert renewal.username is not None
        return messages.connected_in_place_reply(name, renewal.username)
    if renewal.outcome == "refused":
        assert renewal.error is not None and renewal.why is not None
        return messages.renewal_refused_reply(renewal.why, str(renewal.error))
    if renewal.outcome == "renewed":
        assert renewal.link is not None and renewal.why is not None
        nonce = renewal.link.nonce
        return messages.renewed_link_reply(
            services.association_url(nonce),
            name,
            services.link_ttl_seconds,
            renewal.why,
            digest(nonce),
            in_dm=in_dm,
        )
    return None  # usable: the button opened it; not_theirs: not ours to answer


async def _replace(
    services: SlackServices,
    respond: AsyncRespond,
    body: dict[str, Any],
    identity: SlackIdentity,
    reply: Reply,
) -> None:
    """Replace the clicked message through its response_url; without one (a surface that has
    none), DM `reply` to the person who clicked instead."""
    if not body.get("response_url"):
        await services.dm(identity.user_id, reply)
        return
    try:
        response = await respond(text=reply.text, blocks=reply.blocks, replace_original=True)
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as error:
        log.error("Could not replace the clicked link message: %s", type(error).__name__)
        return
    if response.status_code != 200:
        log.error(
            "The response_url refused the replaced link message: HTTP %s", response.status_code
        )


def _click(body: dict[str, Any]) -> tuple[SlackIdentity, SlackProfile, str] | None:
    """Who clicked (the payload's `user`), what the payload says of them, and the button's
    value (the link's ID); None when a field is missing or of the wrong shape."""
    user, team = body.get("user"), body.get("team")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        return None
    # Where the click happened (the workspace, as a command's team_id), else the user's own.
    team_id = (team.get("id") if isinstance(team, dict) else None) or user.get("team_id")
    enterprise = body.get("enterprise")
    enterprise_id = enterprise.get("id") if isinstance(enterprise, dict) else None
    actions = body.get("actions")
    clicked = [
        a
        for a in (actions if isinstance(actions, list) else [])
        if isinstance(a, dict) and a.get("action_id") == OPEN_LINK_ACTION
    ]
    value = clicked[0].get("value") if clicked else None
    if not all(
        isinstance(slack_id, str) and _SLACK_ID.fullmatch(slack_id)
        for slack_id in (user["id"], team_id)
    ) or not (enterprise_id is None or _SLACK_ID.fullmatch(str(enterprise_id))):
        return None
    assert isinstance(team_id, str)
    identity = SlackIdentity.from_ids(
        team_id=team_id, user_id=user["id"], enterprise_id=enterprise_id
    )
    name = user.get("username") or user.get("name")
    domain = team.get("domain") if isinstance(team, dict) else None
    app_id = body.get("api_app_id")
    profile = SlackProfile(
        user_name=slack_unescape(name) if isinstance(name, str) and name else user["id"],
        team_name=slack_unescape(domain) if isinstance(domain, str) and domain else team_id,
        app_id=app_id if isinstance(app_id, str) and app_id else None,
    )
    return identity, profile, value if isinstance(value, str) else ""


def _in_dm(body: dict[str, Any]) -> bool:
    container = body.get("container")
    channel = body.get("channel")
    channel_id = channel.get("id") if isinstance(channel, dict) else None
    ephemeral = isinstance(container, dict) and container.get("is_ephemeral") is True
    return not ephemeral and isinstance(channel_id, str) and channel_id.startswith("D")
