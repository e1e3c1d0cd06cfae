"""The internal application's JSON API, authenticated by personal API tokens.

GET  /api/me                      the token's user
GET  /api/todos                   their to-do items
POST /api/todos {"title": "..."}  add one
POST /api/todos/{id}/complete     complete one
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from account_binding.models import Todo, User
from account_binding.todos import InvalidTodo

from .services import services_of

#: A to-do body is a title; the site-wide cap (MAX_BODY_BYTES) may be larger.
MAX_BODY_BYTES = 16 * 1024
#: Item IDs are SQLite rowids below 2**31 here; longer digit strings are never parsed.
MAX_ID_DIGITS = 10


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _user(request: Request) -> User | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return await services_of(request).api_tokens.user_for(token.strip())


def _unauthorised() -> JSONResponse:
    return _error(
        401,
        "A valid personal API token is required (Authorization: Bearer <token>).",
        {"WWW-Authenticate": 'Bearer realm="api"'},
    )


def _todo(todo: Todo) -> dict[str, Any]:
    return {"id": todo.id, "title": todo.title, "done": todo.done, "created_at": todo.created_at}


async def me(request: Request) -> Response:
    user = await _user(request)
    if user is None:
        return _unauthorised()
    return JSONResponse({"id": user.id, "username": user.username, "email": user.email})


async def list_todos(request: Request) -> Response:
    user = await _user(request)
    if user is None:
        return _unauthorised()
    todos = await services_of(request).todos.list(user.id)
    return JSONResponse({"todos": [_todo(t) for t in todos]})


async def add_todo(request: Request) -> Response:
    user = await _user(request)
    if user is None:
        return _unauthorised()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return _error(413, "The request body is too large.")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return _error(400, 'The body must be JSON like {"title": "..."}.')
    title = data.get("title") if isinstance(data, dict) else None
    if not isinstance(title, str):
        return _error(400, 'The body must be JSON like {"title": "..."}.')
    try:
        todo = await services_of(request).todos.add(user.id, title)
    except InvalidTodo as error:
        return _error(400, str(error))
    return JSONResponse(_todo(todo), status_code=201)


async def complete_todo(request: Request) -> Response:
    user = await _user(request)
    if user is None:
        return _unauthorised()
    todo_id = parse_id(request.path_params["todo_id"])
    todo = await services_of(request).todos.complete(user.id, todo_id) if todo_id else None
    if todo is None:
        named = f"no to-do item #{todo_id}" if todo_id else "no such to-do item"
        return _error(404, f"You have {named}.")
    return JSONResponse(_todo(todo))


def parse_id(text: str) -> int | None:
    """The item ID `text` names (1 to 2**31 - 1, ASCII digits only), or None.

    Never calls int() on more than MAX_ID_DIGITS digits, so a path of thousands of digits (past
    Python's int conversion limit) is a 404, not a 500.
    """
    if not text.isascii() or not text.isdigit() or len(text) > MAX_ID_DIGITS:
        return None
    value = int(text)
    return value if 0 < value < 2**31 else None


routes = [
    Route("/api/me", me, methods=["GET"]),
    Route("/api/todos", list_todos, methods=["GET"]),
    Route("/api/todos", add_todo, methods=["POST"]),
    # str, not int: Starlette's int convertor calls int() on any run of digits (a 500 past
    # Python's digit limit); parse_id bounds it first.
    Route("/api/todos/{todo_id:str}/complete", complete_todo, methods=["POST"]),
]
