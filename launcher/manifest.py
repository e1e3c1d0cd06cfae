"""The Slack app manifest that matches the settings: `account-binding manifest`.

Slack creates and updates an app from a manifest (https://docs.slack.dev/reference/app-manifest;
JSON Schema: github.com/slackapi/manifest-schema, `schemas/manifest.schema.1.0.0.json`).
This one declares what the enabled features need, and no more:

- always: one slash command (no request URL: Socket Mode carries it), named `/` and the app's
  name in lower case; interactivity (buttons); Socket Mode; the App Home Messages tab, where the
  app's DMs land, and its Home tab (the bot event `app_home_opened`: whether the person is
  connected, Disconnect, the commands, and Connect with `BINDING_TRIGGERS` `home`); bot scopes `commands`, `chat:write` (DMs) and `users:read` (who the Slack
  person is); the bot events `app_uninstalled` and `tokens_revoked` (Slack's lifecycle: the
  workspace's bindings end) and `user_change` (a deactivated Slack user's binding ends; it
  needs `users:read`);
- `REQUIRE_EMAIL_MATCH=true`: the bot scope `users:read.email`;
- `BINDING_TRIGGERS` with `shortcut`: the global shortcut "Connect account" (callback ID
  `connect_account`);
- `VERIFY_SLACK_IDENTITY=true`: the redirect URL `PUBLIC_URL/slack-identity/callback` and the
  user scope `openid` (Sign in with Slack).

`INTERNAL_APP_NAME` names the app, its bot user and its command; the command table (the stand-in's
`todo` while `INTERNAL_API_URL` is unset, `COMMAND_PLUGINS`) gives the command's usage hint.
Names are fitted to Slack's limits: the app's name at most 35 characters, the bot's display
name at most 80 of `A-Z a-z 0-9 - _ .` and space, the command at most 32 characters. The
descriptions name the app in full where it fits their limits (the app's description at most
140 characters, its long description 175 to 4000, the command's 2000, the shortcut's 150),
else cut to fit.
"""

from __future__ import annotations

import re
import unicodedata

from account_binding.settings import Settings
from bolt_app.commands.table import CommandTable
from bolt_app.home_tab import default_slash_command
from bolt_app.listeners.shortcuts.connect_account import CALLBACK_ID
from web.slack_identity import SCOPES as SIGN_IN_WITH_SLACK_SCOPES
from web.slack_identity import redirect_uri

from .commented_yaml import Data, Note, dump

#: display_information.name: 1 to 35 characters (the manifest reference and schema).
MAX_APP_NAME = 35
#: features.bot_user.display_name: 1 to 80 characters.
MAX_BOT_NAME = 80
#: features.slash_commands[].command: 2 to 32 characters with the leading "/".
MAX_COMMAND = 32
#: features.slash_commands[].usage_hint: at most 1000 characters.
MAX_USAGE_HINT = 1000
#: display_information.description: 1 to 140 characters.
MAX_DESCRIPTION = 140
#: display_information.long_description: 175 to 4000 characters.
MAX_LONG_DESCRIPTION = 4000
#: features.slash_commands[].description: 1 to 2000 characters.
MAX_COMMAND_DESCRIPTION = 2000
#: features.shortcuts[].description: 1 to 150 characters.
MAX_SHORTCUT_DESCRIPTION = 150
#: The global shortcut "Connect account" (BINDING_TRIGGERS=shortcut), as its listener
#: registers it.
SHORTCUT_CALLBACK_ID = CALLBACK_ID
SHORTCUT_NAME = "Connect account"

HEADER = """\
The Slack app's manifest, made by `account-binding manifest` from the settings (README.md,
"Install the Slack app"). Create the app from it at https://api.slack.com/apps ("Create New
App" > "From an app manifest"), or paste it into an existing app's "App Manifest" page.
Made with these settings:
  INTERNAL_APP_NAME={app_name}
  BINDING_TRIGGERS={triggers}
  REQUIRE_EMAIL_MATCH={email}
  VERIFY_SLACK_IDENTITY={verify}{public_url}
  INTERNAL_API_URL={api}
  COMMAND_PLUGINS={plugins}"""


def manifest(settings: Settings, commands: CommandTable) -> dict[str, Data]:
    """The manifest as data, with comments (`commented_yaml.Note`) where a reader of the
    YAML needs one; `commented_yaml.plain` gives what Slack reads."""
    name = app_name(settings.internal_app_name)
    full_name = _one_line(settings.internal_app_name) or name
    command = command_name(settings.internal_app_name)
    features: dict[str, Data] = {
        "app_home": {
            "home_tab_enabled": Note(
                True,
                "the Home tab: connected or not, Connect (BINDING_TRIGGERS=home) or "
                "Disconnect, the commands",
            ),
            "messages_tab_enabled": Note(True, "where the app's DMs land"),
            "messages_tab_read_only_enabled": Note(True, "the app reads no messages"),
        },
        "bot_user": {"display_name": bot_name(settings.internal_app_name), "always_online": False},
    }
    if "shortcut" in settings.binding_triggers:
        features["shortcuts"] = [
            {
                "name": SHORTCUT_NAME,
                "type": "global",
                "callback_id": SHORTCUT_CALLBACK_ID,
                "description": _fit(
                    "Connect your Slack account to your {name} account",
                    full_name,
                    MAX_SHORTCUT_DESCRIPTION,
                ),
            }
        ]
    features["slash_commands"] = [
        {
            "command": Note(command, "the app answers whatever command this names"),
            "description": _fit("Use {name} as yourself", full_name, MAX_COMMAND_DESCRIPTION),
            "usage_hint": usage_hint(commands),
            "should_escape": False,
        }
    ]
    bot_scopes: list[Data] = [
        Note("commands", "the slash command (and the shortcut)"),
        Note("chat:write", "DMs: links, bound and unbound"),
        Note("users:read", "users.info: the confirm page names the Slack person; user_change"),
    ]
    if settings.require_email_match:
        bot_scopes.append(Note("users:read.email", "REQUIRE_EMAIL_MATCH: their email address"))
    oauth: dict[str, Data] = {}
    scopes: dict[str, Data] = {"bot": bot_scopes}
    if settings.verify_slack_identity:
        oauth["redirect_urls"] = Note(
            [redirect_uri(settings.public_url)],
            "VERIFY_SLACK_IDENTITY: Sign in with Slack returns to PUBLIC_URL/slack-identity/callback",
        )
        scopes["user"] = Note(
            list(SIGN_IN_WITH_SLACK_SCOPES.split()), "VERIFY_SLACK_IDENTITY: Sign in with Slack"
        )
    oauth["scopes"] = scopes
    events: list[Data] = [
        Note("app_home_opened", "the Home tab is drawn when opened"),
        Note("app_uninstalled", "the workspace's bindings end"),
        Note("tokens_revoked", "the app's tokens revoked: the same"),
        Note("user_change", "a deactivated Slack user's binding ends (needs users:read)"),
    ]
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name,
            "description": _fit("Use {name} from Slack, as yourself.", full_name, MAX_DESCRIPTION),
            "long_description": long_description(full_name, command),
            "background_color": "#3f0e40",
        },
        "features": features,
        "oauth_config": oauth,
        "settings": {
            "event_subscriptions": {"bot_events": events},
            "interactivity": {"is_enabled": Note(True, "buttons; over Socket Mode, no URL")},
            "org_deploy_enabled": Note(False, "true to install it org-wide on Enterprise Grid"),
            "socket_mode_enabled": Note(True, "no public URL: the app connects to Slack"),
            "token_rotation_enabled": False,
        },
    }


def manifest_yaml(settings: Settings, commands: CommandTable) -> str:
    """`manifest(...)` as the YAML file `account-binding manifest` prints."""
    header = HEADER.format(
        app_name=_one_line(settings.internal_app_name),
        triggers=",".join(settings.binding_triggers),
        email=str(settings.require_email_match).lower(),
        verify=str(settings.verify_slack_identity).lower(),
        public_url=(
            f"\n  PUBLIC_URL={settings.public_url}" if settings.verify_slack_identity else ""
        ),
        api=(
            "(unset: the stand-in's todo command is in the usage hint)"
            if settings.serves_stand_in
            else "(set)"
        ),
        plugins=_one_line(",".join(settings.command_plugins)) or "(none)",
    )
    return dump(manifest(settings, commands), header)


def manifest_warnings(settings: Settings) -> list[str]:
    """What the administrator should hear about a manifest made with `settings` (lines for
    stderr): a redirect URL Slack would refuse (it takes only `https://` ones)."""
    if settings.verify_slack_identity and not settings.public_url.startswith("https://"):
        return [
            f"VERIFY_SLACK_IDENTITY=true, but PUBLIC_URL={settings.public_url} is not https://: "
            "Slack takes only https redirect URLs, so it will refuse this manifest's "
            "redirect_urls; set an https:// PUBLIC_URL and make the manifest again"
        ]
    return []


def app_name(name: str) -> str:
    """`name` as display_information.name: printable, single spaces, at most 35 characters; a
    longer name is cut after a word where one ends past the middle (else inside one, never
    between a letter and its combining mark) and ends with "…"; "App" when nothing is left."""
    return _cut(_one_line(name), MAX_APP_NAME) or "App"


def _cut(text: str, limit: int) -> str:
    """`text` when it has at most `limit` characters; else cut after a word where one ends
    past the middle (else inside one, never between a letter and its combining mark), ending
    with "…", `limit` characters at most."""
    if len(text) <= limit:
        return text
    end = limit - 1  # room for the "…"
    space = text.rfind(" ", 0, end + 1)
    if space > limit // 2:
        end = space
    while end > 0 and unicodedata.combining(text[end]):
        end -= 1
    return text[:end].rstrip() + "…"


def _fit(template: str, name: str, limit: int) -> str:
    """`template` with `name` in each `{name}`: in full when the text then has at most
    `limit` characters, else with `name` cut (`_cut`) so that it does."""
    text = template.format(name=name)
    if len(text) <= limit:
        return text
    room = (limit - len(template.format(name=""))) // template.count("{name}")
    return template.format(name=_cut(name, max(room, 1)))


def bot_name(name: str) -> str:
    """`name` as the bot user's display name: letters without their accents, digits, `-`,
    `_`, `.` and single spaces, at most 80 characters.

    Slack's manifest reference lists `a-z 0-9 - _ .` for it, yet its own example manifest
    uses capitals and spaces ("Your Amazingly Helpful Bot"), as the App Home page allows for
    the bot's name (the lower-case rule is the default username's): those are kept; every
    other character is dropped.
    """
    folded = unicodedata.normalize("NFKD", _one_line(name)).encode("ascii", "ignore").decode()
    text = " ".join(re.sub(r"[^A-Za-z0-9._\- ]", "", folded).split())[:MAX_BOT_NAME].rstrip()
    return text or command_name(name).lstrip("/")


def command_name(name: str) -> str:
    """`/` and a slug of `name`: ASCII letters (accents dropped) in lower case and digits,
    other runs of characters as one `-`, at most 32 characters in all; `/account-binding`
    when no letter or digit is left. The Slack side answers any command name; the Home tab
    names the command by this same rule (`bolt_app.home_tab.default_slash_command`)."""
    return default_slash_command(name)


def usage_hint(commands: CommandTable) -> str:
    """The command table's forms, grouped by their first word: "whoami | todo [add <title> |
    done <number>] | link | unlink | help"; at most 1000 characters."""
    groups: dict[str, list[str]] = {}
    for subcommand in commands.subcommands:
        first, _, rest = subcommand.usage.partition(" ")
        groups.setdefault(first, []).append(rest)
    parts = []
    for first, rests in groups.items():
        others = [rest for rest in rests if rest]
        if not others:
            parts.append(first)
        elif len(rests) == 1:
            parts.append(f"{first} {others[0]}")
        elif len(others) < len(rests):
            parts.append(f"{first} [{' | '.join(others)}]")
        else:
            parts.append(" | ".join(f"{first} {rest}" for rest in others))
    hint = " | ".join(parts) or "help"
    if len(hint) > MAX_USAGE_HINT:
        hint = hint[: MAX_USAGE_HINT - 2].rsplit(" | ", 1)[0] + " …"
    return hint


def long_description(name: str, command: str) -> str:
    """At least 175 characters (Slack's minimum) for any name, at most 4000: `name` in full
    where that fits, else cut (`_fit`)."""
    template = (
        "Connect your Slack account to your {name} account once, then use the "
        + command.replace("{", "{{").replace("}", "}}")
        + " command to see and change your {name} data from Slack, as yourself. Connecting "
        "happens on a page behind {name}'s own login; the app never sees your {name} "
        "password, and you can disconnect at any time."
    )
    return _fit(template, name, MAX_LONG_DESCRIPTION)


def _one_line(text: str) -> str:
    """Printable characters only (no control, format or bidirectional override characters),
    runs of white space as one space, trimmed."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())
