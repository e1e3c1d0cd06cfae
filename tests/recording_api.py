"""An internal application on loopback that records what the Slack side sends it: the
credential headers of each call, for the acting-mode tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import uvicorn
from conftest import free_socket
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class RecordingApi:
    url: str
    #: Each call's method, path, query and headers (lower-case names).
    calls: list[tuple[str, str, str, dict[str, str]]] = field(default_factory=list)
    #: The status the next calls answer with (200: echo).
    status: int = 200


@contextlib.asynccontextmanager
async def recording_api() -> AsyncIterator[RecordingApi]:
    sock = free_socket()
    api = RecordingApi(url=f"http://127.0.0.1:{sock.getsockname()[1]}")

    async def echo(request: Request) -> Response:
        api.calls.append(
            (request.method, request.url.path, request.url.query, dict(request.headers))
        )
        if api.status != 200:
            return JSONResponse({"error": "refused by the recording API"}, api.status)
        if request.method == "POST":
            body = await request.json()
            return JSONResponse({"said": body.get("text")})
        return JSONResponse({"said": request.query_params.get("q")})

    app = Starlette(routes=[Route("/echo", echo, methods=["GET", "POST"])])
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.01)
        yield api
    finally:
        server.should_exit = True
        await serving
        sock.close()
