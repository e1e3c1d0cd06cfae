"""Settings: defaults, .env, and one-line errors that name the setting."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from account_binding.settings import Settings, SettingsError, load_settings

KEY = "x4Jq0r2mT8vLw6bN1cZs9eYh3uKd5fGa7pRt"  # 36 random characters
CLIENT_SECRET = "Vb7pQ2rT9xKm4LwZ8cN1sYd6fHj3gAe5uRq0"  # 36 random characters


def load(tmp_path: Path, **environ: str):  # type: ignore[no-untyped-def]
    return load_settings({"DATABASE": str(tmp_path / "db.sqlite3"), **environ}, env_file=None)


def test_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert settings.slack_bot_token is None and not settings.has_slack_tokens
    assert settings.slack_api_url == "https://slack.com/api/"
    assert (settings.host, settings.port, settings.sandbox_port) == ("127.0.0.1", 8000, 8001)
    assert settings.public_url == "http://localhost:8000"
    assert settings.internal_api_url == "http://127.0.0.1:8000"
    assert settings.binding_ttl == 600
    assert settings.internal_app_name == "Acme"
    assert not settings.secure_cookies


def test_a_generated_secret_key_is_kept_beside_the_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = load(tmp_path)
    key_file = tmp_path / "db.sqlite3.secret-key"
    assert not key_file.exists()  # made when first needed, not when settings are read
    key = first.secret_key()
    assert key_file.read_text().strip() == key and len(key) >= 43
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "SECRET_KEY is not set" in caplog.text
    assert load(tmp_path).secret_key() == first.secret_key()
    assert load(tmp_path, SECRET_KEY=KEY).secret_key() == KEY


def test_env_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=9000\nINTERNAL_APP_NAME='Intranet'\n")
    settings = load_settings({"DATABASE": str(tmp_path / "d"), "PORT": "9100"}, env_file=env_file)
    assert settings.port == 9100 and settings.internal_app_name == "Intranet"
    assert settings.public_url == "http://localhost:9100"


def test_https_public_url_makes_cookies_secure(tmp_path: Path) -> None:
    assert load(tmp_path, PUBLIC_URL="https://bind.intranet.example/").secure_cookies
    assert (
        load(tmp_path, PUBLIC_URL="https://bind.intranet.example/").public_url
        == "https://bind.intranet.example"
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PORT": "eighty"}, "PORT must be a whole number"),
        ({"PORT": "70000"}, "PORT must be between 1 and 65535"),
        ({"PORT": "0"}, "PORT must be between 1 and 65535, not 0"),
        ({"SANDBOX_PORT": "0"}, "SANDBOX_PORT must be between 1 and 65535, not 0"),
        ({"PORT": "9000", "SANDBOX_PORT": "9000"}, "SANDBOX_PORT must differ from PORT"),
        (
            {"PORT": "9000", "SANDBOX_PORT": "9001", "SANDBOX_OIDC_PORT": "9001"},
            "SANDBOX_OIDC_PORT must differ from PORT and SANDBOX_PORT",
        ),
        ({"PUBLIC_URL": "http://bind.example:99999"}, "PUBLIC_URL has a port that is not"),
        ({"PUBLIC_URL": "http://me:pw@bind.example"}, "PUBLIC_URL must not carry a user name"),
        ({"HOST": "0.0.0.0"}, "HOST=0.0.0.0 listens on every address"),
        ({"HOST": "::"}, "HOST=:: listens on every address"),
        ({"HOST": "0:0:0:0:0:0:0:0"}, "set PUBLIC_URL"),
        ({"PUBLIC_URL": "http://intranet.example/binding"}, "PUBLIC_URL must be the root"),
        ({"PUBLIC_URL": "https://intranet.example/binding/"}, "PUBLIC_URL must be the root"),
        ({"MAX_BODY_BYTES": "100"}, "MAX_BODY_BYTES must be between 1024 and 1048576"),
        ({"SLACK_PAGE_TIMEOUT": "30"}, "SLACK_PAGE_TIMEOUT must be between 0.5 and 10.0"),
        ({"LINKS_PER_HOUR": "0"}, "LINKS_PER_HOUR must be between 1 and 1000"),
        ({"AUDIT_RETENTION_DAYS": "0"}, "AUDIT_RETENTION_DAYS must be between 1 and 3650"),
        ({"BINDING_TTL": "5"}, "BINDING_TTL must be between 30"),
        ({"PUBLIC_URL": "intranet"}, "PUBLIC_URL must be an http:// or https:// URL"),
        ({"SLACK_API_URL": "ftp://x"}, "SLACK_API_URL must be an http:// or https:// URL"),
        ({"INTERNAL_API_URL": "http://x/?a=1"}, "INTERNAL_API_URL must not have a query"),
        ({"SLACK_BOT_TOKEN": "xoxp-user"}, "SLACK_BOT_TOKEN must be a bot token"),
        ({"SLACK_APP_TOKEN": "xoxb-1"}, "SLACK_APP_TOKEN must be an app-level token"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_BOT_TOKEN is set but SLACK_APP_TOKEN is not"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL must be"),
    ],
)
def test_a_bad_setting_is_named_in_one_line(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as error:
        load(tmp_path, SECRET_KEY=KEY, **environ)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("port", "sandbox_port", "derived"),
    [(9000, 9002, 9003), (9000, 9001, 9002), (65535, 65533, 65532), (65531, 65529, 65528)],
)
def test_the_sandbox_providers_port_steps_past_a_sandbox_port_set_where_it_would_go(
    tmp_path: Path, port: int, sandbox_port: int, derived: int
) -> None:
    """Not given, SANDBOX_OIDC_PORT is PORT + 2 (PORT - 2 near the top), or the next port on
    when SANDBOX_PORT is there: two free ports picked for PORT and SANDBOX_PORT are often two
    apart, and a setting nobody gave must not stop the start."""
    settings = load(tmp_path, SECRET_KEY=KEY, PORT=str(port), SANDBOX_PORT=str(sandbox_port))
    assert settings.sandbox_oidc_port == derived


def test_database_must_not_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="DATABASE must be a file path"):
        load_settings({"DATABASE": str(tmp_path), "SECRET_KEY": KEY}, env_file=None)


def test_the_new_settings_have_their_documented_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert settings.max_body_bytes == 16384
    assert settings.slack_page_timeout == 2.0
    assert settings.links_per_hour == 10
    assert settings.audit_retention_days == 365
    tuned = load(
        tmp_path,
        MAX_BODY_BYTES="2048",
        SLACK_PAGE_TIMEOUT="0.5",
        LINKS_PER_HOUR="3",
        AUDIT_RETENTION_DAYS="30",
    )
    assert (tuned.max_body_bytes, tuned.slack_page_timeout) == (2048, 0.5)
    assert (tuned.links_per_hour, tuned.audit_retention_days) == (3, 30)


def test_a_wildcard_host_works_with_a_public_url(tmp_path: Path) -> None:
    settings = load(tmp_path, HOST="0.0.0.0", PUBLIC_URL="https://bind.intranet.example")
    assert settings.public_url == "https://bind.intranet.example"
    assert settings.internal_api_url == "http://127.0.0.1:8000"  # loopback, not the wildcard


def test_the_default_sandbox_port_is_valid_at_the_top_port(tmp_path: Path) -> None:
    assert load(tmp_path, PORT="65535").sandbox_port == 65534
    assert load(tmp_path, PORT="1").sandbox_port == 2


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("short", "but it has 5 characters"),
        ("a" * 31, "but it has 31 characters"),
        ("a" * 64, "but it repeats one character"),
    ],
)
def test_a_weak_secret_key_is_refused_with_how_to_make_one(
    tmp_path: Path, key: str, problem: str
) -> None:
    with pytest.raises(SettingsError) as error:
        load(tmp_path, SECRET_KEY=key)
    message = str(error.value)
    assert message.startswith("SECRET_KEY must be at least 32 random characters")
    assert problem in message and "\n" not in message
    assert "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'" in message
    assert key not in message.split(":")[0]


def _key_file(tmp_path: Path) -> Path:
    return tmp_path / "db.sqlite3.secret-key"


def _refused(tmp_path: Path, *words: str) -> None:
    with pytest.raises(SettingsError) as error:
        load(tmp_path).secret_key()
    message = str(error.value)
    assert str(_key_file(tmp_path)) in message and "\n" not in message, message
    for word in words:
        assert word in message, message


def test_the_generated_key_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        key = load(tmp_path).secret_key()
    finally:
        os.umask(old)
    assert stat.S_IMODE(_key_file(tmp_path).stat().st_mode) == 0o600
    assert _key_file(tmp_path).read_text() == key + "\n"
    assert [p.name for p in tmp_path.iterdir()] == [_key_file(tmp_path).name]  # no leftovers


def test_a_key_file_open_to_others_stops_the_start(tmp_path: Path) -> None:
    for mode in (0o666, 0o644, 0o640, 0o620):
        _key_file(tmp_path).write_text(KEY + "\n")
        os.chmod(_key_file(tmp_path), mode)
        _refused(tmp_path, "open to others", f"mode {mode:o}", "chmod 600")
    os.chmod(_key_file(tmp_path), 0o600)
    assert load(tmp_path).secret_key() == KEY


def test_an_empty_pre_made_key_file_is_never_written_into(tmp_path: Path) -> None:
    """The issue's input: a pre-made empty key file with mode 0666."""
    _key_file(tmp_path).touch()
    os.chmod(_key_file(tmp_path), 0o666)
    _refused(tmp_path, "open to others")
    os.chmod(_key_file(tmp_path), 0o600)
    _refused(tmp_path, "is empty", "remove it")
    assert _key_file(tmp_path).read_text() == ""
    _key_file(tmp_path).write_text("too-short\n")
    _refused(tmp_path, "must be at least 32 random characters")


def test_a_key_file_that_is_a_link_stops_the_start_and_nothing_is_written_through_it(
    tmp_path: Path,
) -> None:
    target = tmp_path / "elsewhere"
    _key_file(tmp_path).symlink_to(target)  # dangling
    _refused(tmp_path, "symbolic link")
    assert not target.exists()
    target.write_text(KEY + "\n")
    os.chmod(target, 0o600)
    _refused(tmp_path, "symbolic link")
    assert target.read_text() == KEY + "\n"


def test_settings_hold_secrets_out_of_repr_and_str(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        SLACK_BOT_TOKEN="xoxb-bot-secret-value",
        SLACK_APP_TOKEN="xapp-app-secret-value",
        SECRET_KEY=KEY,
        ACT_AS="service",
        INTERNAL_API_TOKEN="service-secret-value",
        INTROSPECTION_CLIENT_ID="resource-server",
        INTROSPECTION_CLIENT_SECRET=CLIENT_SECRET,
    )
    for text in (repr(settings), str(settings)):
        assert "bot-secret-value" not in text and "app-secret-value" not in text
        assert KEY not in text and CLIENT_SECRET not in text
        assert "service-secret-value" not in text
        assert "database=" in text  # the rest is still there to debug with
    assert settings.slack_bot_token is not None and settings.slack_app_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-bot-secret-value"
    assert settings.slack_app_token.get_secret_value() == "xapp-app-secret-value"
    assert settings.internal_api_token is not None
    assert settings.internal_api_token.get_secret_value() == "service-secret-value"
    assert settings.introspection_client_secret is not None
    assert settings.introspection_client_secret.get_secret_value() == CLIENT_SECRET
    assert settings.secret_key() == KEY


KEY_AT = """
import sys, time
from pathlib import Path
from account_binding.settings import load_settings
database, start = sys.argv[1], float(sys.argv[2])
settings = load_settings({"DATABASE": database}, env_file=None)
time.sleep(max(0.0, start - time.time()))
print(settings.secret_key())
"""


def test_processes_starting_at_once_share_one_generated_key(tmp_path: Path) -> None:
    """Real child processes generate the key at one moment: one file, one key for all, and
    none reads it half-written."""
    for round_ in range(3):
        database = tmp_path / f"round-{round_}" / "db.sqlite3"
        start = time.time() + 1.5
        children = [
            subprocess.Popen(
                [sys.executable, "-c", KEY_AT, str(database), str(start)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
            )
            for _ in range(6)
        ]
        keys = set()
        for child in children:
            out, err = child.communicate(timeout=60)
            assert child.returncode == 0, err
            keys.add(out.strip())
        assert len(keys) == 1
        assert database.with_name("db.sqlite3.secret-key").read_text() == keys.pop() + "\n"
        assert [p.name for p in database.parent.iterdir()] == ["db.sqlite3.secret-key"]


def test_a_key_file_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    settings = load_settings({"DATABASE": str(tmp_path / "a-file" / "db.sqlite3")}, env_file=None)
    with pytest.raises(SettingsError) as error:
        settings.secret_key()
    assert "SECRET_KEY" in str(error.value) and "set SECRET_KEY" in str(error.value)
    assert str(tmp_path / "a-file") in str(error.value)
    assert "\n" not in str(error.value)


def test_an_unreadable_env_file_is_one_line(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_bytes(b"PORT=\xff\xfe\n")
    with pytest.raises(SettingsError) as error:
        load_settings({"DATABASE": str(tmp_path / "d")}, env_file=env_file)
    assert str(error.value) == f"Cannot read {env_file}: it is not UTF-8 text"


@pytest.mark.parametrize(
    ("public_url", "origin", "host"),
    [
        ("http://ACME.test:18095", "http://acme.test:18095", "acme.test"),
        ("HTTP://acme.test:80/", "http://acme.test", "acme.test"),
        ("https://acme.test:443", "https://acme.test", "acme.test"),
        ("http://bücher.test:18097", "http://xn--bcher-kva.test:18097", "xn--bcher-kva.test"),
        ("http://[::1]:8000", "http://[::1]:8000", "::1"),
    ],
)
def test_public_url_is_the_origin_a_browser_sends(
    tmp_path: Path, public_url: str, origin: str, host: str
) -> None:
    """Browsers send Origin and Host in lower case, in IDNA form, without a default port
    (RFC 6454 6.1): a PUBLIC_URL written otherwise must still accept the site's own forms."""
    settings = load(tmp_path, PUBLIC_URL=public_url)
    assert settings.public_origin == origin
    assert settings.public_url == origin
    assert host in settings.allowed_hosts
    assert settings.secure_cookies == origin.startswith("https://")


def test_public_url_maps_a_host_name_as_browsers_do(tmp_path: Path) -> None:
    """UTS #46 with IDNA 2008, as Chromium: "straße" is its own name, not "strasse"."""
    settings = load(tmp_path, PUBLIC_URL="http://straße.test:18441")
    assert settings.public_origin == "http://xn--strae-oqa.test:18441"
    with pytest.raises(SettingsError, match="PUBLIC_URL"):
        load(tmp_path, PUBLIC_URL="http://a\u200fb.test")


def test_the_issue_8_settings_have_their_agreed_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert settings.command_plugins == () and settings.command_timeout == 30.0
    assert settings.act_as == "token" and settings.api_token_ttl is None
    assert settings.internal_api_token is None
    assert (settings.introspection_client_id, settings.introspection_client_secret) == (None, None)
    assert settings.impersonate_header == "Impersonate-User"
    assert settings.serves_stand_in


def test_the_issue_8_settings_are_read(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        COMMAND_PLUGINS=" acme_oncall.plugin:commands.all, acme-expenses ,, Acme Travel, * ",
        COMMAND_TIMEOUT="2.5",
        ACT_AS="Service",
        INTERNAL_API_TOKEN="c2VydmljZS1jcmVkZW50aWFs==",
        IMPERSONATE_HEADER="X-Acme-On-Behalf-Of",
        API_TOKEN_TTL="3600",
        INTROSPECTION_CLIENT_ID="acme-api",
        INTROSPECTION_CLIENT_SECRET=CLIENT_SECRET,
        INTERNAL_API_URL="https://api.intranet.example/v1/",
    )
    assert settings.command_plugins == (
        "acme_oncall.plugin:commands.all",
        "acme-expenses",
        "Acme Travel",  # an entry-point name may hold spaces
        "*",
    )
    assert settings.command_timeout == 2.5 and settings.act_as == "service"
    assert settings.impersonate_header == "X-Acme-On-Behalf-Of"
    assert settings.api_token_ttl == 3600
    assert settings.introspection_client_id == "acme-api"
    assert settings.internal_api_url == "https://api.intranet.example/v1"
    assert not settings.serves_stand_in


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ACT_AS": "saml"}, "ACT_AS must be token, service or oauth2, not 'saml'"),
        ({"ACT_AS": "service"}, "ACT_AS=service needs INTERNAL_API_TOKEN"),
        ({"COMMAND_TIMEOUT": "0.5"}, "COMMAND_TIMEOUT must be between 1.0 and 300.0"),
        ({"COMMAND_TIMEOUT": "301"}, "COMMAND_TIMEOUT must be between 1.0 and 300.0"),
        ({"COMMAND_TIMEOUT": "soon"}, "COMMAND_TIMEOUT must be a number, not 'soon'"),
        ({"API_TOKEN_TTL": "59"}, "API_TOKEN_TTL must be between 60 and 315360000, not 59"),
        ({"API_TOKEN_TTL": "315360001"}, "API_TOKEN_TTL must be between 60 and 315360000"),
        ({"API_TOKEN_TTL": "1h"}, "API_TOKEN_TTL must be a whole number, not '1h'"),
        ({"COMMAND_PLUGINS": "acme:"}, "COMMAND_PLUGINS must be a comma-separated list"),
        ({"COMMAND_PLUGINS": "*, :commands"}, "not ':commands'"),
        ({"COMMAND_PLUGINS": "acme-oncall:commands"}, "not 'acme-oncall:commands'"),
        ({"COMMAND_PLUGINS": "acme.oncall:commands."}, "not 'acme.oncall:commands.'"),
        ({"COMMAND_PLUGINS": "acme=acme.oncall:commands"}, "not 'acme=acme.oncall:commands'"),
        ({"IMPERSONATE_HEADER": "Impersonate User"}, "IMPERSONATE_HEADER must be an HTTP field"),
        ({"IMPERSONATE_HEADER": "X-User:"}, "IMPERSONATE_HEADER must be an HTTP field"),
        ({"IMPERSONATE_HEADER": "authorization"}, "IMPERSONATE_HEADER must name a header"),
        ({"IMPERSONATE_HEADER": "Host"}, "IMPERSONATE_HEADER must name a header"),
        ({"IMPERSONATE_HEADER": "COOKIE"}, "IMPERSONATE_HEADER must name a header"),
        ({"IMPERSONATE_HEADER": "Content-Length"}, "IMPERSONATE_HEADER must name a header"),
        ({"IMPERSONATE_HEADER": "content-type"}, "IMPERSONATE_HEADER must name a header"),
        ({"IMPERSONATE_HEADER": "Transfer-Encoding"}, "IMPERSONATE_HEADER must name a header"),
        ({"IMPERSONATE_HEADER": "Connection"}, "IMPERSONATE_HEADER must name a header"),
        (
            {"INTROSPECTION_CLIENT_ID": "acme-api"},
            "INTROSPECTION_CLIENT_ID is set but INTROSPECTION_CLIENT_SECRET is not",
        ),
        (
            {"INTROSPECTION_CLIENT_SECRET": CLIENT_SECRET},
            "INTROSPECTION_CLIENT_SECRET is set but INTROSPECTION_CLIENT_ID is not",
        ),
        (
            {"INTROSPECTION_CLIENT_ID": "acme-api", "INTROSPECTION_CLIENT_SECRET": "a" * 31},
            "INTROSPECTION_CLIENT_SECRET must be at least 32 random characters",
        ),
        (
            {"INTROSPECTION_CLIENT_ID": "acme-api", "INTROSPECTION_CLIENT_SECRET": "b" * 40},
            "INTROSPECTION_CLIENT_SECRET must be at least 32 random characters",
        ),
        (
            {"METRICS_TOKEN": "abc"},
            "METRICS_TOKEN must be at least 32 random characters",
        ),
        (
            {"METRICS_TOKEN": "has space " + CLIENT_SECRET},
            "METRICS_TOKEN must be a bearer token",
        ),
        (
            {"METRICS_TOKEN": "\u00e9\u20ac" * 20},
            "METRICS_TOKEN must be a bearer token",
        ),
        (
            {"INTROSPECTION_CLIENT_ID": "acme\u00e9", "INTROSPECTION_CLIENT_SECRET": CLIENT_SECRET},
            "INTROSPECTION_CLIENT_ID must be printable ASCII",
        ),
        (
            {"ACT_AS": "service", "INTERNAL_API_TOKEN": "two words"},
            "INTERNAL_API_TOKEN must be a bearer token",
        ),
        ({"REQUIRE_EMAIL_MATCH": "maybe"}, "REQUIRE_EMAIL_MATCH must be true or false"),
        ({"TRUSTED_PROXIES": "10.0.0.0/8, proxy"}, "TRUSTED_PROXIES must be a comma-separated"),
        ({"DATABASE": "."}, "DATABASE must be a file path"),
    ],
)
def test_a_bad_issue_8_setting_is_named_in_one_line(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as error:
        load(tmp_path, SECRET_KEY=KEY, **environ)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("INTERNAL_API_TOKEN", "secret value with spaces"),
        ("INTROSPECTION_CLIENT_SECRET", "short-secret-value"),
        ("INTROSPECTION_CLIENT_SECRET", "secret-value-\u00e9" * 4),
        ("SLACK_BOT_TOKEN", "xoxp-a-user-token-value"),
        ("SLACK_APP_TOKEN", "xoxb-a-bot-token-value"),
        ("SECRET_KEY", "short-key-value"),
    ],
)
def test_a_refused_secret_is_not_repeated_in_the_message(
    tmp_path: Path, name: str, value: str
) -> None:
    environ = {"ACT_AS": "service", "INTERNAL_API_TOKEN": "ok", name: value}
    environ.setdefault("INTROSPECTION_CLIENT_ID", "acme-api")
    if name.startswith("SLACK_"):
        environ.setdefault("SLACK_BOT_TOKEN", "xoxb-1")
        environ.setdefault("SLACK_APP_TOKEN", "xapp-1")
    with pytest.raises(SettingsError) as error:
        load(tmp_path, **environ)
    assert name in str(error.value)
    assert value not in str(error.value)


def test_values_are_stripped_and_an_empty_value_is_unset(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=9000\nINTERNAL_APP_NAME=Intranet\nLOG_LEVEL=debug\n")
    settings = load_settings(
        {
            "DATABASE": f"  {tmp_path / 'd'}  ",
            "PORT": "",  # empty: unset, also when .env sets it (the environment wins)
            "INTERNAL_APP_NAME": "  Acme Intranet\t",
            "SLACK_BOT_TOKEN": "   ",
            "SLACK_APP_TOKEN": "",
            "SECRET_KEY": " ",
            "INTERNAL_API_URL": "",
            "HOST": " 127.0.0.1 ",
        },
        env_file=env_file,
    )
    assert settings.port == 8000 and settings.internal_app_name == "Acme Intranet"
    assert settings.database == tmp_path / "d" and settings.host == "127.0.0.1"
    assert not settings.has_slack_tokens and settings.configured_secret_key is None
    assert settings.serves_stand_in and settings.log_level == "DEBUG"


def test_the_given_mapping_is_all_that_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORT", "9300")
    monkeypatch.setenv("DATABASE", str(tmp_path / "from-environment"))
    assert load(tmp_path).port == 8000  # a test's mapping: the process environment is not read
    from_environment = load_settings(env_file=None)
    assert from_environment.port == 9300
    assert from_environment.database == tmp_path / "from-environment"


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load(tmp_path)
    with pytest.raises(ValidationError):
        settings.port = 9  # type: ignore[misc]


# --- Findings of the attack review of issue 8 (moved from test_attack_i8.py) ---------------


@pytest.mark.parametrize(
    "host", ["1.2.3.4:80", "[::1]", "[", "a:b:c", "0", "127.1", "0x7f.1", "010.0.0.1", "ex_ample"]
)
def test_a_bad_host_is_refused_naming_host(tmp_path: Path, host: str) -> None:
    """A port, brackets, a name that is not RFC 1123's, or a legacy spelling of an IPv4
    address ("0" binds 0.0.0.0, every address, without asking for PUBLIC_URL)."""
    with pytest.raises(SettingsError) as raised:
        load_settings({"DATABASE": str(tmp_path / "db"), "HOST": host}, env_file=None)
    assert str(raised.value).startswith("HOST"), str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "host", ["a/b", "exa mple", "a?b", "-a.example", "a..b", "a.", "münchen.example", "x" * 64]
)
def test_a_host_that_is_not_a_host_name_is_refused(tmp_path: Path, host: str) -> None:
    with pytest.raises(SettingsError, match="HOST"):
        load_settings({"DATABASE": str(tmp_path / "db"), "HOST": host}, env_file=None)


@pytest.mark.parametrize("host", ["fe80::1%a/b", "fe80::1%a b"])
def test_a_host_address_with_a_zone_that_is_no_interface_is_refused(
    tmp_path: Path, host: str
) -> None:
    """Python's ipaddress takes any text after %; in a URL it is a path or breaks it."""
    with pytest.raises(SettingsError, match=r"^HOST must be"):
        load(tmp_path, HOST=host)


@pytest.mark.parametrize(
    ("host", "internal_api_url"),
    [
        ("localhost", "http://localhost:8000"),
        ("bind-1.intranet.example", "http://bind-1.intranet.example:8000"),
        ("10.0.0.7", "http://10.0.0.7:8000"),
        ("::1", "http://[::1]:8000"),
        ("fe80::1%eth0", "http://[fe80::1%eth0]:8000"),
    ],
)
def test_a_host_name_or_ip_address_is_taken(
    tmp_path: Path, host: str, internal_api_url: str
) -> None:
    settings = load(tmp_path, HOST=host)
    assert (settings.host, settings.internal_api_url) == (host, internal_api_url)


def test_an_ipv4_mapped_wildcard_host_needs_a_public_url(tmp_path: Path) -> None:
    """::ffff:0.0.0.0 takes connections to every IPv4 address, like 0.0.0.0."""
    with pytest.raises(SettingsError, match="listens on every address"):
        load(tmp_path, HOST="::ffff:0.0.0.0")


def test_an_error_across_settings_names_the_setting_not_the_input(tmp_path: Path) -> None:
    """The check across settings, given a HOST its own check would refuse (as any value a
    field check lets through): one line naming HOST, never pydantic's ValueError, whose
    input is every setting given."""
    settings = Settings.model_construct(
        _fields_set={"host", "database", "configured_secret_key"},
        host="[",
        database=tmp_path / "db",
        configured_secret_key=SecretStr(KEY),
    )
    with pytest.raises(SettingsError) as raised:
        settings._across()
    assert str(raised.value).startswith("HOST gives no valid default for INTERNAL_API_URL")
    assert KEY not in str(raised.value)


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("PUBLIC_URL", "http://["),
        ("PUBLIC_URL", "http://[::1"),
        ("PUBLIC_URL", "http://[v1.x]/"),
        ("PUBLIC_URL", "http://exa mple"),
        ("PUBLIC_URL", "http://0:8000"),
        ("PUBLIC_URL", "http://0x7f.1"),
        ("INTERNAL_API_URL", "http://a%20b/api"),
        ("INTERNAL_API_URL", "http://a<b/api"),
        ("SLACK_API_URL", "https://slack com/api/"),
    ],
)
def test_a_url_whose_host_is_not_a_host_is_refused(tmp_path: Path, name: str, url: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load(tmp_path, **{name: url})
    assert str(raised.value).startswith(name), str(raised.value)


def test_a_url_may_name_a_host_with_an_underscore(tmp_path: Path) -> None:
    """Names in DNS and in container networks may hold underscores (RFC 2181 section 11)."""
    assert load(tmp_path, INTERNAL_API_URL="http://acme_api:8080").internal_api_url == (
        "http://acme_api:8080"
    )


def test_an_overlong_database_path_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="DATABASE"):
        load_settings({"DATABASE": str(tmp_path / ("x" * 300))}, env_file=None)


def test_a_database_path_that_cannot_be_checked_is_one_line(tmp_path: Path) -> None:
    """An OSError from checking DATABASE, whatever its kind (a path too long, a loop of
    links; with no permission to search a directory too, which root cannot show)."""
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    for database, reason in [
        (tmp_path / "loop" / "db", "Too many levels of symbolic links"),
        (Path("/" + "a/" * 3000 + "db"), "File name too long"),
    ]:
        with pytest.raises(SettingsError) as raised:
            load_settings({"DATABASE": str(database)}, env_file=None)
        assert str(raised.value).startswith(f"DATABASE cannot be used: {reason}")
        assert "\n" not in str(raised.value)


def test_an_env_file_that_cannot_be_checked_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^Cannot read .*File name too long"):
        load_settings({"DATABASE": str(tmp_path / "d")}, env_file=tmp_path / ("x" * 300))


@pytest.mark.parametrize(
    "header",
    [
        "Proxy-Authorization",
        "Keep-Alive",
        "TE",
        "Upgrade",
        "Expect",
        "Forwarded",
        "proxy-connection",
        "Proxy-Authenticate",
        "Trailer",
        "HTTP2-Settings",
        "Max-Forwards",
        "Via",
        "X-Forwarded-For",
        "X-Forwarded-User",
        "X-Real-IP",
        "Set-Cookie",
        "Content-Encoding",
    ],
)
def test_impersonate_header_refuses_headers_proxies_drop_or_rewrite(
    tmp_path: Path, header: str
) -> None:
    """Hop-by-hop fields (RFC 9110 section 7.6.1) and those a proxy owns or rewrites: the
    impersonated name would not arrive intact, or could be set by someone else."""
    with pytest.raises(SettingsError, match="IMPERSONATE_HEADER must name a header of its own"):
        load(tmp_path, IMPERSONATE_HEADER=header)


@pytest.mark.parametrize("header", ["Impersonate-User", "X-Remote-User", "Acme-Acting-For"])
def test_impersonate_header_takes_a_header_of_its_own(tmp_path: Path, header: str) -> None:
    assert load(tmp_path, IMPERSONATE_HEADER=header).impersonate_header == header


ALL_SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-1111-SECRETBOTTOKEN",
    "SLACK_APP_TOKEN": "xapp-1-SECRETAPPTOKEN",
    "SECRET_KEY": "Kq8vX2mP9rT4wY7zB3nF6hJ1cL5dG0sA",
    "ACT_AS": "service",
    "INTERNAL_API_TOKEN": "SERVICEtoken4d8f2a9c7e1b",
    "INTROSPECTION_CLIENT_ID": "company-api",
    "INTROSPECTION_CLIENT_SECRET": "Zp4Qw8Er2Ty6Ui0Op3As7Df1Gh5Jk9Lz",
}


@pytest.mark.parametrize("host", ["1.2.3.4:80", "[::1]", "[", "a:b:c"])
def test_a_start_error_across_settings_echoes_no_secret(tmp_path: Path, host: str) -> None:
    """A bad HOST once failed inside the check across settings, whose error carried every
    setting given: the one line printed at start held every secret in clear."""
    environ = {**ALL_SECRETS, "DATABASE": str(tmp_path / "db"), "HOST": host}
    with pytest.raises(SettingsError) as raised:
        load_settings(environ, env_file=None)
    message = str(raised.value)
    secrets = [v for k, v in ALL_SECRETS.items() if k not in ("ACT_AS", "INTROSPECTION_CLIENT_ID")]
    assert not [secret for secret in secrets if secret in message], message


@pytest.mark.parametrize("network", ["0.0.0.0/0", "::/0", "0.0.0.0/1,128.0.0.0/1"])
def test_proxy_login_refuses_to_trust_every_address(network: str) -> None:
    with pytest.raises(SettingsError, match=r"from any IPv[46] address"):
        load_settings({"AUTH": "proxy", "TRUSTED_PROXIES": f"10.0.0.1,{network}"}, env_file=None)
    assert load_settings({"TRUSTED_PROXIES": network}, env_file=None).trusted_proxies == tuple(
        network.split(",")
    )
