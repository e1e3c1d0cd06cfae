from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .auth import logged_in
from .services import services_of
from .templating import templates


async def home(request: Request) -> Response:
    current = await logged_in(request)
    services = services_of(request)
    bindings = await services.bindings.bindings_of(current.user) if current else []
    return templates.TemplateResponse(
        request,
        "home.html",
        {
            "app_name": services.internal_app_name,
            "user": current.user if current else None,
            "bindings": bindings,
            "csrf_token": current.session.csrf_token if current else None,
        },
    )
