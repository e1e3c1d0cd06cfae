"""The Slack app manifest: `account-binding manifest` prints one that matches the settings,
valid against Slack's schema for every combination of the settings that change it, asking
for documented scopes and events only; manifest.yml is the one it prints by default."""

from __future__ import annotations

import itertools
import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from slack_reference import EVENTS, SCOPES

from account_binding.settings import Settings, SettingsError, env_name, load_settings
from bolt_app.command_payload import _COMMAND as COMMANDS_THE_APP_TAKES
from launcher import cli
from launcher.commented_yaml import dump, plain
from launcher.compose import command_table
from launcher.manifest import (
    MAX_APP_NAME,
    SHORTCUT_CALLBACK_ID,
    app_name,
    bot_name,
    command_name,
    manifest,
    manifest_yaml,
)

SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "slack" / "manifest.schema.1.0.0.json"

#: INTERNAL_APP_NAMEs: the default, one letter, longer than Slack's 35, longer than the
#: app's description may be (140), Unicode, and one with a terminal escape and a
#: bidirectional override.
NAMES = (
    "Acme",
    "A",
    "The Very Fantastic Internal Application of the Acme Corporation",
    "The Very Fantastic Internal Application " * 5,
    "Ünïcödé 日本語のアプリ ☕",
    "Acme\x1b[31m \u202eevil",
)
#: BINDING_TRIGGERS that differ in the manifest: every subset of `link` (the subcommand is
#: in the usage hint only with it), `home` and `shortcut`; `command` changes nothing
#: (test_command_does_not_change_the_manifest), so it is there to make each one valid.
TRIGGERS = tuple(
    ",".join(("command", *chosen))
    for size in range(4)
    for chosen in itertools.combinations(("link", "home", "shortcut"), size)
)
FLAGS = ("false", "true")
COMBINATIONS = list(itertools.product(TRIGGERS, FLAGS, FLAGS, NAMES))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    if not SCHEMA.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Slack's manifest schema is missing at {SCHEMA}")
        pytest.skip(
            f"Slack's manifest schema is not at {SCHEMA} (it sits beside the project in CI)"
        )
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def settings_for(
    triggers: str = "command,link,home",
    email: str = "false",
    verify: str = "false",
    name: str = "Acme",
    **extra: str,
) -> Settings:
    environ = {
        "BINDING_TRIGGERS": triggers,
        "REQUIRE_EMAIL_MATCH": email,
        "VERIFY_SLACK_IDENTITY": verify,
        "INTERNAL_APP_NAME": name,
        **extra,
    }
    if verify == "true":  # what the settings require with it
        environ |= {
            "SLACK_CLIENT_ID": "1234567890.1234567890",
            "SLACK_CLIENT_SECRET": "slack-client-secret",
            "PUBLIC_URL": "https://slack-binding.intranet.example",
        }
    return load_settings(environ, env_file=None)


def generated(settings: Settings) -> tuple[str, dict[str, Any]]:
    """The YAML `manifest` prints and the data it stands for."""
    commands = command_table(settings)
    data = plain(manifest(settings, commands))
    assert isinstance(data, dict)
    return manifest_yaml(settings, commands), data


def undocumented(data: dict[str, Any]) -> list[str]:
    """What the manifest asks for that Slack's documentation (slack_reference) does not
    allow: unknown scope or event names, a scope for the wrong token type, an event without
    its required scope, a scope without the one it must be requested with."""
    scopes = data.get("oauth_config", {}).get("scopes", {})
    bot, user = set(scopes.get("bot", [])), set(scopes.get("user", []))
    events = data.get("settings", {}).get("event_subscriptions", {}).get("bot_events", [])
    problems = []
    for kind, names in (("bot", bot), ("user", user)):
        for name in sorted(names):
            scope = SCOPES.get(name)
            if scope is None:
                problems.append(f"unknown scope {name}")
            elif kind not in scope.token_types:
                problems.append(f"{name} is not a {kind} scope")
            elif not scope.requested_with <= names:
                problems.append(f"{name} needs {sorted(scope.requested_with)}")
    for name in events:
        event = EVENTS.get(name)
        if event is None:
            problems.append(f"unknown event {name}")
        elif not event.required_scopes <= bot:
            problems.append(f"{name} needs {sorted(event.required_scopes)}")
    return problems


# manifest.yml


def test_manifest_yml_is_what_the_command_prints_for_the_default_settings(
    project_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, info in Settings.model_fields.items():
        monkeypatch.delenv(env_name(name, info), raising=False)
    monkeypatch.chdir(tmp_path)  # no .env
    assert cli.main(["manifest"]) == 0
    printed = capsys.readouterr()
    assert printed.out == (project_root / "manifest.yml").read_text(), (
        "manifest.yml is stale: run `account-binding manifest > manifest.yml` with no settings"
    )
    assert printed.err == ""  # no database line, no log line: only the manifest
    assert list(tmp_path.iterdir()) == []


def test_manifest_yml_matches_slacks_schema(
    project_root: Path, validator: jsonschema.Draft7Validator
) -> None:
    loaded = yaml.safe_load((project_root / "manifest.yml").read_text())
    errors = sorted(validator.iter_errors(loaded), key=str)
    assert not errors, "\n".join(e.message for e in errors)


def test_manifest_yml_declares_what_the_app_uses_and_no_more(project_root: Path) -> None:
    loaded = yaml.safe_load((project_root / "manifest.yml").read_text())
    assert loaded["settings"]["socket_mode_enabled"] is True
    assert loaded["settings"]["interactivity"]["is_enabled"] is True  # the buttons
    [command] = loaded["features"]["slash_commands"]
    assert command["command"] == "/acme" and "url" not in command
    assert set(loaded["oauth_config"]["scopes"]["bot"]) == {"commands", "chat:write", "users:read"}
    assert "user" not in loaded["oauth_config"]["scopes"]  # least privilege
    assert loaded["features"]["app_home"]["messages_tab_enabled"] is True  # where DMs land
    assert loaded["features"]["app_home"]["home_tab_enabled"] is True  # always: the Home tab
    assert "shortcuts" not in loaded["features"]


# Every combination of the settings that change it


@pytest.mark.parametrize(("triggers", "email", "verify", "name"), COMBINATIONS)
def test_every_manifest_the_settings_make_is_valid_and_documented(
    validator: jsonschema.Draft7Validator, triggers: str, email: str, verify: str, name: str
) -> None:
    text, data = generated(settings_for(triggers, email, verify, name))
    assert yaml.safe_load(text) == data  # the comments and layout change nothing
    errors = sorted(validator.iter_errors(data), key=str)
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    assert undocumented(data) == []
    info = data["display_information"]
    assert 1 <= len(info["name"]) <= MAX_APP_NAME and info["name"].isprintable()
    assert 175 <= len(info["long_description"]) <= 4000  # Slack's bounds
    assert re.fullmatch(r"[A-Za-z0-9._\- ]{1,80}", data["features"]["bot_user"]["display_name"])
    [command] = data["features"]["slash_commands"]
    assert re.fullmatch(r"/[a-z0-9-]{1,31}", command["command"])
    assert COMMANDS_THE_APP_TAKES.fullmatch(command["command"])  # the Slack side answers it


@pytest.mark.parametrize(
    ("triggers", "email", "verify"), list(itertools.product(TRIGGERS, FLAGS, FLAGS))
)
def test_the_manifest_asks_for_what_the_enabled_features_need(
    triggers: str, email: str, verify: str
) -> None:
    _, data = generated(settings_for(triggers, email, verify))
    shortcut = "shortcut" in triggers
    hint = data["features"]["slash_commands"][0]["usage_hint"]
    assert ("| link |" in hint) is ("link" in triggers)  # the subcommand, only when it binds
    features, oauth = data["features"], data["oauth_config"]
    events = data["settings"]["event_subscriptions"]["bot_events"]
    # The Home tab is always there (connected or not, Disconnect, the commands); `home`
    # only puts Connect on it.
    assert features["app_home"]["home_tab_enabled"] is True
    assert "app_home_opened" in events
    assert features["app_home"]["messages_tab_enabled"] is True  # the DMs, always
    assert {"app_uninstalled", "tokens_revoked", "user_change"} <= set(events)  # lifecycle
    if shortcut:
        [connect] = features["shortcuts"]
        assert connect["type"] == "global" and connect["callback_id"] == SHORTCUT_CALLBACK_ID
        assert connect["name"] == "Connect account"
    else:
        assert "shortcuts" not in features
    assert ("users:read.email" in oauth["scopes"]["bot"]) is (email == "true")
    assert {"commands", "chat:write", "users:read"} <= set(oauth["scopes"]["bot"])
    if verify == "true":
        assert oauth["redirect_urls"] == [
            "https://slack-binding.intranet.example/slack-identity/callback"
        ]
        assert oauth["scopes"]["user"] == ["openid"]
    else:
        assert "redirect_urls" not in oauth and "user" not in oauth["scopes"]
    assert data["settings"]["socket_mode_enabled"] is True
    assert data["settings"]["interactivity"]["is_enabled"] is True
    assert data["settings"]["org_deploy_enabled"] is False


def test_command_does_not_change_the_manifest() -> None:
    """Why the combinations above need not try BINDING_TRIGGERS with and without `command`."""
    for with_, without in (("command,link,home", "link,home"), ("command,shortcut", "shortcut")):
        assert generated(settings_for(with_))[1] == generated(settings_for(without))[1]


def test_the_usage_hint_comes_from_the_command_table(project_root: Path) -> None:
    _, data = generated(settings_for())
    hint = data["features"]["slash_commands"][0]["usage_hint"]
    assert hint == "whoami | todo [add <title> | done <number>] | link | unlink | help"
    _, data = generated(
        settings_for(COMMAND_PLUGINS="sample_plugins:sample", INTERNAL_API_URL="http://api.example")
    )
    hint = data["features"]["slash_commands"][0]["usage_hint"]
    assert "post <text>" in hint and "later <number>" in hint and "todo" not in hint


# Before the Slack app exists


def manifest_command(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    **settings: str,
) -> tuple[int, str, str]:
    """`account-binding manifest` with only `settings` (and no .env); status, out, err."""
    for name, info in Settings.model_fields.items():
        monkeypatch.delenv(env_name(name, info), raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    code = cli.main(["manifest"])
    printed = capsys.readouterr()
    return code, printed.out, printed.err


def test_the_manifest_needs_no_slack_credentials_yet(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """SLACK_CLIENT_ID and SLACK_CLIENT_SECRET exist only once the app is made from the
    manifest: VERIFY_SLACK_IDENTITY=true makes it without them; `run` still refuses."""
    public = "https://slack-binding.intranet.example"
    code, out, err = manifest_command(
        monkeypatch, capsys, tmp_path, VERIFY_SLACK_IDENTITY="true", PUBLIC_URL=public
    )
    assert code == 0 and err == "", err
    data = yaml.safe_load(out)
    assert data["oauth_config"]["redirect_urls"] == [f"{public}/slack-identity/callback"]
    assert data["oauth_config"]["scopes"]["user"] == ["openid"]
    assert f"#   PUBLIC_URL={public}" in out

    # `run` (and every other command) reads them with load_settings, which still refuses.
    environ = {"VERIFY_SLACK_IDENTITY": "true", "PUBLIC_URL": public}
    with pytest.raises(SettingsError, match="needs SLACK_CLIENT_ID and SLACK_CLIENT_SECRET"):
        load_settings(environ, env_file=None)


def test_the_manifest_with_an_http_public_url_warns_that_slack_refuses_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = manifest_command(
        monkeypatch,
        capsys,
        tmp_path,
        VERIFY_SLACK_IDENTITY="true",
        PUBLIC_URL="http://bind.example",
    )
    assert code == 0
    assert yaml.safe_load(out)["oauth_config"]["redirect_urls"] == [
        "http://bind.example/slack-identity/callback"
    ]
    [warning] = err.splitlines()
    assert (
        warning.startswith("account-binding: warning: ") and "only https redirect URLs" in warning
    )
    # Every other check still stands.
    code, out, err = manifest_command(monkeypatch, capsys, tmp_path, PORT="http")
    assert code == 2 and out == "" and "PORT must be a whole number" in err
    # `run` still refuses the http PUBLIC_URL, with the Slack credentials set.
    environ = {
        "VERIFY_SLACK_IDENTITY": "true",
        "PUBLIC_URL": "http://bind.example",
        "SLACK_CLIENT_ID": "1234567890.1234567890",
        "SLACK_CLIENT_SECRET": "slack-client-secret",
    }
    with pytest.raises(SettingsError, match="needs an https:// PUBLIC_URL"):
        load_settings(environ, env_file=None)


def test_the_manifest_header_names_every_setting_that_shaped_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = manifest_command(
        monkeypatch,
        capsys,
        tmp_path,
        INTERNAL_API_URL="http://api.example",
        COMMAND_PLUGINS="sample_plugins:sample",
    )
    assert code == 0 and err == "", err
    assert "#   INTERNAL_API_URL=(set)\n" in out
    assert "#   COMMAND_PLUGINS=sample_plugins:sample\n" in out
    code, out, _ = manifest_command(monkeypatch, capsys, tmp_path)
    assert "#   INTERNAL_API_URL=(unset: the stand-in's todo command" in out
    assert "#   COMMAND_PLUGINS=(none)\n" in out and "PUBLIC_URL" not in out


# Names fitted to Slack's rules


def test_descriptions_name_the_app_in_full_where_it_fits() -> None:
    long = "The Very Fantastic Internal Application of the Acme Corporation"
    _, data = generated(settings_for(triggers="command,shortcut", name=long))
    info = data["display_information"]
    assert info["name"] == "The Very Fantastic Internal…"
    assert info["description"] == f"Use {long} from Slack, as yourself."
    assert info["long_description"].count(long) == 4
    assert data["features"]["slash_commands"][0]["description"] == f"Use {long} as yourself"
    assert data["features"]["shortcuts"][0]["description"] == (
        f"Connect your Slack account to your {long} account"
    )
    longer = "The Very Fantastic Internal Application " * 5
    _, data = generated(settings_for(triggers="command,shortcut", name=longer))
    info = data["display_information"]
    assert len(info["description"]) <= 140 and info["description"].startswith("Use The Very")
    assert info["description"].endswith("… from Slack, as yourself.")
    assert info["long_description"].count(longer.strip()) == 4  # 4000 is room enough
    assert len(data["features"]["shortcuts"][0]["description"]) <= 150


def test_names_are_fitted_to_slacks_limits() -> None:
    assert app_name("Acme") == "Acme"
    long = "The Very Fantastic Internal Application of the Acme Corporation"
    assert app_name(long) == "The Very Fantastic Internal…"
    assert app_name("x" * 50) == "x" * 34 + "…"
    assert app_name("e\u0301" * 30) == "e\u0301" * 17 + "…"  # never an accent without its e
    assert app_name("Acme\x1b[31m \u202eevil") == "Acme [31m evil"
    assert bot_name("Ünïcödé 日本語のアプリ ☕") == "Unicode"
    assert bot_name("日本語") == "account-binding"
    assert bot_name("Acme Corp.") == "Acme Corp."
    assert command_name("Acme") == "/acme"
    assert command_name("Ünïcödé Intranet!") == "/unicode-intranet"
    assert command_name("日本語") == "/account-binding"
    assert command_name(long) == "/the-very-fantastic-internal-app"
    assert len(command_name(long)) == 32


# The checks themselves


def test_the_schema_check_catches_a_bad_manifest(validator: jsonschema.Draft7Validator) -> None:
    _, data = generated(settings_for())
    broken = {**data, "settings": {**data["settings"], "socket_mode": True}}
    assert list(validator.iter_errors(broken))
    long_name = {**data, "display_information": {**data["display_information"], "name": "x" * 36}}
    assert list(validator.iter_errors(long_name))


def test_the_documentation_check_catches_misspelt_or_unscoped_names() -> None:
    _, data = generated(settings_for(email="true", verify="true"))
    assert undocumented(data) == []
    scopes = data["oauth_config"]["scopes"]
    events = data["settings"]["event_subscriptions"]

    def changed(bot: list[str], user: list[str], bot_events: list[str]) -> dict[str, Any]:
        return {
            **data,
            "oauth_config": {"scopes": {"bot": bot, "user": user}},
            "settings": {"event_subscriptions": {"bot_events": bot_events}},
        }

    assert undocumented(changed([*scopes["bot"], "user:read"], scopes["user"], [])) == [
        "unknown scope user:read"
    ]
    assert undocumented(changed(scopes["bot"], scopes["user"], ["user_changed"])) == [
        "unknown event user_changed"
    ]
    assert undocumented(changed(["commands"], [], ["user_change"])) == [
        "user_change needs ['users:read']"
    ]
    assert undocumented(changed(["users:read.email"], [], [])) == [
        "users:read.email needs ['users:read']"
    ]
    assert undocumented(changed([*scopes["bot"], "openid"], [], [])) == [
        "openid is not a bot scope"
    ]
    assert events["bot_events"]


# The YAML writer


@given(st.text())
def test_any_text_reads_back_the_same(text: str) -> None:
    assert yaml.safe_load(dump({"key": text, "list": [text]})) == {"key": text, "list": [text]}


@given(st.lists(st.text(alphabet=st.characters(categories=["L", "N", "P", "S"]), min_size=1)))
def test_long_texts_are_folded_and_read_back_the_same(words: list[str]) -> None:
    text = " ".join(words * 5)
    written = dump({"key": text})
    assert yaml.safe_load(written) == {"key": text}
    assert all(len(line) <= 100 or " " not in line.strip() for line in written.splitlines())
