"""Acting modes (ACT_AS): the credential the Slack side presents to the internal application
when it acts for a bound person.

`token`: the person's own personal API token, issued at binding (`Authorization: Bearer`); the
application checks it at the introspection endpoint (RFC 7662). `service`: one service
credential (INTERNAL_API_TOKEN, `Authorization: Bearer`) and the bound user's username in an
impersonation header (IMPERSONATE_HEADER, `Impersonate-User` by default, as Kubernetes names
it). A third mode, `oauth2` (the person's own OAuth tokens from single sign-on), fits the same
protocol.
"""

from __future__ import annotations

from typing import Protocol

from account_binding.binding import BoundAccount


class ActingMode(Protocol):
    #: The ACT_AS value.
    name: str

    def headers(self, account: BoundAccount) -> dict[str, str]:
        """The credential headers of a call made for `account`."""
        ...

    def rejected(self, command: str, app_name: str) -> str:
        """What to tell the person when the application answers 401 (plain text)."""
        ...


class ActAsToken:
    name = "token"

    def headers(self, account: BoundAccount) -> dict[str, str]:
        if account.api_token is None:  # the domain removes such bindings under ACT_AS=token
            raise ValueError("this binding has no personal API token")
        return {"Authorization": f"Bearer {account.api_token}"}

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

    def headers(self, account: BoundAccount) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._service_token}", self._header: account.subject}

    def rejected(self, command: str, app_name: str) -> str:
        return (
            f"{app_name} did not accept this app's own credential, so nothing was done. "
            f"Tell your administrator (INTERNAL_API_TOKEN)."
        )
