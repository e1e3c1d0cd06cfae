"""Scope and event names as Slack documents them, for the manifest tests: Slack's JSON Schema
for manifests checks neither (any string of 50 characters passes), so a misspelt scope or
event would reach Slack unnoticed.

Each entry is copied from its page of Slack's reference (docs.slack.dev/reference/scopes/…
and /reference/events/…, read 2026-11-29): the token types a scope is granted to, and the
scopes an event requires. Add a scope or event here from its page before the manifest asks
for it.
"""

from __future__ import annotations

from dataclasses import dataclass

DOCS = "https://docs.slack.dev/reference"


@dataclass(frozen=True)
class Scope:
    url: str
    #: The token types the page lists ("bot", "user").
    token_types: frozenset[str]
    #: Scopes the page says must be requested with it.
    requested_with: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Event:
    url: str
    #: The page's "Required scopes" (none: an empty set).
    required_scopes: frozenset[str]


SCOPES = {
    # "Add shortcuts and/or slash commands that people can use"
    "commands": Scope(f"{DOCS}/scopes/commands", frozenset({"bot"})),
    # "Send messages as @your_slack_app" (chat.postMessage)
    "chat:write": Scope(f"{DOCS}/scopes/chat.write", frozenset({"bot", "user"})),
    # "View people in a workspace" (users.info)
    "users:read": Scope(f"{DOCS}/scopes/users.read", frozenset({"bot", "user"})),
    # "View email addresses of people in a workspace"; "This scope must be requested at the
    # same time as users:read."
    "users:read.email": Scope(
        f"{DOCS}/scopes/users.read.email",
        frozenset({"bot", "user"}),
        requested_with=frozenset({"users:read"}),
    ),
    # Sign in with Slack (OpenID Connect): "View information about a user's identity"
    "openid": Scope(f"{DOCS}/scopes/openid", frozenset({"user"})),
}

EVENTS = {
    # "User clicked into your App Home"; no scopes required
    "app_home_opened": Event(f"{DOCS}/events/app_home_opened", frozenset()),
    # "Your Slack app was uninstalled"; Events API only; no scopes required
    "app_uninstalled": Event(f"{DOCS}/events/app_uninstalled", frozenset()),
    # "API tokens for your app were revoked"; no scopes required
    "tokens_revoked": Event(f"{DOCS}/events/tokens_revoked", frozenset()),
    # "A member's data has changed"; requires users:read
    "user_change": Event(f"{DOCS}/events/user_change", frozenset({"users:read"})),
}
