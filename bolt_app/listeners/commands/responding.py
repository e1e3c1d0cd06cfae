"""Answering a slash command after its acknowledgement, through its response_url."""

from __future__ import annotations

import logging

import aiohttp
from slack_bolt.async_app import AsyncRespond
from slack_bolt.context.respond.internals import _build_message
from slack_sdk.webhook.async_client import AsyncWebhookClient

from ... import response_session
from ...blocks import Reply

log = logging.getLogger(__name__)


async def respond(responder: AsyncRespond | None, reply: Reply) -> bool:
    """Answer through the command's response_url; a failure is logged, as nobody else sees it.
    True when the response_url took the answer. Issue 12: posted with the loop's shared
    session (`bolt_app.response_session`) when a site holds one, as Bolt's `respond` would
    post it otherwise."""
    if responder is None or not getattr(responder, "response_url", None):
        log.error("Could not answer through the response_url: the command came without one")
        return False
    shared = response_session.session()
    try:
        if shared is not None and isinstance(responder, AsyncRespond):
            message = _build_message(
                text=reply.text,
                blocks=reply.blocks,
                response_type="ephemeral",
                replace_original=False,
            )
            client = AsyncWebhookClient(
                str(responder.response_url),
                session=shared,
                proxy=responder.proxy,
                ssl=responder.ssl,
            )
            response = await client.send_dict(message)
        else:
            response = await responder(
                text=reply.text,
                blocks=reply.blocks,
                response_type="ephemeral",
                replace_original=False,
            )
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as error:
        log.error("Could not answer through the response_url: %s", type(error).__name__)
        return False
    if response.status_code != 200:
        log.error(
            "The response_url refused the answer: HTTP %s %s",
            response.status_code,
            response.body[:100],
        )
        return False
    return True
