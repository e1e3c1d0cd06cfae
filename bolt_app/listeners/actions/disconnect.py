"""The answers to `unlink`'s question: Disconnect and Keep it (block_actions).

Both are acknowledged at once, and the work follows. They act only for the Slack user who
clicked (`payload["user"]`, with the workspace and organisation of the payload): the button's
value names which binding the question was about (its public ID, never reused), never whose.
Disconnect removes that binding only if it is still the clicking person's
(`BindingService.unbind_binding`: token revoked, OAuth grant revoked, audited), replaces the
question in place through the response_url, and DMs the person (`Notifier.binding_removed`).
A question about a connection that has ended says so: when the person has connected again
since, the newer connection is left alone, whatever an old question's button says.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncBoltContext, AsyncRespond

from account_binding.audit import Actor
from account_binding.errors import DomainError, SlackUnavailable
from account_binding.models import Binding, SlackIdentity

from ... import messages
from ...blocks import Reply
from ...identity_settling import settle_identity
from ...installation import installation_of
from ...services import services_of
from ..commands.app_command import SLACK_SLOW

log = logging.getLogger(__name__)

#: Longest slash command name the value may carry (Slack allows 32 characters).
MAX_COMMAND_LENGTH = 32


class MalformedClick(Exception):
    """A block_actions payload without the fields a click needs."""


async def disconnect(
    ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    try:
        identity = clicked_by(body)
    except MalformedClick as error:
        log.warning("Refused a Disconnect click with missing or malformed fields: %s", error)
        return
    public_id, command = _value(body)
    services = services_of(context)
    name = services.internal_app_name
    removed: Binding | None = None
    try:
        where = await installation_of(context).get(identity)
        if not where.admits(identity):
            log.warning(
                "Refused a Disconnect click from team %s, enterprise %s: not this installation",
                identity.team_id,
                identity.enterprise_id,
            )
            await _answer(respond, messages.outside_installation_reply(name, where.kind))
            return
        # A binding made before the workspace joined an Enterprise Grid organisation moves to
        # the organisation's key first (its public ID stays), as for a slash command.
        await settle_identity(services, identity)
        removed = await services.bindings.unbind_binding(
            identity, public_id, Actor(client=f"slack:{identity.user_id}")
        )
        if removed is not None:
            reply = messages.disconnected_reply(name, command)
        else:
            now = await services.bindings.connection_of(identity)
            if now is None:
                reply = messages.already_disconnected_reply(name)
            else:
                log.info(
                    "A Disconnect click of Slack user %s named an ended connection; the newer "
                    "binding %s stays",
                    identity.user_id,
                    now.binding.id,
                )
                reply = messages.stale_question_reply(name, now.user.username, command)
    except SlackUnavailable:
        await _answer(respond, messages.error_reply(SLACK_SLOW), replace=False)
        return
    except DomainError as error:  # StoreBusy: nothing was done; the question stays
        log.warning("Disconnect of Slack user %s: %s", identity.user_id, type(error).__name__)
        await _answer(respond, messages.error_reply(str(error)), replace=False)
        return
    await _answer(respond, reply)
    if removed is not None:
        await services.notifier.binding_removed(removed)


async def keep(ack: AsyncAck, respond: AsyncRespond) -> None:
    """Keep it: nothing to do but say so, in place of the question."""
    await ack()
    await _answer(respond, messages.kept_reply())


def clicked_by(body: dict[str, Any]) -> SlackIdentity:
    """The Slack identity of the person who clicked: `user.id`, the workspace (`user.team_id`,
    else `team.id`) and the organisation (`enterprise.id` when `enterprise` is an object).
    Raises MalformedClick."""
    user = body.get("user")
    team = body.get("team")
    enterprise = body.get("enterprise")
    user_id = user.get("id") if isinstance(user, dict) else None
    team_id = user.get("team_id") if isinstance(user, dict) else None
    if not team_id and isinstance(team, dict):
        team_id = team.get("id")
    enterprise_id = enterprise.get("id") if isinstance(enterprise, dict) else None
    if not _is_slack_id(user_id) or not _is_slack_id(team_id):
        raise MalformedClick("user.id, user.team_id or team.id")
    if enterprise_id is not None and not _is_slack_id(enterprise_id):
        raise MalformedClick("enterprise.id")
    assert isinstance(user_id, str) and isinstance(team_id, str)
    return SlackIdentity.from_ids(team_id=team_id, user_id=user_id, enterprise_id=enterprise_id)


def _is_slack_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 32 and value.isascii() and value.isalnum()


def _value(body: dict[str, Any]) -> tuple[str, str | None]:
    """The clicked button's value: the binding's public ID ("" when there is none) and the
    slash command the question came from (None unless it looks like one)."""
    actions = body.get("actions")
    action = actions[0] if isinstance(actions, list) and actions else None
    value = action.get("value") if isinstance(action, dict) else None
    if not isinstance(value, str):
        return "", None
    public_id, _, command = value[:200].partition(" ")
    if (
        not command.startswith("/")
        or len(command) > MAX_COMMAND_LENGTH
        or not all(c.isascii() and (c.isalnum() or c in "/-_") for c in command)
    ):
        return public_id, None
    return public_id, command


async def _answer(responder: AsyncRespond | None, reply: Reply, *, replace: bool = True) -> None:
    """Answer through the click's response_url: in place of the question (`replace`), or as a
    new ephemeral message. A failure is logged; nobody else would see it."""
    if responder is None or not isinstance(getattr(responder, "response_url", None), str):
        log.error("Could not answer a click: it came without a response_url")
        return
    try:
        response = await responder(
            text=reply.text,
            blocks=reply.blocks,
            response_type="ephemeral",
            replace_original=replace,
        )
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as error:
        log.error("Could not answer a click through its response_url: %s", type(error).__name__)
        return
    if response.status_code != 200:
        log.error(
            "The response_url refused the answer to a click: HTTP %s %s",
            response.status_code,
            response.body[:100],
        )
