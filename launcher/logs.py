"""Logging for the whole process, with live binding links kept out of the access log."""

from __future__ import annotations

import logging
import re

_LINK_PATH = re.compile(r"^/bind/[^/?#\s]+")


class RedactLinks(logging.Filter):
    """uvicorn's access log names the request path; a path under /bind/ holds a live nonce."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            args = list(record.args)
            path = args[2]
            if isinstance(path, str):
                args[2] = _LINK_PATH.sub("/bind/[redacted]", path)
                record.args = tuple(args)
        return True


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", force=True
    )
    logging.getLogger("uvicorn.access").addFilter(RedactLinks())
    # Every Socket Mode ping and envelope is logged at INFO by slack_sdk; keep it for DEBUG.
    if level != "DEBUG":
        logging.getLogger("slack_sdk").setLevel(logging.WARNING)
        logging.getLogger("slack_bolt").setLevel(logging.WARNING)
