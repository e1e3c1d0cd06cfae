"""Baseline B: a bare Bolt `AsyncApp` that only acknowledges, tuned for the ack.

`AsyncApp(process_before_response=True)`, so the ack is sent as soon as the listener
returns rather than found by Bolt's 10 ms polling, over the aiohttp Socket Mode client
(`AsyncSocketModeHandler`, Bolt's asyncio default). Its command listener only acknowledges:
the ceiling of Bolt on this machine, which the product's unbound path is compared with.

Run as `python -m bench.baseline_b` with SLACK_BOT_TOKEN, SLACK_APP_TOKEN and SLACK_API_URL
set; it serves until it is terminated.
"""

from __future__ import annotations

import asyncio
import logging
import os

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


async def serve() -> None:
    app = AsyncApp(
        client=AsyncWebClient(
            token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]
        ),
        process_before_response=True,
    )

    @app.command(os.environ.get("BENCH_COMMAND", "/acme"))
    async def command(ack: AsyncAck) -> None:
        await ack()

    await AsyncSocketModeHandler(app, os.environ["SLACK_APP_TOKEN"]).start_async()  # type: ignore[no-untyped-call]


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve())


if __name__ == "__main__":
    main()
