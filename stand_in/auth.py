"""Who a request to the stand-in acts for, in each acting mode it is configured for.

- A personal API token (`ACT_AS=token`): `Authorization: Bearer <token>` (RFC 6750, 2.1),
  checked in process by the domain's `ApiTokenAuthenticator`; the request acts for the
  token's user. Accepted while personal tokens are in use (ACT_AS=token) and the token is
  live under the current API_TOKEN_TTL; under ACT_AS=service none is, as the Slack side
  presents none.
- An access token of OAUTH2_ISSUER (`ACT_AS=oauth2`, and then nothing else):
  `Authorization: Bearer <token>`, checked at the provider's userinfo endpoint (OpenID
  Connect Core 1.0 section 5.3) at every request, within the provider's deadline; the request
  acts for the user whose identity at OAUTH2_ISSUER is the answer's `sub`. A token the
  provider refuses, or whose subject is nobody here, gets 401; a provider out of reach, 503.
- The service credential (`ACT_AS=service`), when INTERNAL_API_TOKEN is set: the same
  header carrying that credential, together with the impersonation header
  (IMPERSONATE_HEADER, `Impersonate-User` by default, as Kubernetes names it) naming the
  user to act for by username, the identifier that never changes for a local account.

Refusals, each `Refused` with a status and a message for the JSON body:

- 401 (with `WWW-Authenticate: Bearer`, RFC 6750, 3): no credential, another scheme, or a
  credential that is neither a live personal token nor the service credential.
- 400: the service credential without the impersonation header, or with it more than once.
- 403: the service credential naming no existing user. Only a holder of the service
  credential gets this far, and that holder may act for every user, so saying "no such
  user" tells them nothing they could not learn anyway; a plain 401 would instead send an
  administrator chasing a credential that is right. Everyone else is answered 401 before
  the header is read, so the answer reveals no user name to them.
- 403: a personal token or a provider's access token together with the impersonation
  header: a person's token acts for that person only, never as someone else.
- 503: the provider did not answer about an access token (ACT_AS=oauth2).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import SecretStr
from starlette.datastructures import Headers

from account_binding.api_tokens import ApiTokenAuthenticator
from account_binding.models import User
from account_binding.store import Store
from relying_party.errors import ProviderError, ProviderRefused

log = logging.getLogger(__name__)

#: The longest user name looked up; longer ones name no user (usernames have at most 64).
MAX_USERNAME_LENGTH = 64
#: The longest access token sent to the provider; longer ones are refused here.
MAX_ACCESS_TOKEN_LENGTH = 4096
ONLY_ITS_OWN = "An access token acts only for its own user, never with an impersonation header."


class Refused(Exception):
    """A request the stand-in will not act on: `status` (400, 401 or 403), a message safe to
    show, and headers for the answer."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


class Users(Protocol):
    """The internal application's accounts, by username."""

    async def user_named(self, username: str) -> User | None: ...


class BuiltInUsers:
    """`Users` over the domain's built-in accounts."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def user_named(self, username: str) -> User | None:
        found = await self._store.find_credentials(username)
        # Issue 10, lifecycle: nobody acts as an account an administrator disabled.
        return found[0] if found and found[0].disabled_at is None else None


class UserInfo(Protocol):
    """The provider's userinfo endpoint (`relying_party.Provider` is one)."""

    async def userinfo(self, access_token: str) -> dict[str, Any]:
        """The claims for `access_token`. Raises relying_party.ProviderRefused when the
        provider refuses the token, ProviderError when it cannot say."""
        ...


class ProviderTokenUsers:
    """ACT_AS=oauth2: whom an access token of the provider `issuer` (OAUTH2_ISSUER) acts for:
    the user whose identity there is the subject the provider's userinfo endpoint names for
    it. Nothing is cached: a token revoked at the provider stops working at once."""

    def __init__(self, provider: UserInfo, store: Store, issuer: str, provider_name: str) -> None:
        self._provider = provider
        self._store = store
        self.issuer = issuer
        self.provider_name = provider_name

    async def user_for(self, access_token: str) -> User | None:
        """The token's user; None when the provider refuses the token or its subject is
        nobody's here. Raises Refused(503) when the provider cannot say."""
        if len(access_token) > MAX_ACCESS_TOKEN_LENGTH:
            return None
        try:
            claims = await self._provider.userinfo(access_token)
        except ProviderRefused:
            return None
        except ProviderError as error:
            log.warning("Could not check an access token at %s: %s", self.issuer, error)
            raise Refused(
                503, f"Could not reach {self.provider_name} to check the token. Try again."
            ) from None
        user = await self._store.find_user_by_identity(self.issuer, claims["sub"])
        # Issue 10, lifecycle: nobody acts as an account an administrator disabled.
        return user if user is not None and user.disabled_at is None else None


class RequestAuthenticator:
    """Decides whom a request acts for (see the module's docstring). With `provider_tokens`
    (ACT_AS=oauth2) it takes the provider's access tokens and nothing else."""

    def __init__(
        self,
        api_tokens: ApiTokenAuthenticator,
        users: Users,
        *,
        impersonate_header: str = "Impersonate-User",
        service_token: SecretStr | None = None,
        provider_tokens: ProviderTokenUsers | None = None,
    ) -> None:
        self._api_tokens = api_tokens
        self._users = users
        self._provider_tokens = provider_tokens
        if provider_tokens is not None:
            service_token = None  # under ACT_AS=oauth2 the service credential acts for nobody
        self._header = impersonate_header
        self._service_token = (
            service_token.get_secret_value().encode() if service_token is not None else None
        )

    async def user_for(self, headers: Headers) -> User:
        """The user the request acts for. Raises Refused."""
        scheme, _, credential = headers.get("authorization", "").partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise self._unauthorised()
        named = headers.getlist(self._header)
        if self._provider_tokens is not None:
            return await self._provider_user(self._provider_tokens, credential, named)
        if self._is_service_credential(credential):
            return await self._impersonated(named)
        user = await self._api_tokens.user_for(credential)
        if user is None:
            raise self._unauthorised()
        if named:
            raise Refused(
                403,
                f"A personal API token acts only for its own user: it cannot be sent with "
                f"the {self._header} header.",
            )
        return user

    async def _provider_user(
        self, tokens: ProviderTokenUsers, credential: str, named: list[str]
    ) -> User:
        if named:
            raise Refused(403, ONLY_ITS_OWN)
        user = await tokens.user_for(credential)
        if user is None:
            raise self._unauthorised()
        return user

    def _is_service_credential(self, credential: str) -> bool:
        if self._service_token is None:
            return False
        return hmac.compare_digest(credential.encode(), self._service_token)

    async def _impersonated(self, named: list[str]) -> User:
        if not named:
            raise Refused(
                400,
                f"The service credential acts for a user: name them in the {self._header} header.",
            )
        if len(named) > 1:
            raise Refused(400, f"Name one user in one {self._header} header.")
        username = named[0].strip()
        user = None
        if 0 < len(username) <= MAX_USERNAME_LENGTH:
            user = await self._users.user_named(username)
        if user is None:
            shown = username[:MAX_USERNAME_LENGTH]
            raise Refused(403, f"There is no user {shown!r} to act for.")
        return user

    def _unauthorised(self) -> Refused:
        accepted = []
        if self._provider_tokens is not None:
            accepted.append(f"an access token from {self._provider_tokens.provider_name}")
        elif self._api_tokens.validity.personal_tokens:
            accepted.append("a valid personal API token")
        if self._service_token is not None:
            accepted.append("the service credential")
        wanted = " or ".join(accepted) or "a credential"
        wanted = wanted[0].upper() + wanted[1:]
        return Refused(
            401,
            f"{wanted} is required (Authorization: Bearer <token>).",
            {"WWW-Authenticate": 'Bearer realm="api"'},
        )
