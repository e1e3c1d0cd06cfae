"""Serving the on-call API with uvicorn inside an event loop that is already running (tests,
or a program that runs other things beside it)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn
from starlette.types import ASGIApp

#: How long the server may take to start or to stop, in seconds.
START_STOP_DEADLINE = 10.0


@contextlib.asynccontextmanager
async def serve(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0, *, sock: socket.socket | None = None
) -> AsyncIterator[str]:
    """Serve `app` on `host`:`port` (0: a free port), or on `sock` when given (bound already,
    so its address could be handed out before the app existed), until the block ends; yields
    its base URL (`http://127.0.0.1:PORT`). Closes the socket. Raises TimeoutError when it
    does not start in time."""
    if sock is None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    host, port = sock.getsockname()[:2]
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, lifespan="on", timeout_graceful_shutdown=5)
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(START_STOP_DEADLINE):
            while not server.started:
                if serving.done():
                    serving.result()
                    raise RuntimeError("the on-call service stopped while starting")
                await asyncio.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(START_STOP_DEADLINE):
                await serving
        if not serving.done():
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
        sock.close()
