"""The `account-binding` command: run the app, manage the built-in accounts."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import re
import socket
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata

import uvicorn

from account_binding.accounts import AccountService, normalise_username
from account_binding.audit import AuditEvent, AuditLog
from account_binding.errors import DomainError
from account_binding.models import SlackIdentity
from account_binding.settings import (
    Settings,
    SettingsError,
    load_manifest_settings,
    load_settings,
)
from account_binding.sqlite_store import SQLiteStore
from account_binding.store import AuditFilter, NoDatabase, StoreUnavailable
from bolt_app.commands.loading import PluginLoadError
from bolt_app.commands.table import CommandClash

from . import admin_commands, backup, user_admin
from .compose import (
    SlackConnection,
    build_site,
    command_table,
    open_store,
    slack_app_redirect,
)
from .logs import configure_logging
from .provider_check import check_providers
from .sandbox import DEMO_USERNAME, start_sandbox
from .sandbox_provider import SANDBOX_PERSON, SandboxProvider, start_sandbox_provider
from .slack_check import StartError, check_slack
from .stopping import GracefulServer, Stopping

log = logging.getLogger("account_binding")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    # Issue 10, administration: flags that do not go together are a usage mistake (exit 2).
    mistake = admin_commands.usage_mistake(args)
    if mistake is not None:
        args.usage_parser.error(mistake)
    configure_logging("INFO")
    try:
        if args.command == "manifest":
            # The manifest comes before the Slack app (and its credentials) exists, and from
            # the settings alone: only the manifest on stdout, only warnings on stderr.
            configure_logging("WARNING")
            settings = load_manifest_settings()
            if settings.log_level in ("ERROR", "CRITICAL"):
                configure_logging(settings.log_level)
            return admin_commands.print_manifest(settings)
        settings = load_settings()
        configure_logging(settings.log_level)
        print(f"account-binding: database {settings.database.absolute()}", file=sys.stderr)
        if args.command in (None, "run"):
            asyncio.run(_run(settings, sandbox=getattr(args, "sandbox", False)))
        elif args.command == "user" and args.user_command == "add":
            asyncio.run(_add_user(settings, args.name, args.email, _read_password()))
        elif args.command == "user" and args.user_command == "list":
            asyncio.run(_list_users(settings))
        elif args.command == "user" and args.user_command in user_admin.ACTIONS:
            return user_admin.run(settings, args)  # Issue 10, lifecycle
        elif args.command == "audit":
            asyncio.run(_audit(settings, args))
        elif args.command == "unbind":
            return admin_commands.unbind(settings, args.slack_user)
        elif args.command == "backup":  # Issue 11, operations
            return backup.run(settings, args)
        # Issue 10, administration: binding list|remove, user set-password, manifest
        elif admin_commands.handles(args):
            password = (
                _read_password("user set-password NAME")
                if admin_commands.needs_password(args)
                else None
            )
            return admin_commands.run(settings, args, password)
        else:
            parser.print_help()
            return 2
    except NoDatabase as error:
        print(
            f"account-binding: there is no database at {error.path} yet (DATABASE); "
            "`account-binding run` or `user add` makes one",
            file=sys.stderr,
        )
        return 1
    except (
        SettingsError,
        StartError,
        DomainError,
        StoreUnavailable,
        PluginLoadError,
        CommandClash,
    ) as error:
        print(f"account-binding: {error}", file=sys.stderr)
        return 2 if isinstance(error, SettingsError) else 1
    except KeyboardInterrupt:
        return 130
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="account-binding",
        description="Bind Slack accounts to accounts of an internal application.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser("run", help="run the app (the default)")
    run.add_argument(
        "--sandbox",
        action="store_true",
        help="use a fake Slack on loopback even when Slack tokens are set",
    )
    user = commands.add_parser("user", help="manage the built-in accounts")
    user_commands = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = user_commands.add_parser(
        "add", help="add an account; the password is read from a prompt, or from stdin"
    )
    add.add_argument("name")
    add.add_argument("--email", required=True)
    user_commands.add_parser("list", help="list the accounts")
    user_admin.add_commands(user_commands)  # Issue 10, lifecycle: disable, enable, remove
    unbind = commands.add_parser(
        "unbind",
        help="deprecated: `binding remove --slack-user USER --workspace WORKSPACE --yes`",
    )
    unbind.add_argument(
        "slack_user",
        type=_scoped_user,
        metavar="WORKSPACE/USER",
        help="the Slack identity as `audit` prints it, such as T0ACME/U0ADA",
    )
    audit = commands.add_parser("audit", help="list the audit log, newest first")
    audit.add_argument("--event", choices=[str(e) for e in AuditEvent], help="only this event")
    audit.add_argument("--user", help="only this internal user name")
    audit.add_argument(
        "--slack-user",
        help="only this Slack user: an ID such as U0ADA, or WORKSPACE/USER as the listing shows it",
    )
    audit.add_argument(
        "--since",
        type=_since,
        help="only entries since this time: an ISO date or time (UTC), or a duration ago "
        "such as 30m, 12h or 7d",
    )
    audit.add_argument("--limit", type=_limit, default=100, help="at most this many (default 100)")
    audit.add_argument("--json", action="store_true", help="print a JSON array")
    # Issue 10, administration: binding list|remove, user set-password, manifest
    admin_commands.add_commands(commands, user_commands, _since)
    backup.add_command(commands)  # Issue 11, operations: backup DIR
    return parser


def _version() -> str:
    try:
        return metadata.version("account-binding")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def _since(value: str) -> int:
    match = re.fullmatch(r"0*(\d{1,12})([smhd])", value.strip())
    if match:
        seconds = int(match[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
        return max(0, int(time.time()) - seconds)  # longer ago than 1970 means everything
    if re.fullmatch(r"\d+[smhd]", value.strip()):
        raise argparse.ArgumentTypeError(f"{value[:20]!r}… is longer ago than anything logged")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither an ISO date or time nor a duration like 12h"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _scoped_user(value: str) -> SlackIdentity:
    match = re.fullmatch(r"([A-Z0-9]{1,32})/([A-Z0-9]{1,32})", value.strip())
    if not match:
        raise argparse.ArgumentTypeError(
            "a workspace or organisation ID and a user ID as `audit` prints them, "
            "such as T0ACME/U0ADA"
        )
    return SlackIdentity(scope_id=match[1], user_id=match[2], team_id=match[1])


def _limit(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 100_000:
        raise argparse.ArgumentTypeError("a whole number from 1 to 100000")
    return int(value)


def _listen(settings: Settings) -> socket.socket:
    """The site's listening socket, bound before anything else starts, so that a port in use
    stops the start with one line."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as error:
        sock.close()
        raise StartError(
            f"Cannot listen on {settings.host} port {settings.port}: "
            f"{error.strerror or error}; set HOST or PORT"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


async def _run(settings: Settings, *, sandbox: bool) -> None:
    listening = _listen(settings)
    try:
        await _serve(settings, listening, sandbox=sandbox)
    finally:
        listening.close()


async def _serve(settings: Settings, listening: socket.socket, *, sandbox: bool) -> None:
    store = await open_store(settings)
    try:
        await _serve_with(settings, listening, store, sandbox=sandbox)
    finally:
        await store.close()  # closed by the site's lifespan already when it served


async def _serve_with(
    settings: Settings,
    listening: socket.socket,
    store: SQLiteStore,
    *,
    sandbox: bool,
) -> None:
    settings.secret_key()  # a missing key is made, a bad key file stops the start, now
    provider: SandboxProvider | None = None
    commands = command_table(settings)  # so does a plugin that cannot load
    if sandbox or not settings.has_slack_tokens:
        try:
            box = await start_sandbox(settings, store)
        except OSError as error:
            raise StartError(
                f"Cannot start the sandbox's fake Slack on port {settings.sandbox_port}: "
                f"{error.strerror or error}; set SANDBOX_PORT"
            ) from None
        slack, return_url = box.slack, box.return_url
        if settings.uses_sandbox_provider:
            try:
                provider = await start_sandbox_provider(settings)
            except BaseException:
                await box.fake.stop()
                raise
            settings = settings.with_sandbox_provider(
                provider.issuer, provider.client_id, provider.client_secret
            )
        login = f"{DEMO_USERNAME} / {box.demo_password}"
        if settings.auth == "oidc" and provider is not None:
            login = f"sign in with the test provider ({provider.issuer}) as {SANDBOX_PERSON}"
        elif settings.auth == "oidc":
            login = f"sign in with {settings.provider_name} ({settings.oidc_issuer})"
        elif settings.auth == "proxy":
            login = f"through the proxy in front ({settings.proxy_user_header})"
        print(
            f"\nSandbox mode ({'--sandbox' if sandbox else 'no Slack tokens'}): "
            f"a fake Slack runs on this machine.\n"
            f"  Try the app as a Slack user:  {box.fake.base_url}/\n"
            f"  Binding site:                 {settings.public_url}/\n"
            f"  Demo login:                   {login}\n"
            + (
                f"  Connect grants tokens at:     the test provider ({provider.issuer}), "
                f"as {SANDBOX_PERSON}\n"
                if provider is not None and settings.act_as == "oauth2" and settings.auth != "oidc"
                else ""
            ),
            flush=True,
        )
    else:
        assert settings.slack_bot_token and settings.slack_app_token
        slack = SlackConnection(
            settings.slack_bot_token.get_secret_value(),
            settings.slack_app_token.get_secret_value(),
            settings.slack_api_url,
        )
        await check_slack(slack, needs_email=settings.require_email_match)
        box, return_url = None, None
    try:
        await check_providers(settings)
    except BaseException:
        if box is not None:
            await box.fake.stop()
        if provider is not None:
            await provider.stop()
        raise
    stopping = Stopping(settings.shutdown_timeout)  # Issue 11, shutdown: SHUTDOWN_TIMEOUT
    app = build_site(
        settings,
        slack,
        slack_return_url=return_url or slack_app_redirect,
        store=store,
        commands=commands,
        stopping=stopping,
    )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        server_header=False,
        # The site believes X-Forwarded-For from TRUSTED_PROXIES itself (web.app), after
        # noting the socket's peer, which AUTH=proxy checks: uvicorn's own handling would
        # rewrite the peer first.
        proxy_headers=False,
    )
    try:
        # Issue 11, shutdown: SIGTERM and SIGINT stop the Slack side first, wait for the pages
        # and commands in flight until SHUTDOWN_TIMEOUT, and exit 0 (launcher.stopping).
        await GracefulServer(config, stopping).serve(sockets=[listening])
    finally:
        if box is not None:
            await box.fake.stop()
        if provider is not None:
            await provider.stop()


def _read_password(command: str = "user add NAME --email EMAIL") -> str:
    """The new password: asked twice at a terminal, else one line of stdin. Read before any
    event loop runs, so that Ctrl-C at the prompt stops the command at once. `command` is
    the example the message for an empty stdin gives."""
    if sys.stdin.isatty():
        try:
            password = getpass.getpass("Password: ")
            again = getpass.getpass("Password again: ")
        except EOFError:
            raise DomainError("No password given (the input ended).") from None
        if again != password:
            raise DomainError("The passwords do not match.")
        if not password:
            raise DomainError("No password given.")
        return password
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise DomainError(
            "No password on stdin: type it at a terminal, or pipe one line, as in "
            f"printf '%s\\n' \"$PW\" | account-binding {command}"
        )
    return password


async def _add_user(settings: Settings, name: str, email: str, password: str) -> None:
    store = await open_store(settings)
    try:
        user = await AccountService(store, audit=AuditLog(store)).add_user(
            name, email, password, added_by="cli"
        )
    finally:
        await store.close()
    print(f"Added user {user.username} ({user.email}).")


async def _audit(settings: Settings, args: argparse.Namespace) -> None:
    store = await open_store(settings, create=False)
    try:
        entries = await AuditLog(store).entries(
            AuditFilter(
                event=args.event,
                username=normalise_username(args.user) if args.user else None,
                # As the listing prints it (SCOPE/USER), or the user ID alone.
                scope_id=args.slack_user.rpartition("/")[0] or None if args.slack_user else None,
                slack_user_id=args.slack_user.rpartition("/")[2] if args.slack_user else None,
                since=args.since,
                limit=args.limit,
            )
        )
    finally:
        await store.close()
    rows = [
        {
            "at": datetime.fromtimestamp(e.at, UTC).isoformat(timespec="seconds"),
            "event": e.event,
            "user": e.username,
            "user_id": e.user_id,
            "slack_scope": e.scope_id,
            "slack_user": e.slack_user_id,
            "client": e.client,
            "detail": e.detail,
        }
        for e in entries
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        print("No audit entries match.")
    width = max((len(str(row["event"])) for row in rows), default=0)  # the longest event
    for row in rows:
        slack = f"{row['slack_scope']}/{row['slack_user']}" if row["slack_user"] else "-"
        print(
            f"{row['at']}  {row['event']:<{width}}  user={row['user'] or '-'}  slack={slack}  "
            f"client={row['client'] or '-'}  {row['detail'] or ''}".rstrip()
        )


async def _list_users(settings: Settings) -> None:
    store = await open_store(settings, create=False)
    try:
        users = await AccountService(store).users()
    finally:
        await store.close()
    if not users:
        print("No users yet. Add one with: account-binding user add NAME --email EMAIL")
    for user in users:
        disabled = "\tdisabled" if user.disabled_at is not None else ""  # Issue 10, lifecycle
        print(f"{user.username}\t{user.email}{disabled}")
