"""The link button opens a URL in the browser; Slack still sends the click, which is acked."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck


async def acknowledge_link_button(ack: AsyncAck) -> None:
    await ack()
