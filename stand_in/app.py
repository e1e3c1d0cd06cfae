"""The stand-in internal application as the composition root builds it: its routes, and its
store to open and close in the site's lifespan."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from starlette.routing import BaseRoute

from account_binding.api_tokens import ApiTokenAuthenticator
from account_binding.clock import Clock, system_clock
from account_binding.store import Store
from account_binding.token_validity import TokenValidity

from .api import StandInApi
from .auth import BuiltInUsers, ProviderTokenUsers, RequestAuthenticator
from .store import SQLiteTodoStore
from .todos import TodoService


class StandIn:
    """The stand-in over the SQLite file `database`, whose accounts are the domain's built-in
    ones (`domain_store`). With `service_token` (INTERNAL_API_TOKEN) it also accepts that
    credential with the header `impersonate_header` naming the user (see `stand_in.auth`).
    Personal API tokens are judged by `token_validity` (API_TOKEN_TTL; under ACT_AS=service
    none is honoured); by default, by each token's stored expiry alone. With
    `provider_tokens` (ACT_AS=oauth2) it takes the provider's access tokens instead, and no
    personal token or service credential."""

    def __init__(
        self,
        database: Path,
        domain_store: Store,
        *,
        impersonate_header: str = "Impersonate-User",
        service_token: SecretStr | None = None,
        clock: Clock = system_clock,
        token_validity: TokenValidity | None = None,
        provider_tokens: ProviderTokenUsers | None = None,
    ) -> None:
        self.store = SQLiteTodoStore(database)
        self.todos = TodoService(self.store, clock)
        self.auth = RequestAuthenticator(
            ApiTokenAuthenticator(domain_store, clock, token_validity),
            BuiltInUsers(domain_store),
            impersonate_header=impersonate_header,
            service_token=service_token,
            provider_tokens=provider_tokens,
        )
        self._api = StandInApi(self.todos, self.auth)

    @property
    def routes(self) -> list[BaseRoute]:
        """Its routes, all under /api/, for the site to serve."""
        return self._api.routes

    async def open(self) -> None:
        """Open the database and apply the stand-in's migrations (making its tables).

        Raises StoreUnavailable with one line naming DATABASE and the reason.
        """
        await self.store.open()

    async def close(self) -> None:
        await self.store.close()
