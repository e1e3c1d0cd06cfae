"""Baseline A: a bare Bolt app as Slack's starter template sets it up.

`slack-samples/bolt-python-starter-template`'s app.py: the synchronous `App` with Bolt's
default settings (`process_before_response=False`, so Bolt's runner polls for the ack
every 10 ms) and the built-in Socket Mode adapter (`SocketModeHandler(app,
app_token).start()`). Its command listener only acknowledges. Two departures from the
template, both needed to measure it: the Web API client is pointed at SLACK_API_URL (the
fake Slack), and logging is at WARNING rather than the template's DEBUG, which would measure
the logger.

Run as `python -m bench.baseline_a` with SLACK_BOT_TOKEN, SLACK_APP_TOKEN and SLACK_API_URL
set; it serves until it is terminated.
"""

from __future__ import annotations

import logging
import os

from slack_bolt import Ack, App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    app = App(
        client=WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    )

    @app.command(os.environ.get("BENCH_COMMAND", "/acme"))
    def command(ack: Ack) -> None:
        ack()

    SocketModeHandler(app, os.environ["SLACK_APP_TOKEN"]).start()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
