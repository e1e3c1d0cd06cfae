from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .auth import logged_in
from .services import services_of
from .templating import templates


async def home(request: Request) -> Response:
    current = await logged_in(request)
    return templates.TemplateResponse(
        request,
        "home.html",
        {
            "app_name": services_of(request).internal_app_name,
            "user": current.user if current else None,
            "csrf_token": current.session.csrf_token if current else None,
        },
    )


async def health(request: Request) -> Response:
    return Response("ok", media_type="text/plain")
