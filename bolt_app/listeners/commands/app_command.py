"""The slash command: acknowledged at once, the internal application's work done after."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncBoltContext, AsyncRespond

from account_binding.audit import Actor
from account_binding.models import SlackIdentity, SlackProfile
from account_binding.text import cleaned

from ... import messages
from ...command_text import (
    ACTING,
    AddTodo,
    CompleteTodo,
    Help,
    Link,
    ListTodos,
    Unlink,
    WhoAmI,
    parse,
)
from ...internal_api import InternalApiError, TokenRejected
from ...messages import Reply
from ...services import SlackServices, services_of

log = logging.getLogger(__name__)


async def app_command(
    ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    services = services_of(context)
    name = services.internal_app_name
    slash = str(command.get("command") or "/command")
    subcommand = parse(str(command.get("text") or ""))
    identity = SlackIdentity.from_ids(
        team_id=str(command["team_id"]),
        user_id=str(command["user_id"]),
        enterprise_id=command.get("enterprise_id") or None,
    )

    if isinstance(subcommand, Help):
        await _ack(ack, messages.help_reply(slash, name, subcommand.unknown))
        return
    if isinstance(subcommand, Unlink):
        binding = await services.bindings.unbind(
            identity, Actor(client=f"slack:{identity.user_id}")
        )
        await _ack(ack, messages.unlinked_reply(name, binding is not None))
        if binding is not None:
            await services.notifier.binding_removed(binding)
        return

    account = await services.bindings.bound_account(identity)
    if isinstance(subcommand, Link) and account is not None:
        await _ack(ack, messages.already_linked_reply(name, slash))
        return
    if account is None:
        link = await services.bindings.issue_link(identity, _profile(command))
        reason = (
            None
            if isinstance(subcommand, Link)
            else (
                f"To use `{slash}`, first connect your Slack account to your {messages.escape(name)} account."
            )
        )
        await _ack(
            ack,
            messages.link_reply(
                services.association_url(link.nonce), name, services.link_ttl_seconds, reason=reason
            ),
        )
        return

    assert isinstance(subcommand, ACTING)
    await ack()  # Slack waits at most 3 seconds; the internal application may take longer.
    try:
        reply = await _act(services, subcommand, account.api_token, slash)
    except TokenRejected as error:
        reply = messages.error_reply(
            f"{error} Run `{slash} unlink`, then `{slash} link` to connect again."
        )
    except InternalApiError as error:
        reply = messages.error_reply(str(error))
    await _respond(respond, reply)


async def _act(services: SlackServices, subcommand: object, token: str, slash: str) -> Reply:
    api, name = services.internal_api, services.internal_app_name
    if isinstance(subcommand, WhoAmI):
        return messages.whoami_reply(await api.me(token), name)
    if isinstance(subcommand, ListTodos):
        return messages.todos_reply(await api.todos(token), name, slash)
    if isinstance(subcommand, AddTodo):
        return messages.todo_added_reply(await api.add_todo(token, subcommand.title))
    if isinstance(subcommand, CompleteTodo):
        return messages.todo_completed_reply(await api.complete_todo(token, subcommand.todo_id))
    raise AssertionError(f"not an acting subcommand: {subcommand!r}")


def _profile(command: dict[str, Any]) -> SlackProfile:
    team = command.get("enterprise_name") or command.get("team_domain") or command["team_id"]
    app_id = command.get("api_app_id")
    return SlackProfile(
        user_name=cleaned(str(command.get("user_name") or command["user_id"]), 100),
        team_name=cleaned(str(team), 100),
        app_id=cleaned(str(app_id), 32) if app_id else None,
    )


async def _ack(ack: AsyncAck, reply: Reply) -> None:
    await ack(text=reply.text, blocks=reply.blocks, response_type="ephemeral")


async def _respond(respond: AsyncRespond, reply: Reply) -> None:
    """Answer through the command's response_url; a failure is logged, as nobody else sees it."""
    try:
        response = await respond(
            text=reply.text, blocks=reply.blocks, response_type="ephemeral", replace_original=False
        )
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        log.error("Could not answer through the response_url: %s", type(error).__name__)
        return
    if response.status_code != 200:
        log.error(
            "The response_url refused the answer: HTTP %s %s",
            response.status_code,
            response.body[:100],
        )
