"""The client a command plugin uses to call the internal application, and its errors.

`ctx.api` already carries the credential of the acting mode (ACT_AS): a plugin names a path
under INTERNAL_API_URL and gets parsed JSON back. This interface is the project's own, so the
HTTP library underneath can change without breaking plugins.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

#: Parsed JSON (RFC 8259): dict, list, str, int, float, bool or None.
Json = Any


class InternalApiError(Exception):
    """A call to the internal application failed. `str(error)` is one sentence that is safe
    to show the Slack user (it names the application, never a credential)."""


class ApiUnavailable(InternalApiError):
    """No answer within INTERNAL_API_TIMEOUT, a network failure, or a 5xx answer.

    `reached`: whether the request may have reached the application, so that it may have
    acted on it (False only when no connection could be made). `headline`: what failed,
    naming the application, as a clause without a final stop ("Acme is not responding (no
    answer within 15 seconds)"), from which the command listener words the person's answer
    for a subcommand that changes data ("... It may or may not have been done: check in
    Acme before trying again."); None when a plugin raises it with a sentence of its own,
    which is then shown as it is."""

    def __init__(self, sentence: str, *, reached: bool = True, headline: str | None = None) -> None:
        super().__init__(sentence)
        self.reached = reached
        self.headline = headline


class ApiRefused(InternalApiError):
    """A 4xx answer other than 401: `status` is the HTTP status, `message` the reason the
    application gave (its JSON `error`, `message` or `detail`), or "HTTP <status>"."""

    def __init__(self, sentence: str, status: int, message: str) -> None:
        super().__init__(sentence)
        self.status = status
        self.message = message


class CredentialRejected(InternalApiError):
    """401: the application no longer accepts the credential of the acting mode (the
    person's token under ACT_AS=token, the service credential under ACT_AS=service)."""


class UnreadableAnswer(InternalApiError):
    """The answer was not JSON, was too large, or (raised by a plugin) had the wrong shape."""


@contextmanager
def reading(app_name: str) -> Iterator[None]:
    """Read an answer's fields inside this block: a KeyError, TypeError or ValueError there
    (an answer of the wrong shape, the application's fault) becomes UnreadableAnswer saying
    so. `app_name`: INTERNAL_APP_NAME (`ctx.app_name`)."""
    try:
        yield
    except (KeyError, TypeError, ValueError):
        raise UnreadableAnswer(f"{app_name} gave an answer that could not be read.") from None


class InternalApiClient(Protocol):
    """Calls to the internal application as the bound person.

    `path` is absolute within INTERNAL_API_URL (it starts with one `/`; INTERNAL_API_URL's own
    path is kept in front) and may not leave it: a full URL, `//host`, or a `.`/`..` segment
    raises ValueError, so the credential is only ever sent to INTERNAL_API_URL. Quote text a
    person typed before putting it in a path (`urllib.parse.quote(word, safe="")`).

    Each method returns the answer's JSON body (None for an empty 2xx body) and raises
    `ApiUnavailable`, `ApiRefused`, `CredentialRejected` or `UnreadableAnswer`.
    """

    async def get(self, path: str, *, params: Mapping[str, str] | None = None) -> Json: ...

    async def post(self, path: str, *, json: Json = None) -> Json: ...

    async def put(self, path: str, *, json: Json = None) -> Json: ...

    async def patch(self, path: str, *, json: Json = None) -> Json: ...

    async def delete(self, path: str) -> Json: ...
