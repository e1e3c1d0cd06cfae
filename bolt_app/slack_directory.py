"""Slack users as Slack reports them, through users.info."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from account_binding.models import SlackIdentity, SlackPerson

log = logging.getLogger(__name__)


class SlackUsersDirectory:
    """Needs the users:read scope; the email needs users:read.email too."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def person(self, identity: SlackIdentity) -> SlackPerson | None:
        try:
            response = await self._client.users_info(user=identity.user_id)
        except SlackApiError as error:
            log.warning(
                "users.info for %s failed: %s", identity.user_id, error.response.get("error")
            )
            return None
        except (SlackClientError, OSError, TimeoutError) as error:
            log.warning("users.info for %s failed: %s", identity.user_id, type(error).__name__)
            return None
        user = response.get("user")
        if not isinstance(user, dict):
            return None
        profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
        assert isinstance(profile, dict)
        image = str(profile.get("image_72") or "")
        return SlackPerson(
            real_name=str(profile.get("real_name") or user.get("real_name") or ""),
            display_name=str(profile.get("display_name") or ""),
            email=str(profile["email"]) if profile.get("email") else None,
            image_url=image if image.startswith("https://") else None,
        )
