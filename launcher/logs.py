"""Logging for the whole process, with secrets taken out of every record.

Slack tokens, personal API tokens, live binding links, `response_url`s, bearer and basic
authorization headers, posted client secrets, and OAuth codes, states and tokens are replaced in each record's message and traceback when the record is made, so no handler
(console, file, a test's capture) ever sees them, whatever the library that logged them.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_SECRETS = [
    (re.compile(r"\b(xox[a-z])-[A-Za-z0-9-]+"), r"\1-[redacted]"),
    (re.compile(r"\bxapp-[A-Za-z0-9-]+"), "xapp-[redacted]"),
    (re.compile(r"\babt_[A-Za-z0-9_-]+"), "abt_[redacted]"),
    (re.compile(r"/bind/[A-Za-z0-9_-]{16,}"), "/bind/[redacted]"),
    # response_url, shaped https://hooks.slack.com/commands/T…/<id>/<secret>
    (re.compile(r"/commands/[A-Z0-9]+/[0-9]+/[A-Za-z0-9]+"), "/commands/[redacted]"),
    (re.compile(r"(['\"]response_url['\"]\s*:\s*['\"])[^'\"]+"), r"\1[redacted]"),
    (re.compile(r"(Bearer\s+)[^\s'\",]+", re.IGNORECASE), r"\1[redacted]"),
    # the introspection client's credentials: an HTTP Basic header, or posted in a form
    # (not the name of the Slack app's "Basic Information" page, which log lines point to)
    (re.compile(r"(Basic\s+)(?!Information\b)[A-Za-z0-9+/=]+", re.IGNORECASE), r"\1[redacted]"),
    (re.compile(r"(\bclient_secret=)[^&\s'\"]+"), r"\1[redacted]"),
    # the Socket Mode URL's one-time ticket, and the deprecated verification token
    (re.compile(r"([?&]ticket=)[^&\s'\"]+"), r"\1[redacted]"),
    (re.compile(r"(['\"]token['\"]\s*:\s*['\"])[^'\"]+"), r"\1[redacted]"),
    # OAuth 2.0 and OpenID Connect: an authorization code and state in a callback's address
    # (uvicorn's access log), PKCE verifiers, and tokens in a form or a JSON answer
    (
        re.compile(
            r"([?&](?:code|state|nonce|code_verifier|code_challenge|refresh_token|access_token"
            r"|id_token|token)=)[^&\s'\"]+"
        ),
        r"\1[redacted]",
    ),
    (
        re.compile(r"(['\"](?:access_token|refresh_token|id_token)['\"]\s*:\s*['\"])[^'\"]+"),
        r"\1[redacted]",
    ),
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


_installed = False


def install_redaction() -> None:
    """Redact every log record made from now on, in every logger of the process."""
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def redacted_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(redacted_record)
    _installed = True


def configure_logging(level: str) -> None:
    install_redaction()
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", force=True
    )
    # Every Socket Mode ping and envelope is logged at INFO by slack_sdk; keep it for DEBUG.
    quiet = logging.DEBUG if level == "DEBUG" else logging.WARNING
    logging.getLogger("slack_sdk").setLevel(quiet)
    logging.getLogger("slack_bolt").setLevel(quiet)
    # Issue 12, fast: httpx logs every request at INFO (the OpenID provider's; the internal
    # API's client is aiohttp since issue 12, aio); the app logs what went wrong itself.
    logging.getLogger("httpx").setLevel(quiet)
