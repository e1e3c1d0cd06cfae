"""The site figures' baseline: a bare Starlette site, served by uvicorn as the product is.

`GET /page` answers a small HTML page (about the confirm page's size) and `POST /form`
parses a URL-encoded form and answers a page: no session, no database, no template engine,
so the figures are what Starlette and uvicorn cost on this machine. `GET /healthz` answers
200.

Run as `python -m bench.baseline_site --port PORT` (loopback only); it serves until it is
terminated.
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route

PAGE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Connect Slack</title>"
    "</head><body><main><h1>Connect a Slack account?</h1>"
    + "<p>Check the Slack account's user ID before you connect it.</p>"
    * 40
    + "<form method='post' action='/form'><button name='action' value='connect'>Connect"
    "</button></form></main></body></html>"
)


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


async def form(request: Request) -> HTMLResponse:
    fields = await request.form()
    action = str(fields.get("action", ""))
    return HTMLResponse(PAGE.replace("Connect a Slack account?", f"Done: {action[:20]}"))


async def healthz(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[
        Route("/page", page, methods=["GET"]),
        Route("/form", form, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=arguments.port,
        log_level="warning",
        access_log=False,
        server_header=False,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
