"""The stand-in's JSON API. Every route acts for the user `stand_in.auth` finds.

GET  /api/me                      that user: {"id", "username", "email"}
GET  /api/todos                   their to-do items: {"todos": [item, ...]}
POST /api/todos {"title": "..."}  add one: 201 and the item
POST /api/todos/{id}/complete     complete one: the item, or 404

An item is {"id", "title", "done", "created_at"} (Unix seconds). Every refusal is a 4xx
with JSON {"error": "<a sentence>"}.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from account_binding.models import User

from .auth import Refused, RequestAuthenticator
from .todos import InvalidTodo, Todo, TodoService

#: A to-do body is a title; the site-wide cap (MAX_BODY_BYTES) may be larger.
MAX_BODY_BYTES = 16 * 1024
#: Item IDs are SQLite rowids below 2**31 here; longer digit strings are never parsed.
MAX_ID_DIGITS = 10


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON answer {"error": message} with this status."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class StandInApi:
    """The routes, bound to the stand-in's services."""

    def __init__(self, todos: TodoService, auth: RequestAuthenticator) -> None:
        self._todos = todos
        self._auth = auth

    @property
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/me", self.me, methods=["GET"]),
            Route("/api/todos", self.list_todos, methods=["GET"]),
            Route("/api/todos", self.add_todo, methods=["POST"]),
            # str, not int: Starlette's int convertor calls int() on any run of digits (a 500
            # past Python's digit limit); parse_id bounds it first.
            Route("/api/todos/{todo_id:str}/complete", self.complete_todo, methods=["POST"]),
        ]

    async def _user(self, request: Request) -> User:
        return await self._auth.user_for(request.headers)

    async def me(self, request: Request) -> Response:
        try:
            user = await self._user(request)
        except Refused as refused:
            return _refusal(refused)
        return JSONResponse({"id": user.id, "username": user.username, "email": user.email})

    async def list_todos(self, request: Request) -> Response:
        try:
            user = await self._user(request)
        except Refused as refused:
            return _refusal(refused)
        todos = await self._todos.list(user.id)
        return JSONResponse({"todos": [_todo(t) for t in todos]})

    async def add_todo(self, request: Request) -> Response:
        try:
            user = await self._user(request)
        except Refused as refused:
            return _refusal(refused)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return error(413, "The request body is too large.")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return error(400, 'The body must be JSON like {"title": "..."}.')
        title = data.get("title") if isinstance(data, dict) else None
        if not isinstance(title, str):
            return error(400, 'The body must be JSON like {"title": "..."}.')
        try:
            todo = await self._todos.add(user.id, title)
        except InvalidTodo as invalid:
            return error(400, str(invalid))
        return JSONResponse(_todo(todo), status_code=201)

    async def complete_todo(self, request: Request) -> Response:
        try:
            user = await self._user(request)
        except Refused as refused:
            return _refusal(refused)
        todo_id = parse_id(request.path_params["todo_id"])
        todo = await self._todos.complete(user.id, todo_id) if todo_id else None
        if todo is None:
            named = f"no to-do item #{todo_id}" if todo_id else "no such to-do item"
            return error(404, f"You have {named}.")
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


def _refusal(refused: Refused) -> JSONResponse:
    return error(refused.status, refused.message, refused.headers)


def _todo(todo: Todo) -> dict[str, Any]:
    return {"id": todo.id, "title": todo.title, "done": todo.done, "created_at": todo.created_at}
