"""The administrator's commands: `binding list`, `binding remove`, `user set-password` and
`manifest` (and `unbind`, the old name of `binding remove --slack-user`).

`launcher.cli` builds the parser with `add_commands` and hands these commands to `run`.
Errors are `DomainError`s, which the CLI prints as one line with exit status 1; a usage
mistake (flags that do not go together: `usage_mistake`) exits 2 through argparse. A binding
is named by its public ID (`Binding.public_id`, 32 hex digits, never reused), not by the
database's row number, which SQLite may give again to a newer binding. Every change is
audited with the client "cli".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from account_binding.accounts import AccountService, normalise_username
from account_binding.administration import (
    Administration,
    NoBindingMatches,
    NoSuchUser,
    Selection,
)
from account_binding.audit import Actor, AuditLog
from account_binding.binding import BindingPolicy, BindingService, is_public_id
from account_binding.crypto import TokenCipher
from account_binding.errors import DomainError
from account_binding.models import SlackIdentity, SlackPerson
from account_binding.outbox import NoticeKind
from account_binding.settings import Settings
from account_binding.sqlite_store import SQLiteStore
from account_binding.store import BindingFilter, ListedBinding
from bolt_app.app import build_web_client
from bolt_app.home_tab import HomeTab
from bolt_app.outbox_sender import OUTBOX_ATTEMPT_SECONDS, OutboxSender, Outcome

from .compose import command_table, home_content, oauth2_grants, open_store, outbox_sender
from .manifest import manifest_warnings, manifest_yaml

#: The audit log's client for every change made here.
CLIENT = "cli"
#: Seconds the command spends sending the outbox's DMs (one attempt each, Slack's rate-limit
#: retries included); those not sent by then wait in the outbox for the running app.
DM_SECONDS = OUTBOX_ATTEMPT_SECONDS + 5
#: A Slack team, organisation or user ID, as Slack writes them.
SLACK_ID = re.compile(r"[A-Z0-9]{1,32}")
#: A Slack workspace (team, T…) or Enterprise Grid organisation (E…) ID.
WORKSPACE_ID = re.compile(r"[TE][A-Z0-9]{1,31}")
#: Longest Slack-supplied name the table shows, in characters.
NAME_WIDTH = 40

JSON_KEYS = (
    "id",
    "username",
    "slack_user_id",
    "team_id",
    "enterprise_id",
    "workspace_name",
    "slack_name",
    "bound_at",
    "last_used_at",
    "credential",
)


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    user_commands: argparse._SubParsersAction[argparse.ArgumentParser],
    since: Callable[[str], int],
) -> None:
    """`binding list|remove` and `manifest` under `commands`, `set-password` under `user`;
    `since` parses --since as `audit` does."""
    set_password = user_commands.add_parser(
        "set-password",
        help="set a built-in account's password and end its sessions; read from a prompt, "
        "or from stdin",
    )
    set_password.add_argument("name")

    binding = commands.add_parser("binding", help="list or remove bindings")
    actions = binding.add_subparsers(dest="binding_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list the bindings, oldest first")
    listing.set_defaults(usage_parser=listing)
    listing.add_argument("--user", metavar="NAME", help="only this internal user's")
    listing.add_argument(
        "--slack-user",
        type=_slack_user,
        metavar="ID",
        help="only this Slack user's: a user ID such as U0ADA, or WORKSPACE/USER",
    )
    listing.add_argument(
        "--workspace",
        type=_slack_id,
        metavar="ID",
        help="only those in this workspace or Enterprise Grid organisation (T… or E…)",
    )
    listing.add_argument(
        "--since",
        type=since,
        metavar="WHEN",
        help="only those made since: an ISO date or time (UTC), or a duration ago such as 7d",
    )
    listing.add_argument(
        "--json", action="store_true", help=f"print a JSON array of objects: {', '.join(JSON_KEYS)}"
    )

    remove = actions.add_parser(
        "remove",
        help="remove bindings as unlink does: credentials revoked, audited, the Slack person "
        "told by DM when Slack tokens are set",
    )
    remove.set_defaults(usage_parser=remove)
    which = remove.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--id",
        type=_binding_id,
        metavar="ID",
        help="the binding with this ID, as `binding list` shows it (32 hex digits)",
    )
    which.add_argument(
        "--slack-user",
        type=_slack_user,
        metavar="ID",
        help="this Slack user's binding: a user ID such as U0ADA, or WORKSPACE/USER",
    )
    which.add_argument("--user", metavar="NAME", help="every binding of this internal user")
    remove.add_argument(
        "--workspace",
        type=_slack_id,
        metavar="ID",
        help="with --slack-user: the workspace or organisation, when the ID is bound in several",
    )
    remove.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    commands.add_parser(
        "manifest",
        help="print the Slack app manifest (manifest.yml) that matches the settings",
    )


def needs_password(args: argparse.Namespace) -> bool:
    """Whether the command reads a password first (`user set-password`)."""
    return bool(args.command == "user" and args.user_command == "set-password")


def handles(args: argparse.Namespace) -> bool:
    """Whether `run` runs this command line (`manifest` runs through `print_manifest`)."""
    return args.command == "binding" or needs_password(args)


def usage_mistake(args: argparse.Namespace) -> str | None:
    """What is wrong with a `binding` command line whose flags do not go together (the CLI
    hands it to `args.usage_parser.error`, exit status 2), else None."""
    if args.command != "binding":
        return None
    slack_user: SlackUserArgument | None = args.slack_user
    if args.binding_command == "remove" and args.workspace is not None and slack_user is None:
        return "--workspace goes with --slack-user"
    if (
        slack_user is not None
        and slack_user.workspace is not None
        and args.workspace is not None
        and args.workspace != slack_user.workspace
    ):
        return f"--slack-user says {slack_user.workspace}, --workspace {args.workspace}"
    return None


def print_manifest(settings: Settings) -> int:
    """`manifest`: the manifest on stdout, and on stderr only warnings (`manifest_warnings`,
    each one line); exit status 0."""
    sys.stdout.write(manifest_yaml(settings, command_table(settings)))
    for warning in manifest_warnings(settings):
        print(f"account-binding: warning: {warning}", file=sys.stderr)
    return 0


def run(settings: Settings, args: argparse.Namespace, password: str | None = None) -> int:
    """Run the command; its exit status. `password` (for set-password) was read already,
    before any event loop, as `user add` reads it. Raises DomainError for a refusal."""
    if needs_password(args):
        assert password is not None
        user = asyncio.run(_set_password(settings, args.name, password))
        print(f"Set the password of {user} and ended their sessions.")
        return 0
    if args.binding_command == "list":
        return asyncio.run(_list(settings, args))
    if args.id is not None:
        return remove(settings, args.id, yes=args.yes)
    slack_user_id, workspace = _slack_user_in(args)
    selection = Selection(slack_user_id=slack_user_id, workspace=workspace, username=args.user)
    return remove(settings, selection, yes=args.yes)


def remove(settings: Settings, selection: Selection | str, *, yes: bool) -> int:
    """`binding remove`: show what `selection` names (a Selection, or a binding's public ID),
    ask unless `yes`, remove, tell. Declined: "Nothing removed." and exit status 1."""
    chosen = asyncio.run(_select(settings, selection))
    print(_table(chosen))
    if not yes and not _confirm(
        f"Remove {'this binding' if len(chosen) == 1 else f'these {len(chosen)} bindings'}?"
    ):
        print("account-binding: Nothing removed.", file=sys.stderr)
        return 1
    told = asyncio.run(_remove(settings, chosen))
    for row in chosen:
        where = f"{row.binding.identity.scope_id}/{row.binding.identity.user_id}"
        if row.binding.id not in told:
            print(f"Binding {_public(row)} of {where} was already gone.")
            continue
        print(
            f"Removed binding {_public(row)} of {where}, bound to {row.username}, and revoked "
            f"its credentials. {told[row.binding.id]}"
        )
    return 0 if told else 1


def unbind(settings: Settings, identity: SlackIdentity) -> int:
    """`unbind WORKSPACE/USER`, the old name of `binding remove --slack-user USER --workspace
    WORKSPACE --yes`: the same removal, and the lines the old command printed."""
    print(
        "account-binding: `unbind` is deprecated; use `binding remove --slack-user "
        f"{identity.user_id} --workspace {identity.scope_id}`",
        file=sys.stderr,
    )
    try:
        chosen = asyncio.run(
            _select(
                settings,
                Selection(slack_user_id=identity.user_id, workspace=identity.scope_id),
            )
        )
    except NoBindingMatches:
        print(
            f"account-binding: No binding for {identity.scope_id}/{identity.user_id}.",
            file=sys.stderr,
        )
        return 1
    told = asyncio.run(_remove(settings, chosen))
    if not told:
        print(
            f"account-binding: No binding for {identity.scope_id}/{identity.user_id}.",
            file=sys.stderr,
        )
        return 1
    print(
        f"Removed the binding of {identity.scope_id}/{identity.user_id} and revoked its token. "
        + " ".join(told.values())
    )
    return 0


# The work, each in one event loop with the store open


class _NoDirectory:
    """Removing asks Slack nothing."""

    async def person(self, identity: SlackIdentity) -> SlackPerson | None:
        return None


def _administration(
    settings: Settings, store: SQLiteStore, bindings: BindingService | None = None
) -> Administration:
    """The administration; it removes bindings only with `bindings` (`_binding_service`)."""
    audit = AuditLog(store)
    return Administration(store, AccountService(store, audit=audit), audit, bindings)


def _binding_service(settings: Settings, store: SQLiteStore) -> BindingService:
    """What removal needs: SECRET_KEY (made if missing, as `run` makes it) and, under
    ACT_AS=oauth2, the provider to revoke grants at."""
    cipher = TokenCipher(settings.secret_key())
    oauth2 = oauth2_grants(settings, store, cipher)
    return BindingService(
        store,
        cipher,
        AuditLog(store),
        _NoDirectory(),
        BindingPolicy(),
        grants=oauth2.grants if oauth2 else None,
    )


async def _list(settings: Settings, args: argparse.Namespace) -> int:
    slack_user_id, workspace = _slack_user_in(args)
    store = await open_store(settings, create=False)
    try:
        if args.user is not None:
            username = normalise_username(args.user)
            if await AccountService(store).find(username) is None:
                raise NoSuchUser(username)  # as `binding remove --user` says
        found = await _administration(settings, store).bindings(
            BindingFilter(
                username=args.user,
                slack_user_id=slack_user_id,
                workspace=workspace,
                since=args.since,
            )
        )
    finally:
        await store.close()
    if args.json:
        print(json.dumps([_json(row) for row in found], indent=2))
    elif found:
        print(_table(found))
    else:
        print("No bindings match.")
    return 0


async def _select(settings: Settings, selection: Selection | str) -> list[ListedBinding]:
    """The bindings `selection` names (a Selection, or a binding's public ID), at least one;
    raises as `Administration.select` does."""
    store = await open_store(settings, create=False)
    try:
        administration = _administration(settings, store)
        if isinstance(selection, Selection):
            return await administration.select(selection)
        found = [
            row
            for row in await administration.bindings(BindingFilter())
            if row.binding.public_id == selection
        ]
        if not found:
            raise NoBindingMatches(f"the ID {selection}")
        return found
    finally:
        await store.close()


async def _remove(settings: Settings, chosen: Sequence[ListedBinding]) -> dict[int, str]:
    """Remove `chosen`; for each binding removed (by ID), what the Slack person was told."""
    store = await open_store(settings, create=False)
    try:
        bindings = _binding_service(settings, store)
        removed = await _administration(settings, store, bindings).remove(
            chosen, Actor(client=CLIENT)
        )
        gone = {binding.id for binding in removed}
        slack = _SlackSide.of(settings, store, bindings)
        if slack:  # Issue 11, outbox: send the DMs the removal wrote, now
            await slack.send_outbox()
        told: dict[int, str] = {}
        for row in chosen:
            if row.binding.id in gone:
                told[row.binding.id] = await slack.tell(row) if slack else NOT_TOLD
    finally:
        await store.close()
    return told


NOT_TOLD = (
    "No Slack tokens are set here, so the running app tells the Slack person by DM; they "
    "are also told at their next command."
)


@dataclass
class _SlackSide:
    """With Slack tokens set: the DMs the removal wrote to the outbox, sent now, and the
    Slack person's Home tab redrawn, as the running app does after an unbind."""

    sender: OutboxSender
    home: HomeTab
    #: What became of each binding's DM (by binding ID), once `send_outbox` ran.
    outcomes: dict[int, Outcome] = field(default_factory=dict)

    @classmethod
    def of(
        cls, settings: Settings, store: SQLiteStore, bindings: BindingService
    ) -> _SlackSide | None:
        if settings.slack_bot_token is None or not settings.has_slack_tokens:
            return None
        client = build_web_client(
            settings.slack_bot_token.get_secret_value(),
            settings.slack_api_url,
            timeout_seconds=settings.slack_api_timeout,  # Issue 11, outbox
        )
        home = HomeTab(client, bindings, home_content(settings, command_table(settings)))
        return cls(outbox_sender(settings, store, client), home)

    async def send_outbox(self) -> None:
        """Send the DMs due in the outbox (those the removal wrote among them), within
        DM_SECONDS; a DM not sent stays there for the running app."""
        try:
            sent = await asyncio.wait_for(self.sender.send_due(), DM_SECONDS)
        except TimeoutError:
            return
        for entry, outcome in sent:
            if entry.kind == NoticeKind.REMOVED_BY_ADMIN and entry.binding_id is not None:
                self.outcomes[entry.binding_id] = outcome

    async def tell(self, row: ListedBinding) -> str:
        """Redraw the Slack person's Home tab; what the administrator is told of their DM."""
        user_id = row.binding.identity.user_id
        await self.home.refresh(row.binding.identity)  # within its deadline; never raises
        outcome = self.outcomes.get(row.binding.id)
        if outcome in ("sent", "unmarked"):
            return f"Told {user_id} by DM."
        if outcome == "dropped":
            return f"Could not tell {user_id} by DM (Slack did not take it; see the log above)."
        return (
            f"Could not tell {user_id} by DM now (see the log above): the running app tries "
            "again; they are also told at their next command."
        )


async def _set_password(settings: Settings, name: str, password: str) -> str:
    store = await open_store(settings, create=False)
    try:
        user = await _administration(settings, store).set_password(
            name, password, Actor(client=CLIENT)
        )
    finally:
        await store.close()
    return user.username


# What the administrator sees


def _json(row: ListedBinding) -> dict[str, object]:
    binding = row.binding
    return {
        "id": _public(row),
        "username": row.username,
        "slack_user_id": binding.identity.user_id,
        "team_id": binding.identity.team_id,
        "enterprise_id": binding.identity.enterprise_id,
        "workspace_name": binding.profile.team_name,
        "slack_name": binding.profile.display,
        "bound_at": _time(binding.created_at),
        "last_used_at": _time(row.last_used_at) if row.last_used_at is not None else None,
        "credential": row.credential,
    }


def _table(rows: Sequence[ListedBinding]) -> str:
    """Columns padded to their widest cell; names Slack supplied are shown safe for a
    terminal (`_shown`) and cut to NAME_WIDTH."""
    header = ("ID", "USER", "SLACK", "SLACK NAME", "WORKSPACE", "BOUND", "LAST USED", "CREDENTIAL")
    cells = [header] + [
        (
            _public(row),
            row.username,
            f"{row.binding.identity.scope_id}/{row.binding.identity.user_id}",
            _shown(row.binding.profile.display),
            _shown(row.binding.profile.team_name),
            _time(row.binding.created_at),
            _time(row.last_used_at) if row.last_used_at is not None else "never",
            row.credential,
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )


def _shown(text: str) -> str:
    """`text` safe to print at a terminal: a character that is not printable (a control
    character such as ESC, which starts terminal escape sequences; a bidirectional override;
    a zero-width character) as its \\u escape; cut to NAME_WIDTH characters."""
    shown = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)
    return shown if len(shown) <= NAME_WIDTH else shown[: NAME_WIDTH - 1] + "…"


def _public(row: ListedBinding) -> str:
    """The binding's ID as the administrator sees it: its public ID (never reused)."""
    return row.binding.public_id or "-"


def _time(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def _confirm(question: str) -> bool:
    """Ask at the terminal; yes only for "y" or "yes". Without a terminal, refuse: a script
    says --yes."""
    if not sys.stdin.isatty():
        raise DomainError("Not removing without confirmation: stdin is not a terminal; add --yes.")
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


# Arguments


@dataclass(frozen=True)
class SlackUserArgument:
    """--slack-user: a user ID, or WORKSPACE/USER as `audit` and this listing print it."""

    user_id: str
    workspace: str | None


def _slack_user_in(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """The Slack user ID and workspace that --slack-user and --workspace name together
    (`usage_mistake` refused two different workspaces already)."""
    slack_user: SlackUserArgument | None = args.slack_user
    workspace: str | None = args.workspace
    if slack_user is None:
        return None, workspace
    return slack_user.user_id, slack_user.workspace or workspace


def _slack_user(value: str) -> SlackUserArgument:
    workspace, _, user_id = value.strip().rpartition("/")
    if not SLACK_ID.fullmatch(user_id) or (workspace and not WORKSPACE_ID.fullmatch(workspace)):
        raise argparse.ArgumentTypeError(
            "a Slack user ID such as U0ADA, or WORKSPACE/USER such as T0ACME/U0ADA (the "
            "workspace a T… or E… ID)"
        )
    return SlackUserArgument(user_id=user_id, workspace=workspace or None)


def _slack_id(value: str) -> str:
    """--workspace: a Slack workspace (T…) or Enterprise Grid organisation (E…) ID."""
    if not WORKSPACE_ID.fullmatch(value.strip()):
        raise argparse.ArgumentTypeError(
            "a Slack workspace or organisation ID (T… or E…) such as T0ACME"
        )
    return value.strip()


def _binding_id(value: str) -> str:
    """--id: a binding's public ID as `binding list` shows it (32 hex digits); the database's
    row numbers are not taken, as SQLite may give one again to a newer binding."""
    public_id = value.strip().lower()
    if not is_public_id(public_id):
        raise argparse.ArgumentTypeError("a binding ID as `binding list` shows it: 32 hex digits")
    return public_id
