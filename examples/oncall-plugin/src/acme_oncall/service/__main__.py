"""`python -m acme_oncall.service`: run the reference on-call API.

    ONCALL_INTROSPECTION_CLIENT_SECRET=… python -m acme_oncall.service --port 9000 \\
        --introspection-url http://localhost:8000/oauth/introspect --client-id oncall
    ONCALL_SERVICE_TOKEN=… python -m acme_oncall.service --port 9000

Secrets come from the environment only (a command line is visible to every user of the
machine); everything else from arguments. Token mode (ACT_AS=token) is on when
--introspection-url is given, service mode (ACT_AS=service) when ONCALL_SERVICE_TOKEN is set;
both may be. Data is in memory: a demo roster of --people, gone when the process stops.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

import uvicorn

from .app import build_service
from .auth import DEFAULT_IMPERSONATE_HEADER, USERNAME, ServiceCredential
from .introspection import DEFAULT_TIMEOUT_SECONDS, IntrospectionConfig
from .roster import demo_roster

# The names of the environment variables that hold the secrets.
SECRET_ENV = "ONCALL_INTROSPECTION_CLIENT_SECRET"  # noqa: S105
SERVICE_TOKEN_ENV = "ONCALL_SERVICE_TOKEN"  # noqa: S105


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m acme_oncall.service",
        description="Acme's on-call API, accepting the account-binding app's credentials.",
        epilog=f"Secrets from the environment: {SECRET_ENV} (with --introspection-url), "
        f"{SERVICE_TOKEN_ENV} (turns service mode on; at least 32 characters).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=9000, help="port to listen on (9000)")
    p.add_argument(
        "--people",
        default="demo,ada,grace",
        help="comma-separated user names on the demo rotations (demo,ada,grace)",
    )
    p.add_argument(
        "--introspection-url",
        help="the binding site's introspection endpoint (…/oauth/introspect): token mode",
    )
    p.add_argument("--client-id", help="INTROSPECTION_CLIENT_ID, with --introspection-url")
    p.add_argument(
        "--introspection-timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help=f"seconds one token check may take ({DEFAULT_TIMEOUT_SECONDS:g})",
    )
    p.add_argument(
        "--impersonate-header",
        default=DEFAULT_IMPERSONATE_HEADER,
        help=f"IMPERSONATE_HEADER, in service mode ({DEFAULT_IMPERSONATE_HEADER})",
    )
    return p


def main(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> None:
    env = dict(os.environ if environ is None else environ)
    p = parser()
    args = p.parse_args(argv)
    people = [name.strip() for name in args.people.split(",") if name.strip()]
    if not people or not all(USERNAME.fullmatch(name) for name in people):
        p.error("--people: comma-separated user names")
    if not 1 <= args.port <= 65535:
        p.error("--port: 1 to 65535")
    if not 0.1 <= args.introspection_timeout <= 60:
        p.error("--introspection-timeout: 0.1 to 60 seconds")
    introspection = None
    if args.introspection_url:
        secret = env.get(SECRET_ENV, "")
        if not args.client_id or not secret:
            p.error(f"--introspection-url needs --client-id and {SECRET_ENV}")
        if not args.introspection_url.startswith(("http://", "https://")):
            p.error("--introspection-url: an http:// or https:// URL")
        introspection = IntrospectionConfig(
            args.introspection_url, args.client_id, secret, args.introspection_timeout
        )
    service = None
    if env.get(SERVICE_TOKEN_ENV):
        try:
            service = ServiceCredential(env[SERVICE_TOKEN_ENV], args.impersonate_header)
        except ValueError as error:
            p.error(f"{SERVICE_TOKEN_ENV}: {error}")
    if introspection is None and service is None:
        p.error(f"give --introspection-url (token mode), set {SERVICE_TOKEN_ENV}, or both")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    modes = [m for m, on in (("token", introspection), ("service", service)) if on]
    logging.getLogger(__name__).info("Accepting ACT_AS=%s", " and ".join(modes))
    app = build_service(
        demo_roster(people), introspection=introspection, service_credential=service
    )
    uvicorn.run(app, host=args.host, port=args.port, log_config=None)


if __name__ == "__main__":
    main(sys.argv[1:])
