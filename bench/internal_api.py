"""The internal API the bound path calls, served in a process of its own.

A company's API as small as it gets: `GET /api/me` answers who the caller is, and takes any
`Authorization: Bearer` token (401 with `WWW-Authenticate: Bearer` without one), so that
its own cost stays out of the figures and the product and baseline C pay the same for it.
`GET /healthz` answers 200 once it serves.

Run as `python -m bench.internal_api --port PORT` (loopback only); it serves until it is
terminated.
"""

from __future__ import annotations

import argparse
import hashlib
import logging

from aiohttp import web


async def me(request: web.Request) -> web.Response:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or len(header) <= len("Bearer "):
        return web.json_response(
            {"error": "invalid_token"}, status=401, headers={"WWW-Authenticate": "Bearer"}
        )
    # A name per token, so answers differ per person as a real API's would.
    name = "user-" + hashlib.sha256(header.encode()).hexdigest()[:8]
    return web.json_response({"id": 1, "username": name, "email": f"{name}@example.com"})


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def build() -> web.Application:
    app = web.Application()
    app.router.add_get("/api/me", me)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    web.run_app(build(), host="127.0.0.1", port=arguments.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
