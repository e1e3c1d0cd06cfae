"""The stand-in's resource: a person's to-do items, and the rules for their titles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from account_binding.clock import Clock, system_clock
from account_binding.text import is_acceptable

MAX_TITLE_LENGTH = 200


@dataclass(frozen=True)
class Todo:
    """One to-do item of the user `user_id`; `created_at` in Unix seconds."""

    id: int
    user_id: int
    title: str
    done: bool
    created_at: int


class InvalidTodo(ValueError):
    """A title the rules refuse; `str(error)` says why, to show to the person."""


class TodoStore(Protocol):
    """Where the items are kept (`stand_in.store.SQLiteTodoStore`)."""

    async def list_todos(self, user_id: int) -> list[Todo]: ...
    async def add_todo(self, user_id: int, title: str, now: int) -> Todo: ...
    async def complete_todo(self, user_id: int, todo_id: int) -> Todo | None:
        """The item, done, when it is `user_id`'s; else None, changing nothing."""
        ...


class TodoService:
    def __init__(self, store: TodoStore, clock: Clock = system_clock) -> None:
        self._store = store
        self._clock = clock

    async def list(self, user_id: int) -> list[Todo]:
        """The user's items, oldest first."""
        return await self._store.list_todos(user_id)

    async def add(self, user_id: int, title: str) -> Todo:
        """Add an item; its title with runs of white space made one space.

        Raises InvalidTodo for an empty title, one over MAX_TITLE_LENGTH characters, or one
        holding control characters or lone surrogates.
        """
        title = " ".join(title.split())
        if not is_acceptable(title):
            raise InvalidTodo("A to-do title cannot hold control characters or broken Unicode.")
        if not title:
            raise InvalidTodo("A to-do item needs a title.")
        if len(title) > MAX_TITLE_LENGTH:
            raise InvalidTodo(f"A to-do title has at most {MAX_TITLE_LENGTH} characters.")
        return await self._store.add_todo(user_id, title, self._clock())

    async def complete(self, user_id: int, todo_id: int) -> Todo | None:
        """Mark the user's item `todo_id` done; None when they have no such item."""
        return await self._store.complete_todo(user_id, todo_id)
