"""Errors as pages (or JSON under /api/), never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .services import services_of
from .templating import templates

log = logging.getLogger(__name__)

SLACK_UNAVAILABLE = "Slack did not answer; your link still works, try again in a minute."

TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed",
    413: "Too large",
    415: "Wrong kind of request",
    503: "Slack did not answer",
}


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _render(request, exc.status_code, exc.detail, exc.headers)


async def slack_unavailable(request: Request, exc: Exception) -> Response:
    """Slack did not answer in time on a request path (SlackUnavailable): a 503 that asks the
    person to try again, never a security refusal and never a 500."""
    log.warning("Slack did not answer in time on %s %s", request.method, request.url.path)
    return _render(request, 503, SLACK_UNAVAILABLE, {"Retry-After": "60"})


async def store_busy(request: Request, exc: Exception) -> Response:
    """Another process held the database's write lock past the busy timeout (StoreBusy):
    nothing was written; a 503 that asks the person to try again, never a 500."""
    log.warning("The database was locked past its busy timeout on %s", request.url.path)
    return _render(request, 503, str(exc), {"Retry-After": "60"}, title="Busy")


async def server_error(request: Request, exc: Exception) -> Response:
    log.error("Unhandled error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return _render(request, 500, "Something went wrong on our side. Try again in a minute.", None)


def error_page(
    request: Request,
    status: int,
    detail: str,
    headers: Mapping[str, str] | None = None,
    *,
    title: str | None = None,
) -> Response:
    """The error page (JSON under /api/, /oauth/ and /.well-known/) with `status`: for code
    that cannot raise HTTPException, such as the authentication middleware's refusals."""
    return _render(request, status, detail, headers, title=title)


def _render(
    request: Request,
    status: int,
    detail: str,
    headers: Mapping[str, str] | None,
    *,
    title: str | None = None,
) -> Response:
    if status == 404 and detail == "Not Found":
        detail = "There is no page at this address."
    if status == 405 and detail == "Method Not Allowed":
        detail = "This page does not take that kind of request."
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": detail}, status_code=status, headers=headers)
    if request.url.path.startswith(("/oauth/", "/.well-known/")):
        # RFC 6749 section 5.2's shape, for machine clients (413 from the body cap, 405).
        return JSONResponse(
            {"error": "invalid_request", "error_description": detail},
            status_code=status,
            headers=headers,
        )
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "app_name": services_of(request).internal_app_name,
            "title": title or TITLES.get(status, "Error"),
            "message": detail,
        },
        status_code=status,
        headers=headers,
    )
