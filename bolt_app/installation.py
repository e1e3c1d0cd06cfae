"""Where the app is installed, from Slack's `auth.test`, and whether a command comes from there.

A workspace install answers its own workspace only; an org-wide install on Enterprise Grid
(`is_enterprise_install` true) answers every workspace of its organisation. Slack delivers
only what belongs to the installation, so a command from elsewhere is a forged or misrouted
payload: it is refused rather than bound to an identity nobody installed the app for.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from account_binding.errors import SlackUnavailable
from account_binding.models import SlackIdentity

from .slack_calls import within

log = logging.getLogger(__name__)

CONTEXT_KEY = "account_binding_installation"

#: auth.test, when the first command needs it: the whole call, retries included, in seconds.
AUTH_TEST_DEADLINE_SECONDS = 10.0

#: A command the remembered installation does not admit makes the app ask `auth.test` again
#: (a workspace may have joined an Enterprise Grid organisation, or the app been installed
#: org-wide since), at most once in this many seconds unless the last answer was a change.
REASK_AFTER_SECONDS = 60.0


@dataclass(frozen=True)
class Installation:
    team_id: str | None
    enterprise_id: str | None
    is_enterprise_install: bool

    def admits(self, identity: SlackIdentity) -> bool:
        """True when a command from `identity`'s workspace (and organisation) is this
        installation's to answer."""
        if self.is_enterprise_install:
            return self.enterprise_id is not None and identity.enterprise_id == self.enterprise_id
        # A workspace install: its workspace, in its organisation (none outside Grid).
        return identity.team_id == self.team_id and identity.enterprise_id == self.enterprise_id

    @property
    def kind(self) -> str:
        return "organisation" if self.is_enterprise_install else "workspace"


class InstallationLookup:
    """Asks Slack once (`auth.test` with the bot token) and remembers the answer."""

    def __init__(
        self,
        client: AsyncWebClient,
        deadline_seconds: float = AUTH_TEST_DEADLINE_SECONDS,
        reask_after_seconds: float = REASK_AFTER_SECONDS,
    ) -> None:
        self._client = client
        self._deadline = deadline_seconds
        self._reask_after = reask_after_seconds
        self._installation: Installation | None = None
        #: When (time.monotonic) a re-ask last found the installation unchanged.
        self._unchanged_at: float | None = None
        self._lock = asyncio.Lock()

    async def get(self, identity: SlackIdentity | None = None) -> Installation:
        """The installation; raises SlackUnavailable when Slack does not say in time.

        With `identity` (who a command comes from) that the remembered installation does not
        admit, Slack is asked again, since installations change: a workspace that joins an
        Enterprise Grid organisation keeps its installation, now in that organisation. At
        most once in `reask_after_seconds`, unless the previous re-ask found a change.
        """
        if self._installation is not None and (
            identity is None or self._installation.admits(identity) or not self._may_reask()
        ):
            return self._installation
        async with self._lock:
            if self._installation is None:
                self._installation = await self._ask()
            elif (
                identity is not None
                and not self._installation.admits(identity)
                and self._may_reask()
            ):
                await self._reask()
            return self._installation

    def _may_reask(self) -> bool:
        return (
            self._unchanged_at is None or time.monotonic() - self._unchanged_at >= self._reask_after
        )

    async def _reask(self) -> None:
        answer = await self._ask()
        if answer == self._installation:
            self._unchanged_at = time.monotonic()
            return
        log.warning("The installation changed: was %s, now %s", self._installation, answer)
        self._installation, self._unchanged_at = answer, None

    async def _ask(self) -> Installation:
        try:
            response = await within(self._deadline, self._client.auth_test())
        except (TimeoutError, SlackApiError, SlackClientError, OSError, ValueError) as error:
            log.error("auth.test failed, so no command can be checked yet: %s", error)
            raise SlackUnavailable() from None
        team_id = response.get("team_id")
        enterprise_id = response.get("enterprise_id")
        installation = Installation(
            team_id=team_id if isinstance(team_id, str) and team_id else None,
            enterprise_id=enterprise_id
            if isinstance(enterprise_id, str) and enterprise_id
            else None,
            is_enterprise_install=response.get("is_enterprise_install") is True,
        )
        log.info(
            "Installed for the %s %s",
            installation.kind,
            installation.enterprise_id if installation.is_enterprise_install else team_id,
        )
        return installation

    # Issue 10, lifecycle: app_uninstalled and tokens_revoked arrive when the bot token may
    # already be revoked, so auth.test would fail (token_revoked, invalid_auth): their
    # listeners read what is known and never ask.

    @property
    def known(self) -> Installation | None:
        """The installation if an earlier auth.test told it; None otherwise. Never asks."""
        return self._installation


def installation_of(context: AsyncBoltContext) -> InstallationLookup:
    lookup = context[CONTEXT_KEY]
    assert isinstance(lookup, InstallationLookup)
    return lookup
