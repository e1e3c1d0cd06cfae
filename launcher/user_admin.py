"""`account-binding user disable|enable|remove NAME`: an administrator ends an internal
account's access (`account_binding.lifecycle`), audited with the client "cli".

- `disable`: the account keeps its row but cannot log in (whatever AUTH is) nor be bound to;
  its bindings are removed (personal tokens revoked, OAuth grants revoked at the provider), its
  sessions ended. Each Slack person who was bound to it is told at their next command, and
  by DM: the removal's own transaction writes the DM to the outbox (issue 11), which this
  command sends at once when the Slack tokens are set here (it runs apart from the app), and
  the running app sends otherwise, or later if Slack does not take it now.
- `enable`: it may log in and be bound to again; no binding comes back.
- `remove`: the account and everything keyed on it are deleted; the audit log stays. Asks for
  the user name to be typed at a terminal, unless `--yes`; refuses without a terminal. Not
  typed: "Nothing removed", exit status 1, as a declined `binding remove`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from account_binding.accounts import normalise_username
from account_binding.audit import Actor, AuditLog
from account_binding.crypto import TokenCipher
from account_binding.errors import DomainError
from account_binding.lifecycle import Lifecycle
from account_binding.settings import Settings
from account_binding.sqlite_store import SQLiteStore
from account_binding.store import EndedUser
from bolt_app.app import build_web_client
from bolt_app.outbox_sender import OUTBOX_ATTEMPT_SECONDS

from .compose import lifecycle_of, oauth2_grants, open_store, outbox_sender

CLI = Actor(client="cli")
ACTIONS = ("disable", "enable", "remove")


def add_commands(user_commands: Any) -> None:
    """Add `disable`, `enable` and `remove` to the `user` command's subparsers."""
    disable = user_commands.add_parser(
        "disable",
        help="disable an account: it cannot log in or be connected to, loses its Slack "
        "bindings (tokens revoked) and sessions; audited",
    )
    disable.add_argument("name")
    enable = user_commands.add_parser(
        "enable", help="let a disabled account log in and be connected to again; audited"
    )
    enable.add_argument("name")
    remove = user_commands.add_parser(
        "remove",
        help="delete an account and everything keyed on it (bindings, tokens, sessions, its "
        "data); the audit log stays; asks first",
    )
    remove.add_argument("name")
    remove.add_argument(
        "--yes", action="store_true", help="do not ask (needed when not at a terminal)"
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run `user disable|enable|remove`; the exit status. Raises DomainError (NoSuchUser,
    a refused confirmation) for the CLI to print as one line."""
    name = normalise_username(args.name)
    if args.user_command == "remove" and not args.yes:
        bindings = asyncio.run(_count_bindings(settings, name))
        _confirm_removal(name, bindings)
    return asyncio.run(_act(settings, args.user_command, name))


async def _count_bindings(settings: Settings, name: str) -> int:
    store = await open_store(settings, create=False)
    try:
        lifecycle = Lifecycle(store, AuditLog(store))
        return len(await lifecycle.bindings_of(await lifecycle.user_named(name)))
    finally:
        await store.close()


def _confirm_removal(name: str, bindings: int) -> None:
    """Ask for the user name at a terminal; anything else refuses (DomainError)."""
    if not sys.stdin.isatty():
        raise DomainError(
            f"`user remove {name}` deletes the account for good: run it at a terminal to "
            "confirm, or add --yes"
        )
    print(
        f"This deletes the account {name!r} for good: its {bindings} Slack binding(s), its "
        "tokens, sessions and data. The audit log keeps its entries.",
        file=sys.stderr,
    )
    try:
        typed = input(f"Type {name} to remove it: ")
    except EOFError:
        typed = ""
    if normalise_username(typed) != name:
        raise DomainError(f"Nothing removed: {name!r} was not typed.")


async def _act(settings: Settings, action: str, name: str) -> int:
    store = await open_store(settings, create=False)
    try:
        cipher = TokenCipher(settings.secret_key())
        oauth2 = oauth2_grants(settings, store, cipher)  # ACT_AS=oauth2: revoked there
        lifecycle = lifecycle_of(settings, store, AuditLog(store), oauth2, None)
        if action == "enable":
            if await lifecycle.enable_user(name, CLI):
                print(f"Enabled {name}: they may log in and connect Slack again.")
            else:
                print(f"{name} was not disabled; nothing changed.")
            return 0
        if action == "disable":
            ended = await lifecycle.disable_user(name, CLI)
            if ended.user.disabled_at is not None:
                print(f"{name} was already disabled.")
                return 0
            print(f"Disabled {name}: {_what_went(ended, await _tell(settings, store))}")
            return 0
        ended = await lifecycle.remove_user(name, CLI)
        told = await _tell(settings, store)
        print(f"Removed {name} and everything keyed on it: {_what_went(ended, told)}")
        return 0
    finally:
        await store.close()


def _what_went(ended: EndedUser, told: bool | None) -> str:
    """`told`: whether every DM waiting in the outbox went now; None: no Slack tokens here."""
    count = len(ended.removed)
    if not count:
        return "no Slack account was connected to it; its sessions ended."
    if told is None:
        said = (
            "No Slack tokens are set here, so the running app sends each a DM; each is also "
            "told at their next command."
        )
    elif told:
        said = "Each was sent a DM."
    else:
        said = (
            "Slack did not take every DM now (see the log above: the running app tries "
            "again those that may still go); each is also told at their next command."
        )
    return (
        f"{count} Slack account(s) disconnected and their tokens revoked; its sessions ended. "
        + said
    )


#: How long this command spends sending the outbox's DMs (seconds).
TELL_SECONDS = OUTBOX_ATTEMPT_SECONDS + 5


async def _tell(settings: Settings, store: SQLiteStore) -> bool | None:
    """Send the DMs waiting in the outbox now (those the command just wrote among them),
    through the app's bot token at SLACK_API_URL; whether none is left waiting. None without
    Slack tokens (the sandbox's fake Slack lives in the app's process, out of this
    command's reach): the running app sends them."""
    if not settings.has_slack_tokens or settings.slack_bot_token is None:
        return None
    client = build_web_client(
        settings.slack_bot_token.get_secret_value(),
        settings.slack_api_url,
        timeout_seconds=settings.slack_api_timeout,
    )
    try:
        sent = await asyncio.wait_for(
            outbox_sender(settings, store, client).send_due(), TELL_SECONDS
        )
    except TimeoutError:
        return False
    return all(outcome == "sent" for _, outcome in sent)
