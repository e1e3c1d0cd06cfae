"""Settings: defaults, .env, and one-line errors that name the setting."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from account_binding.settings import SettingsError, load_settings


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
    assert load(tmp_path, SECRET_KEY="given").secret_key() == "given"


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
        ({"PORT": "70000"}, "PORT must be between 0 and 65535"),
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
        load(tmp_path, SECRET_KEY="k", **environ)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_database_must_not_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="DATABASE must be a file path"):
        load_settings({"DATABASE": str(tmp_path), "SECRET_KEY": "k"}, env_file=None)
