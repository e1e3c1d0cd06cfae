"""Answering a slash command after its acknowledgement, through its response_url."""

from __future__ import annotations

import logging

import aiohttp
from slack_bolt.async_app import AsyncRespond

from ...blocks import Reply

log = logging.getLogger(__name__)


async def respond(responder: AsyncRespond | None, reply: Reply) -> bool:
    """Answer through the command's response_url; a failure is logged, as nobody else sees it.
    True when the response_url took the answer."""
    if responder is None or not getattr(responder, "response_url", None):
        log.error("Could not answer through the response_url: the command came without one")
        return False
    try:
        response = await responder(
            text=reply.text, blocks=reply.blocks, response_type="ephemeral", replace_original=False
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
