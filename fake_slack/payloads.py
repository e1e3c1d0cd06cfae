"""What Slack sends an app, built the way Slack builds it: Events API wrappers and events,
and interaction payloads (block_actions, global shortcuts).

Shapes follow Slack's reference pages:
- the event wrapper: https://docs.slack.dev/apis/events-api/#callback-field
- events: https://docs.slack.dev/reference/events/app_home_opened, .../user_change,
  .../app_uninstalled, .../tokens_revoked
- interactions: https://docs.slack.dev/reference/interaction-payloads/block_actions-payload
  and https://docs.slack.dev/reference/interaction-payloads/shortcuts-interaction-payload

Everything here is a pure function of the workspace and its arguments; the server decides
what is live (response_urls, views).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import string
import time
from collections.abc import Iterator
from typing import Any

from .workspace import FakeUser, FakeWorkspace

JSON = dict[str, Any]

VERIFICATION_TOKEN = "deprecated-verification-token"  # noqa: S105 - Slack's deprecated field
_ID_ALPHABET = string.ascii_uppercase + string.digits


def slack_id(prefix: str, length: int = 10) -> str:
    """A Slack-shaped ID: `prefix` then upper-case letters and digits (Ev…, V…)."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def trigger_id() -> str:
    """Shaped like Slack's: <seconds>.<number>.<32 hex digits>."""
    return f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"


def event_ts() -> str:
    """Slack's timestamps: seconds, a dot, six digits."""
    now = time.time()
    return f"{int(now)}.{int(now * 1_000_000) % 1_000_000:06d}"


def enterprise_object(ws: FakeWorkspace) -> JSON | None:
    """An interaction's `enterprise`: null outside Enterprise Grid."""
    if not ws.enterprise_id:
        return None
    return {"id": ws.enterprise_id, "name": ws.enterprise_name or ws.enterprise_id}


# Events API


def event_callback(ws: FakeWorkspace, event: JSON, *, event_id: str | None = None) -> JSON:
    """The `event_callback` wrapper Slack puts around `event`, with one authorization (the
    app's bot in this install). On Enterprise Grid it names the organisation; an org-wide
    install has no `team_id` in its authorization."""
    org_install = bool(ws.is_enterprise_install and ws.enterprise_id)
    context = {"e": ws.enterprise_id, "t": ws.team_id, "a": ws.app_id, "r": secrets.token_hex(4)}
    payload: JSON = {
        "token": VERIFICATION_TOKEN,
        "team_id": ws.team_id,
        "api_app_id": ws.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or slack_id("Ev"),
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": ws.enterprise_id,
                "team_id": None if org_install else ws.team_id,
                "user_id": ws.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": org_install,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + base64.urlsafe_b64encode(json.dumps(context).encode()).decode(),
        "context_team_id": ws.team_id,
        "context_enterprise_id": ws.enterprise_id,
    }
    if ws.enterprise_id:
        payload["enterprise_id"] = ws.enterprise_id
    return payload


def app_home_opened(ws: FakeWorkspace, user_id: str, tab: str, view: JSON | None) -> JSON:
    """`app_home_opened`: `view` (the Home tab as last published) only when the Home tab is
    opened and a view was published for this person before."""
    event: JSON = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": ws.dm_channel(user_id),
        "tab": tab,
        "event_ts": event_ts(),
    }
    if tab == "home" and view is not None:
        event["view"] = view
    return event


def user_change(ws: FakeWorkspace, user: FakeUser) -> JSON:
    """`user_change`: the full user object, as `users.info` gives it."""
    ts = event_ts()
    return {
        "type": "user_change",
        "user": user.as_api_object(ws.team_id, ws.enterprise_id, ws.enterprise_name),
        "cache_ts": int(float(ts)),
        "event_ts": ts,
    }


def app_uninstalled() -> JSON:
    return {"type": "app_uninstalled", "event_ts": event_ts()}


def tokens_revoked(ws: FakeWorkspace, *, bot: bool, oauth_user_ids: tuple[str, ...]) -> JSON:
    """`tokens_revoked`: user IDs keyed by token kind (never the tokens themselves)."""
    return {
        "type": "tokens_revoked",
        "tokens": {"oauth": list(oauth_user_ids), "bot": [ws.bot_user_id] if bot else []},
        "event_ts": event_ts(),
    }


# Interactions


def interaction_user(ws: FakeWorkspace, user_id: str) -> JSON:
    user = ws.user(user_id)
    name = user.name if user else user_id.lower()
    return {"id": user_id, "username": name, "name": name, "team_id": ws.team_id}


def team_object(ws: FakeWorkspace) -> JSON:
    return {"id": ws.team_id, "domain": ws.team_domain}


def interactive_elements(blocks: list[Any]) -> Iterator[tuple[str, JSON]]:
    """Every interactive element of `blocks` with its block's ID: the elements of `actions`
    blocks and `section` accessories. A block without a `block_id` gets the one Slack would
    generate for it (stable for the same block)."""
    for index, block in enumerate(blocks):
        if not isinstance(block, dict):
            continue
        block_id = block.get("block_id")
        if not isinstance(block_id, str) or not block_id:
            digest = hashlib.sha256(json.dumps([index, block], sort_keys=True).encode())
            block_id = base64.b64encode(digest.digest())[:5].decode()
        elements: list[Any] = []
        if block.get("type") == "actions":
            elements = list(block.get("elements") or [])
        elif block.get("type") == "section" and isinstance(block.get("accessory"), dict):
            elements = [block["accessory"]]
        for element in elements:
            if isinstance(element, dict) and element.get("action_id"):
                yield block_id, element


def find_element(blocks: list[Any], action_id: str, *, confirmed: bool, where: str) -> JSON:
    """The action a person's click on the element `action_id` of `blocks` produces.

    Raises ValueError when there is no such element, or when it carries a `confirm` object
    and `confirmed` is false (Slack shows the dialog and sends nothing until it is
    confirmed)."""
    for block_id, element in interactive_elements(blocks):
        if element["action_id"] != action_id:
            continue
        if isinstance(element.get("confirm"), dict) and not confirmed:
            raise ValueError(
                f"the element {action_id!r} in {where} asks for confirmation first "
                f"({element['confirm'].get('text', {}).get('text', '')!r}): "
                "pass confirmed=True to click through the dialog"
            )
        return element_action(block_id, element)
    found = [element["action_id"] for _, element in interactive_elements(blocks)]
    raise ValueError(f"no element with action_id {action_id!r} in {where} (it has {found})")


def element_action(block_id: str, element: JSON) -> JSON:
    """One entry of a block_actions payload's `actions` for `element`."""
    action: JSON = {
        "action_id": element["action_id"],
        "block_id": block_id,
        "type": element.get("type", "button"),
        "action_ts": event_ts(),
    }
    if element.get("type", "button") == "button":
        action["text"] = element.get("text")
        for key in ("value", "style"):
            if key in element:
                action[key] = element[key]
    elif element.get("type") in ("static_select", "overflow", "radio_buttons"):
        options = element.get("options") or []
        chosen = element.get("initial_option") or (options[0] if options else None)
        action["selected_option"] = chosen
        if element.get("placeholder") is not None:
            action["placeholder"] = element["placeholder"]
    return action


def block_actions(
    ws: FakeWorkspace,
    user_id: str,
    action: JSON,
    *,
    container: JSON,
    extra: JSON,
) -> JSON:
    """A block_actions payload: `container` says where the element was (a message or a
    view); `extra` adds the surface's own fields (channel, message, response_url or view)."""
    return {
        "type": "block_actions",
        "user": interaction_user(ws, user_id),
        "api_app_id": ws.app_id,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger_id(),
        "team": team_object(ws),
        "enterprise": enterprise_object(ws),
        "is_enterprise_install": bool(ws.is_enterprise_install and ws.enterprise_id),
        **extra,
        "actions": [action],
    }


def global_shortcut(ws: FakeWorkspace, user_id: str, callback_id: str) -> JSON:
    """A global shortcut: no channel, no message, no response_url."""
    user = ws.user(user_id)
    team = team_object(ws)
    if ws.enterprise_id:
        team["enterprise_id"] = ws.enterprise_id
        team["enterprise_name"] = ws.enterprise_name or ws.enterprise_id
    return {
        "type": "shortcut",
        "token": VERIFICATION_TOKEN,
        "action_ts": event_ts(),
        "team": team,
        "user": {
            "id": user_id,
            "username": user.name if user else user_id.lower(),
            "team_id": ws.team_id,
        },
        "is_enterprise_install": bool(ws.is_enterprise_install and ws.enterprise_id),
        "enterprise": enterprise_object(ws),
        "callback_id": callback_id,
        "trigger_id": trigger_id(),
    }
