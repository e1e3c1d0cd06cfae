"""The internal application's stand-in resource: a person's to-do items."""

from __future__ import annotations

from .clock import Clock, system_clock
from .errors import DomainError
from .models import Todo
from .store import Store
from .text import is_acceptable

MAX_TITLE_LENGTH = 200


class InvalidTodo(DomainError):
    pass


class TodoService:
    def __init__(self, store: Store, clock: Clock = system_clock) -> None:
        self._store = store
        self._clock = clock

    async def list(self, user_id: int) -> list[Todo]:
        return await self._store.list_todos(user_id)

    async def add(self, user_id: int, title: str) -> Todo:
        title = " ".join(title.split())
        if not is_acceptable(title):
            raise InvalidTodo("A to-do title cannot hold control characters or broken Unicode.")
        if not title:
            raise InvalidTodo("A to-do item needs a title.")
        if len(title) > MAX_TITLE_LENGTH:
            raise InvalidTodo(f"A to-do title has at most {MAX_TITLE_LENGTH} characters.")
        return await self._store.add_todo(user_id, title, self._clock())

    async def complete(self, user_id: int, todo_id: int) -> Todo | None:
        return await self._store.complete_todo(user_id, todo_id)
