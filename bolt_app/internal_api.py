"""The Slack side's client for the internal application's JSON API.

The Slack side reaches the internal application only through this API, at INTERNAL_API_URL,
with the personal API token issued at binding: point INTERNAL_API_URL at another system that
serves the same API and the Slack side acts there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)

#: Longer than the stand-in's database busy timeout (10 s): a write of the stand-in that
#: waits for another process's lock answers (done, or 503 "busy") before this side gives up,
#: so the person is never told "did not answer" about a change that was made.
TIMEOUT_SECONDS = 15.0


class InternalApiError(Exception):
    """The call failed; `str(error)` is safe to show the Slack user."""


class TokenRejected(InternalApiError):
    """The internal application no longer accepts the personal API token."""


@dataclass(frozen=True)
class Me:
    username: str
    email: str


@dataclass(frozen=True)
class TodoItem:
    id: int
    title: str
    done: bool


class InternalApi:
    def __init__(
        self, base_url: str, app_name: str, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url, timeout=TIMEOUT_SECONDS, transport=transport, trust_env=False
        )
        self._app_name = app_name

    async def close(self) -> None:
        await self._client.aclose()

    async def me(self, token: str) -> Me:
        body = await self._call("GET", "/api/me", token)
        with self._reading():
            return Me(username=_text(body["username"]), email=_text(body["email"]))

    async def todos(self, token: str) -> list[TodoItem]:
        body = await self._call("GET", "/api/todos", token)
        with self._reading():
            return [_todo(item) for item in body["todos"]]

    async def add_todo(self, token: str, title: str) -> TodoItem:
        body = await self._call("POST", "/api/todos", token, json={"title": title})
        with self._reading():
            return _todo(body)

    async def complete_todo(self, token: str, todo_id: int) -> TodoItem:
        body = await self._call("POST", f"/api/todos/{todo_id}/complete", token)
        with self._reading():
            return _todo(body)

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """An answer of the wrong shape is the internal application's fault; say so."""
        try:
            yield
        except (KeyError, TypeError, ValueError):
            raise InternalApiError(
                f"{self._app_name} gave an answer that could not be read."
            ) from None

    async def _call(self, method: str, path: str, token: str, json: Any = None) -> dict[str, Any]:
        try:
            response = await self._client.request(
                method, path, json=json, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as error:
            # The person sees "did not answer"; the administrator needs to know where and why.
            log.warning(
                "The internal application did not answer %s %s at INTERNAL_API_URL %s: %s",
                method,
                path,
                self._client.base_url,
                type(error).__name__,
            )
            raise InternalApiError(
                f"{self._app_name} did not answer. Try again in a minute."
            ) from None
        if response.status_code == 401:
            raise TokenRejected(
                f"{self._app_name} no longer accepts this Slack account's connection."
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or response.status_code >= 500:
            log.warning(
                "The internal application answered %s %s with HTTP %s%s",
                method,
                path,
                response.status_code,
                "" if isinstance(body, dict) else " and a body that is not a JSON object",
            )
        if not isinstance(body, dict):
            raise InternalApiError(
                f"{self._app_name} gave an answer that could not be read (HTTP {response.status_code})."
            )
        if response.status_code >= 400:
            message = body.get("error") or f"HTTP {response.status_code}"
            raise InternalApiError(f"{self._app_name} refused: {message}")
        return body


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _todo(item: Any) -> TodoItem:
    if not isinstance(item["id"], int) or not isinstance(item["done"], bool):
        raise TypeError("not a to-do item")
    return TodoItem(id=item["id"], title=_text(item["title"]), done=item["done"])
