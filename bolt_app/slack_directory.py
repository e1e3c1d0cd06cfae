"""Slack users as Slack reports them, through users.info."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from account_binding.errors import SlackUnavailable
from account_binding.models import SlackIdentity, SlackPerson
from account_binding.text import display_name, first_display_name, slack_image_url
from monitoring.metrics import Metrics

from .slack_calls import request_timeout, retry_handlers, within

log = logging.getLogger(__name__)

#: The users.info errors with which Slack says "there is no such user this app may read"
#: (https://api.slack.com/methods/users.info: `user_not_found`, "value passed for user was
#: invalid"; `user_not_visible`, "the requesting user is not allowed to see the requested
#: user"). Only these mean "no readable profile"; every other error is the app's or Slack's
#: fault (a revoked token, a missing scope, an outage) and must never pass for a person
#: without a profile, which REQUIRE_EMAIL_MATCH would refuse.
NO_SUCH_USER_ERRORS = frozenset({"user_not_found", "user_not_visible"})

#: Errors with which Slack says "not now" rather than "no": worth trying again later.
TEMPORARY_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "fatal_error",
        "internal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
    }
)

#: users.info on a page someone is looking at: the whole call, retries included, in seconds.
DEFAULT_DEADLINE_SECONDS = 2.0


class SlackUsersDirectory:
    """Looks Slack users up with users.info, within a total deadline.

    Needs the users:read scope; the email needs users:read.email too. It calls Slack through
    its own client, built from `client`'s token and base URL, that retries only a dropped
    connection or a timeout, within the deadline (bolt_app.slack_calls), never a rate limit
    or a 5xx: Slack's `Retry-After` can be many seconds, and a person is waiting for the
    page, which uses what the link knows instead. Background work (the DMs) goes on using
    `client`, which retries those too. Each failed attempt is counted in `metrics`.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self._deadline = deadline_seconds
        self._metrics = metrics
        self._client = AsyncWebClient(
            token=client.token,
            base_url=client.base_url,
            timeout=min(client.timeout, request_timeout(deadline_seconds)),
            ssl=client.ssl,
            proxy=client.proxy,
            headers=dict(client.headers),
            retry_handlers=retry_handlers(metrics, rate_limits=False, server_errors=False),
        )

    async def person(self, identity: SlackIdentity) -> SlackPerson | None:
        """The person as Slack reports them now, their names cleaned for display and their
        picture kept only when Slack serves it; None only when Slack says there is no such
        user this app may read (NO_SUCH_USER_ERRORS).

        Raises SlackUnavailable for every other failure, logging Slack's error name: no
        answer within the deadline, HTTP 429 or 5xx, a temporary error (TEMPORARY_ERRORS,
        logged as a warning), an error the administrator must fix (`invalid_auth`,
        `token_revoked`, `missing_scope`, `account_inactive` and any other, logged as an
        error), an answer without a `user` object, or a network failure.
        """
        user_id = identity.user_id
        try:
            response = await within(
                self._deadline,
                self._client.users_info(user=user_id),
                metrics=self._metrics,
                method="users.info",
            )
        except TimeoutError:
            log.warning("users.info for %s did not answer within %ss", user_id, self._deadline)
            raise SlackUnavailable() from None
        except SlackApiError as error:
            status = error.response.status_code
            code = error.response.get("error")
            if code in NO_SUCH_USER_ERRORS and status < 500:
                log.info("users.info for %s: Slack has no readable user (%s)", user_id, code)
                return None
            if status == 429 or status >= 500 or code in TEMPORARY_ERRORS:
                log.warning("users.info for %s failed for now: HTTP %s %s", user_id, status, code)
                raise SlackUnavailable() from None
            log.error(
                "users.info for %s failed with Slack error %r (HTTP %s): the app cannot read "
                "Slack profiles until this is fixed (check the bot token and its scopes, "
                "users:read and users:read.email)",
                user_id,
                code,
                status,
            )
            raise SlackUnavailable() from None
        except (SlackClientError, OSError, ValueError) as error:
            log.warning("users.info for %s failed: %s", user_id, type(error).__name__)
            raise SlackUnavailable() from None
        user = response.get("user")
        if not isinstance(user, dict):
            log.error("users.info for %s answered without a user object", user_id)
            raise SlackUnavailable()
        return person_of(user)


def person_of(user: dict[str, Any]) -> SlackPerson:
    """A users.info `user` object as a SlackPerson, every self-chosen field cleaned."""
    profile = user.get("profile")
    if not isinstance(profile, dict):
        profile = {}
    email = profile.get("email")
    return SlackPerson(
        real_name=first_display_name(profile.get("real_name"), user.get("real_name")),
        display_name=display_name(profile.get("display_name")),
        email=email if isinstance(email, str) and email else None,
        image_url=slack_image_url(profile.get("image_72")),
    )
