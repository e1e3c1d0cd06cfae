"""Acting modes (ACT_AS): the credential the Slack side presents to the internal application
when it acts for a bound person.

`token`: the person's own personal API token, issued at binding (`Authorization: Bearer`); the
application checks it at the introspection endpoint (RFC 7662). `service`: one service
credential (INTERNAL_API_TOKEN, `Authorization: Bearer`) and the bound user's username in an
impersonation header (IMPERSONATE_HEADER, `Impersonate-User` by default, as Kubernetes names
it). `oauth2`: the person's own OAuth 2.0 access token from OAUTH2_ISSUER, granted at binding
(`Authorization: Bearer`, RFC 6750), refreshed before it expires and once after the
application refuses it (`account_binding.oauth_grants`).

A mode makes a `Credential` per command. Its headers are computed when a call is made, on the
event loop of the command's handler (each handler runs on a loop and thread of its own, see
`bolt_app.commands.runner`), so a credential holds no lock or other loop-bound object.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Protocol

from account_binding.binding import BoundAccount
from account_binding.oauth_grants import GrantEnded, OAuthGrants, ProviderUnreachable

from .commands.api import ApiUnavailable, CredentialRejected


class Credential(Protocol):
    """What one command's calls carry. Raises ConnectionEnded or ApiUnavailable (both
    InternalApiError, safe to show) when it cannot give headers."""

    async def headers(self) -> dict[str, str]:
        """The credential headers of the next call."""
        ...

    async def renewed(self) -> dict[str, str] | None:
        """After the application answered 401 to the last headers: headers to try once more
        with, or None when there is nothing better to offer (the 401 then stands)."""
        ...


class ActingMode(Protocol):
    #: The ACT_AS value.
    name: str

    def credential(self, account: BoundAccount) -> Credential:
        """The credential of a command run for `account`."""
        ...

    def rejected(self, command: str, app_name: str) -> str:
        """What to tell the person when the application answers 401 (plain text)."""
        ...


class ConnectionEnded(CredentialRejected):
    """The person's connection can no longer act and was removed: the command answers with a
    new link. ACT_AS=oauth2: `provider_name` refused to refresh their grant (`reason`
    "refused"), or the binding was removed meanwhile ("gone")."""

    def __init__(self, sentence: str, provider_name: str, reason: str) -> None:
        super().__init__(sentence)
        self.provider_name = provider_name
        self.reason = reason


class FixedHeaders:
    """A credential that never changes within a command."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = dict(headers)

    def __repr__(self) -> str:  # the headers hold a credential
        return "FixedHeaders()"

    async def headers(self) -> dict[str, str]:
        return dict(self._headers)

    async def renewed(self) -> dict[str, str] | None:
        return None


class ActAsToken:
    name = "token"

    def credential(self, account: BoundAccount) -> Credential:
        if account.api_token is None:  # the domain removes such bindings under ACT_AS=token
            raise ValueError("this binding has no personal API token")
        return FixedHeaders({"Authorization": f"Bearer {account.api_token}"})

    def rejected(self, command: str, app_name: str) -> str:
        return (
            f"{app_name} no longer accepts this Slack account's connection. "
            f"Run `{command} unlink`, then `{command} link` to connect again."
        )


class ActAsService:
    name = "service"

    def __init__(self, service_token: str, impersonate_header: str) -> None:
        self._service_token = service_token
        self._header = impersonate_header

    def __repr__(self) -> str:
        return f"ActAsService(impersonate_header={self._header!r})"

    def credential(self, account: BoundAccount) -> Credential:
        return FixedHeaders(
            {"Authorization": f"Bearer {self._service_token}", self._header: account.subject}
        )

    def rejected(self, command: str, app_name: str) -> str:
        return (
            f"{app_name} did not accept this app's own credential, so nothing was done. "
            f"Tell your administrator (INTERNAL_API_TOKEN)."
        )


class ActAsOAuth2:
    name = "oauth2"

    def __init__(self, grants: OAuthGrants) -> None:
        self._grants = grants

    def __repr__(self) -> str:
        return f"ActAsOAuth2({self._grants!r})"

    def credential(self, account: BoundAccount) -> Credential:
        return _OAuth2Credential(self._grants, account)

    def rejected(self, command: str, app_name: str) -> str:
        return (
            f"{app_name} did not accept your {self._grants.provider_name} sign-in, even "
            f"renewed, so nothing was done. Run `{command} unlink`, then `{command} link` to "
            f"connect again."
        )


class _OAuth2Credential:
    """`Authorization: Bearer <access token>` of one binding. The token is asked of
    OAuthGrants before each call (it refreshes the token when due) and once more after a 401
    (it refreshes it, unless another command already has); the call is then made again once
    (`PersonApi`), so a 401 to the renewed token stands."""

    def __init__(self, grants: OAuthGrants, account: BoundAccount) -> None:
        self._grants = grants
        self._account = account
        self._last: str | None = None

    def __repr__(self) -> str:
        return f"OAuth2Credential(binding={self._account.binding.id})"

    async def headers(self) -> dict[str, str]:
        with _as_api_errors():
            self._last = await self._grants.access_token(self._account.binding)
        return _bearer(self._last)

    async def renewed(self) -> dict[str, str] | None:
        if self._last is None:
            return None
        with _as_api_errors():
            self._last = await self._grants.access_token_after_rejection(
                self._account.binding, self._last
            )
        return _bearer(self._last)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def _as_api_errors() -> Iterator[None]:
    """The domain's GrantEnded and ProviderUnreachable as the plugin interface's errors."""
    try:
        yield
    except GrantEnded as error:
        raise ConnectionEnded(str(error), error.provider_name, error.reason) from None
    except ProviderUnreachable as error:
        raise ApiUnavailable(str(error)) from None
