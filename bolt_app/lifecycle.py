"""The Slack side of bindings' lifecycle (`account_binding.lifecycle`): what the event
listeners need, what Slack's payloads say went away, and the answer to a person whose binding
an administrator ended.

Payloads, as Slack documents them (Events API, the `event_callback` wrapper):

- `app_uninstalled` (https://docs.slack.dev/reference/events/app_uninstalled) and
  `tokens_revoked` (https://docs.slack.dev/reference/events/tokens_revoked, whose
  `event.tokens` lists the user IDs of revoked `oauth` and `bot` tokens) name the workspace in
  the wrapper's `team_id` (and `enterprise_id` on Enterprise Grid); `authorizations[0]` says
  whether the installation is org-wide (`is_enterprise_install`), whose `team_id` may then be
  null or the organisation's ID.
- `user_change` (https://docs.slack.dev/reference/events/user_change) carries the whole user
  object: `id`, `team_id`, `deleted` (true once deactivated or deleted) and, on Enterprise
  Grid, `enterprise_user` with `id` and `enterprise_id`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from account_binding.lifecycle import Lifecycle
from account_binding.models import SlackIdentity
from account_binding.store import SlackSelection

from . import messages
from .command_payload import CommandRequest
from .installation import Installation
from .messages import Reply


@dataclass(frozen=True)
class SlackLifecycle:
    """What the lifecycle's listeners and the command need."""

    lifecycle: Lifecycle


async def ended_binding_reply(
    lifecycle: SlackLifecycle,
    request: CommandRequest,
    app_name: str,
    triggers: tuple[str, ...],
) -> Reply | None:
    """For a command from a person not bound: why their binding ended, when an administrator
    ended it (they are told that instead of being sent a new link), with the ways to connect
    another account that BINDING_TRIGGERS (`triggers`) enables; None otherwise."""
    ended = await lifecycle.lifecycle.ended_binding(request.identity)
    if ended is None:
        return None
    return messages.binding_ended_reply(
        app_name, request.command, ended.username, ended.reason, triggers
    )


def event_id_of(body: dict[str, Any]) -> str | None:
    """The delivery's `event_id` (what Slack keeps across retries), or None."""
    event_id = body.get("event_id")
    return event_id if isinstance(event_id, str) and 0 < len(event_id) <= 64 else None


def installation_of_event(
    body: dict[str, Any], known: Installation | None = None
) -> SlackSelection | None:
    """The workspace, or the organisation for an org-wide install, that an `app_uninstalled`
    or `tokens_revoked` delivery is about; None when the payload names neither.

    Org-wide when `authorizations[0].is_enterprise_install` (or the wrapper's) is true, when
    the wrapper's `team_id` is the organisation's ID, or when the installation `known` from an
    earlier auth.test is that organisation's org-wide install.
    """
    auths = body.get("authorizations")
    first = auths[0] if isinstance(auths, list) and auths and isinstance(auths[0], dict) else {}
    enterprise_id = _id(body.get("enterprise_id")) or _id(first.get("enterprise_id"))
    team_id = _id(body.get("team_id")) or _id(first.get("team_id"))
    org_wide = (
        first.get("is_enterprise_install") is True
        or body.get("is_enterprise_install") is True
        or (enterprise_id is not None and team_id == enterprise_id)
        or (
            known is not None
            and known.is_enterprise_install
            and known.enterprise_id is not None
            and known.enterprise_id == enterprise_id
        )
    )
    if org_wide and enterprise_id is not None:
        return SlackSelection.organisation(enterprise_id)
    if team_id is not None:
        return SlackSelection.workspace(team_id)
    return None


def delivered_to(body: dict[str, Any], installation: Installation) -> bool:
    """Whether an Events API delivery is for `installation`: its wrapper (or its first
    authorization) names the installation's organisation, for an org-wide install, or its
    workspace for a workspace install (whatever organisation it names: a workspace that
    joined one since auth.test answered keeps its ID). A delivery for another installation
    changes nothing here, as a command from outside it does nothing."""
    auths = body.get("authorizations")
    first = auths[0] if isinstance(auths, list) and auths and isinstance(auths[0], dict) else {}
    enterprise_id = _id(body.get("enterprise_id")) or _id(first.get("enterprise_id"))
    team_id = _id(body.get("team_id")) or _id(first.get("team_id"))
    if installation.is_enterprise_install:
        return enterprise_id is not None and enterprise_id == installation.enterprise_id
    return team_id is not None and team_id == installation.team_id


def bot_token_revoked(event: dict[str, Any]) -> bool:
    """Whether a `tokens_revoked` event names a bot token: the app has one bot user per
    workspace, so that is the app's own token there. Revoked user (`oauth`) tokens alone
    change nothing here: the app keeps none."""
    tokens = event.get("tokens")
    bots = tokens.get("bot") if isinstance(tokens, dict) else None
    return isinstance(bots, list) and any(isinstance(b, str) and b for b in bots)


def deleted_user(body: dict[str, Any]) -> list[SlackIdentity]:
    """The identities of a `user_change` event's user when Slack says they were deactivated
    or deleted (`user.deleted` true); [] for any other change. Keyed as commands key them: on
    the organisation on Enterprise Grid (`user.enterprise_user.enterprise_id`, else the
    wrapper's `enterprise_id`), else on `user.team_id` (else the wrapper's `team_id`); on Grid
    also on the workspace, as bindings made before it joined the organisation are keyed until
    settled. Both the user's `id` and their `enterprise_user.id` when they differ."""
    event = body.get("event")
    user = event.get("user") if isinstance(event, dict) else None
    if not isinstance(user, dict) or user.get("deleted") is not True:
        return []
    grid = user.get("enterprise_user")
    grid = grid if isinstance(grid, dict) else {}
    team_id = _id(user.get("team_id")) or _id(body.get("team_id"))
    enterprise_id = _id(grid.get("enterprise_id")) or _id(body.get("enterprise_id"))
    if team_id is None and enterprise_id is None:
        return []
    ids = [i for i in (_id(user.get("id")), _id(grid.get("id"))) if i is not None]
    identities = [
        SlackIdentity.from_ids(
            team_id=team_id or enterprise_id or "", user_id=user_id, enterprise_id=enterprise_id
        )
        for user_id in dict.fromkeys(ids)
    ]
    if enterprise_id is not None and team_id is not None:
        # Bound before their workspace joined the organisation, and not settled since (they
        # ran no command there): still keyed on the workspace (bolt_app.identity_settling).
        identities += [
            SlackIdentity.from_ids(team_id=team_id, user_id=user_id, enterprise_id=None)
            for user_id in dict.fromkeys(ids)
        ]
    return identities


def _id(value: object) -> str | None:
    """A Slack ID as sent (letters and digits), or None for anything else."""
    if isinstance(value, str) and 0 < len(value) <= 32 and value.isascii() and value.isalnum():
        return value
    return None
