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

MAX_BODY_BYTES = 16 * 1024


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
    todo_id = request.path_params["todo_id"]
    todo = await services_of(request).todos.complete(user.id, todo_id) if todo_id < 2**31 else None
    if todo is None:
        return _error(404, f"You have no to-do item #{todo_id}.")
    return JSONResponse(_todo(todo))


routes = [
    Route("/api/me", me, methods=["GET"]),
    Route("/api/todos", list_todos, methods=["GET"]),
    Route("/api/todos", add_todo, methods=["POST"]),
    Route("/api/todos/{todo_id:int}/complete", complete_todo, methods=["POST"]),
]
