"""Baseline C: baseline B doing the bound path's work after the ack, as well as Bolt allows.

`AsyncApp(process_before_response=True)` over the aiohttp Socket Mode client, as baseline B.
Its command listener acknowledges at once and leaves the work to a task of its own, which
makes one call to the internal API (`GET {INTERNAL_API_URL}/api/me` with a bearer token),
then answers through the command's response_url. Both go through long-lived aiohttp
sessions with pooled connections (one for the internal API, one for Slack's
response_urls, through slack_sdk's `AsyncWebhookClient`), rather than a new session per
call as Bolt's `respond()` makes. It has no database: the product's binding lookup is its
own cost.

Run as `python -m bench.baseline_c` with SLACK_BOT_TOKEN, SLACK_APP_TOKEN, SLACK_API_URL
and INTERNAL_API_URL set; it serves until it is terminated.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

log = logging.getLogger("bench.baseline_c")

#: Seconds the internal API call and the response_url post may take, each.
TIMEOUT_SECONDS = 15.0
#: The bearer token sent to the internal API (the benchmark's API takes any).
API_TOKEN = "bench-baseline-token"  # noqa: S105 - not a secret: the benchmark API's stand-in


async def serve() -> None:
    api_url = os.environ["INTERNAL_API_URL"].rstrip("/")
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    api = aiohttp.ClientSession(timeout=timeout)
    slack = aiohttp.ClientSession(timeout=timeout)
    working: set[asyncio.Task[None]] = set()

    async def work(command: dict[str, Any]) -> None:
        try:
            async with api.get(
                f"{api_url}/api/me", headers={"Authorization": f"Bearer {API_TOKEN}"}
            ) as answer:
                answer.raise_for_status()
                me = await answer.json()
            text = f"You are *{me['username']}* ({me['email']})."
        except (aiohttp.ClientError, TimeoutError, KeyError, ValueError) as error:
            text = f"The internal application failed: {type(error).__name__}"
        await AsyncWebhookClient(command["response_url"], session=slack).send_dict(
            {"response_type": "ephemeral", "text": text}
        )

    app = AsyncApp(
        client=AsyncWebClient(
            token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]
        ),
        process_before_response=True,
    )

    @app.command(os.environ.get("BENCH_COMMAND", "/acme"))
    async def on_command(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack()
        task = asyncio.create_task(work(command))
        working.add(task)
        task.add_done_callback(working.discard)

    try:
        await AsyncSocketModeHandler(app, os.environ["SLACK_APP_TOKEN"]).start_async()  # type: ignore[no-untyped-call]
    finally:
        await api.close()
        await slack.close()


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve())


if __name__ == "__main__":
    main()
