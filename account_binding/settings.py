"""Every setting of the app, read in one place from the environment and an optional `.env`.

The environment wins over `.env`. A bad value raises `SettingsError` with a one-line message
that names the setting; the command line prints it and exits without a traceback.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import SplitResult, urlsplit

import idna
from dotenv import dotenv_values

log = logging.getLogger(__name__)

DEFAULT_SLACK_API_URL = "https://slack.com/api/"

#: SECRET_KEY's least length in characters: 32 random URL-safe characters carry 192 bits.
MIN_SECRET_KEY_LENGTH = 32
MAKE_A_KEY = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    """The settings, validated. Secrets are kept out of `repr` and `str`."""

    slack_bot_token: str | None = field(repr=False)
    slack_app_token: str | None = field(repr=False)
    slack_api_url: str
    public_url: str
    host: str
    port: int
    database: Path
    binding_ttl: int
    configured_secret_key: str | None = field(repr=False)
    internal_app_name: str
    internal_api_url: str
    sandbox_port: int
    log_level: str
    require_email_match: bool
    session_idle_timeout: int
    session_max_age: int
    login_max_failures: int
    login_max_failures_per_address: int
    login_lockout_seconds: int
    login_slowdown_seconds: float
    trusted_proxies: tuple[str, ...]
    #: Largest request body the site reads, in bytes.
    max_body_bytes: int = 16384
    #: Total deadline in seconds of a users.info call made while a person waits for a page.
    slack_page_timeout: float = 2.0
    #: Links one Slack identity may be issued in an hour.
    links_per_hour: int = 10
    #: Days the audit log keeps an entry.
    audit_retention_days: int = 365
    # Temporary, in the old style, until the settings declaration lands (issue 8):
    #: How the Slack side acts in the internal application: a personal token, or a service
    #: credential naming the user.
    act_as: Literal["token", "service"] = "token"
    #: Seconds a personal API token works after binding; None: no expiry.
    api_token_ttl: int | None = None
    #: The client allowed to introspect tokens (RFC 7662); both set or neither.
    introspection_client_id: str | None = None
    introspection_client_secret: str | None = field(default=None, repr=False)

    @property
    def has_slack_tokens(self) -> bool:
        return bool(self.slack_bot_token and self.slack_app_token)

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def public_origin(self) -> str:
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def allowed_hosts(self) -> list[str]:
        """Host headers the site answers: PUBLIC_URL's host, and loopback names."""
        host = urlsplit(self.public_url).hostname or "localhost"
        return sorted({host, "localhost", "127.0.0.1", "[::1]", "::1"})

    def secret_key(self) -> str:
        """SECRET_KEY, or the key generated and kept beside the database (made on first use)."""
        return self.configured_secret_key or _stored_secret_key(self.database)


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> Settings:
    """Read the settings; `environ` defaults to `os.environ`, `env_file` to `./.env`."""
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        try:
            with env_file.open(encoding="utf-8") as stream:
                read = dotenv_values(stream=stream)
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
            raise SettingsError(f"Cannot read {env_file}: {reason}") from None
        values.update({k: v for k, v in read.items() if v is not None})
    values.update(os.environ if environ is None else environ)
    raw = {k: v.strip() for k, v in values.items()}

    def get(name: str) -> str | None:
        value = raw.get(name)
        return value if value else None

    bot_token = get("SLACK_BOT_TOKEN")
    app_token = get("SLACK_APP_TOKEN")
    if bot_token and not bot_token.startswith("xoxb-"):
        raise SettingsError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
    if app_token and not app_token.startswith("xapp-"):
        raise SettingsError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
    if bool(bot_token) != bool(app_token):
        present, missing = (
            ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")
            if bot_token
            else ("SLACK_APP_TOKEN", "SLACK_BOT_TOKEN")
        )
        raise SettingsError(
            f"{present} is set but {missing} is not: set both, or neither for the sandbox"
        )

    port = _port("PORT", get("PORT"), 8000)
    host = get("HOST") or "127.0.0.1"
    wildcard = _is_wildcard(host)
    if wildcard and not get("PUBLIC_URL"):
        raise SettingsError(
            f"HOST={host} listens on every address, so links cannot name this site by "
            "itself: set PUBLIC_URL to the address people's browsers use, such as "
            "https://slack-binding.intranet.example"
        )
    public_url = _url("PUBLIC_URL", get("PUBLIC_URL") or f"http://localhost:{port}")
    if urlsplit(public_url).path not in ("", "/"):
        raise SettingsError(
            f"PUBLIC_URL must be the root of a host name (the site serves at /), not "
            f"{public_url!r}: give the site a host name of its own"
        )
    database = Path(get("DATABASE") or "account-binding.sqlite3")
    if database.is_dir():
        raise SettingsError(f"DATABASE must be a file path, but {database} is a directory")
    loopback = "127.0.0.1" if wildcard else host
    sandbox_port = _port(
        "SANDBOX_PORT", get("SANDBOX_PORT"), port + 1 if port < 65535 else port - 1
    )
    if sandbox_port == port:
        raise SettingsError(f"SANDBOX_PORT must differ from PORT, not both {port}")
    secret_key = get("SECRET_KEY")
    if secret_key is not None:
        check_secret_key(secret_key, "SECRET_KEY")
    act_as = get("ACT_AS") or "token"
    if act_as not in ("token", "service"):
        raise SettingsError(f"ACT_AS must be token or service, not {act_as!r}")
    ttl = get("API_TOKEN_TTL")
    introspection_id = get("INTROSPECTION_CLIENT_ID")
    introspection_secret = get("INTROSPECTION_CLIENT_SECRET")
    if bool(introspection_id) != bool(introspection_secret):
        raise SettingsError(
            "Set both INTROSPECTION_CLIENT_ID and INTROSPECTION_CLIENT_SECRET, or neither"
        )
    if introspection_secret is not None:
        check_secret_key(introspection_secret, "INTROSPECTION_CLIENT_SECRET")
    return Settings(
        slack_bot_token=bot_token,
        slack_app_token=app_token,
        slack_api_url=_url(
            "SLACK_API_URL", get("SLACK_API_URL") or DEFAULT_SLACK_API_URL, slash=True
        ),
        public_url=public_url,
        host=host,
        port=port,
        database=database,
        binding_ttl=_int("BINDING_TTL", get("BINDING_TTL"), 600, low=30, high=7 * 24 * 3600),
        configured_secret_key=secret_key,
        internal_app_name=get("INTERNAL_APP_NAME") or "Acme",
        internal_api_url=_url(
            "INTERNAL_API_URL", get("INTERNAL_API_URL") or f"http://{_host_in_url(loopback)}:{port}"
        ),
        sandbox_port=sandbox_port,
        log_level=_log_level(get("LOG_LEVEL") or "INFO"),
        require_email_match=_bool("REQUIRE_EMAIL_MATCH", get("REQUIRE_EMAIL_MATCH"), False),
        session_idle_timeout=_int(
            "SESSION_IDLE_TIMEOUT", get("SESSION_IDLE_TIMEOUT"), 8 * 3600, low=60, high=30 * 86400
        ),
        session_max_age=_int(
            "SESSION_MAX_AGE", get("SESSION_MAX_AGE"), 7 * 86400, low=60, high=365 * 86400
        ),
        login_max_failures=_int(
            "LOGIN_MAX_FAILURES", get("LOGIN_MAX_FAILURES"), 5, low=1, high=1000
        ),
        login_max_failures_per_address=_int(
            "LOGIN_MAX_FAILURES_PER_ADDRESS",
            get("LOGIN_MAX_FAILURES_PER_ADDRESS"),
            20,
            low=1,
            high=100_000,
        ),
        login_lockout_seconds=_int(
            "LOGIN_LOCKOUT_SECONDS", get("LOGIN_LOCKOUT_SECONDS"), 900, low=1, high=86400
        ),
        login_slowdown_seconds=_float(
            "LOGIN_SLOWDOWN_SECONDS", get("LOGIN_SLOWDOWN_SECONDS"), 0.5, low=0.0, high=5.0
        ),
        trusted_proxies=_addresses("TRUSTED_PROXIES", get("TRUSTED_PROXIES")),
        max_body_bytes=_int(
            "MAX_BODY_BYTES", get("MAX_BODY_BYTES"), 16384, low=1024, high=1024 * 1024
        ),
        slack_page_timeout=_float(
            "SLACK_PAGE_TIMEOUT", get("SLACK_PAGE_TIMEOUT"), 2.0, low=0.5, high=10.0
        ),
        links_per_hour=_int("LINKS_PER_HOUR", get("LINKS_PER_HOUR"), 10, low=1, high=1000),
        audit_retention_days=_int(
            "AUDIT_RETENTION_DAYS", get("AUDIT_RETENTION_DAYS"), 365, low=1, high=3650
        ),
        act_as="service" if act_as == "service" else "token",
        api_token_ttl=None
        if ttl is None
        else _int("API_TOKEN_TTL", ttl, 0, low=60, high=315_360_000),
        introspection_client_id=introspection_id,
        introspection_client_secret=introspection_secret,
    )


def check_secret_key(key: str, source: str) -> None:
    """Refuse a key too short or too uniform to be random; `source` names where it came from.

    Raises SettingsError with one line that says how to make a good key.
    """
    if len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) == 1:
        problem = (
            f"has {len(key)} character{'s' if len(key) != 1 else ''}"
            if len(key) < MIN_SECRET_KEY_LENGTH
            else "repeats one character"
        )
        raise SettingsError(
            f"{source} must be at least {MIN_SECRET_KEY_LENGTH} random characters, but it "
            f"{problem}: make one with {MAKE_A_KEY}"
        )


def _int(name: str, value: str | None, default: int, *, low: int, high: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {value!r}") from None
    if not low <= number <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, not {number}")
    return number


def _float(name: str, value: str | None, default: float, *, low: float, high: float) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {value!r}") from None
    if not low <= number <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, not {number}")
    return number


def _bool(name: str, value: str | None, default: bool) -> bool:
    if value is None:
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, not {value!r}")


def _addresses(name: str, value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    addresses = tuple(part.strip() for part in value.split(",") if part.strip())
    for address in addresses:
        try:
            ipaddress.ip_network(address, strict=False)
        except ValueError:
            raise SettingsError(
                f"{name} must be a comma-separated list of IP addresses or networks, not {address!r}"
            ) from None
    return addresses


def _port(name: str, value: str | None, default: int) -> int:
    return _int(name, value, default, low=1, high=65535)


def _is_wildcard(host: str) -> bool:
    """Whether HOST listens on every address (0.0.0.0, ::, and their other spellings)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def _url(name: str, value: str, *, slash: bool = False) -> str:
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise SettingsError(
            f"{name} has a port that is not a number from 1 to 65535: {value!r}"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{name} must be an http:// or https:// URL, not {value!r}")
    if parts.query or parts.fragment:
        raise SettingsError(f"{name} must not have a query or fragment: {value!r}")
    if parts.username is not None or parts.password is not None:
        raise SettingsError(f"{name} must not carry a user name or password")
    value = _normalised_origin(name, parts) + parts.path.rstrip("/")
    return value + "/" if slash else value


DEFAULT_PORTS = {"http": 80, "https": 443}


def _normalised_origin(name: str, parts: SplitResult) -> str:
    """scheme://host[:port] as a browser serialises an origin (RFC 6454 section 6.1): scheme
    and host in lower case, a non-ASCII host name in its IDNA (punycode) form, no default
    port. A browser's `Origin` and `Host` headers then equal what the site compares them to."""
    scheme = parts.scheme.lower()
    host = parts.hostname or ""  # urlsplit gives it in lower case
    if not host.isascii():
        try:  # UTS #46 with IDNA 2008, as browsers map host names ("straße" stays "ß")
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError:
            raise SettingsError(f"{name} has a host name that is not valid: {host!r}") from None
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    return f"{scheme}://{host}" + (f":{port}" if port and port != DEFAULT_PORTS[scheme] else "")


def _host_in_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {value!r}")
    return level


def _stored_secret_key(database: Path) -> str:
    """The generated key kept beside the database, made on first use.

    The file is made under another name (O_EXCL|O_NOFOLLOW, mode 0600) and linked into
    place, so no process ever reads a half-written key and nothing is written through a link
    or into a file someone else made. An existing file that is a link, not a regular file,
    open to group or others, empty or too weak raises SettingsError naming the file.
    """
    path = database.with_name(database.name + ".secret-key")
    key = _read_key_file(path)
    if key is not None:
        return key
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = secrets.token_urlsafe(32)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(
            temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(key + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.link(temporary, path, follow_symlinks=False)
        except FileExistsError:
            # Another process made it first (or a link appeared meanwhile): use theirs.
            stored = _read_key_file(path)
            assert stored is not None
            return stored
        finally:
            temporary.unlink(missing_ok=True)
    except OSError as error:
        raise SettingsError(
            f"SECRET_KEY is not set and its file {path} cannot be made: "
            f"{error.strerror or error}; set SECRET_KEY or make the directory writable"
        ) from None
    log.warning(
        "SECRET_KEY is not set: generated one and kept it in %s. Back that file up with the "
        "database, or set SECRET_KEY.",
        path,
    )
    return key


def _read_key_file(path: Path) -> str | None:
    """The key in `path`, None when there is no such file; SettingsError when it is unsafe."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise SettingsError(
            f"Cannot read the SECRET_KEY file {path}: {error.strerror}; set SECRET_KEY, or "
            "give DATABASE a directory this user can use"
        ) from None
    if stat.S_ISLNK(info.st_mode):
        raise SettingsError(
            f"The SECRET_KEY file {path} is a symbolic link: remove it (a new key is then "
            "generated), or set SECRET_KEY"
        )
    if not stat.S_ISREG(info.st_mode):
        raise SettingsError(f"The SECRET_KEY file {path} is not a regular file: remove it")
    if info.st_mode & 0o077:
        raise SettingsError(
            f"The SECRET_KEY file {path} is open to others (mode "
            f"{stat.S_IMODE(info.st_mode):o}): if nobody else can have read it, run "
            f"chmod 600 {path}; otherwise remove it and link again, or set SECRET_KEY"
        )
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd) as handle:
            key = handle.read().strip()
    except OSError as error:
        raise SettingsError(f"Cannot read the SECRET_KEY file {path}: {error.strerror}") from None
    if not key:
        raise SettingsError(
            f"The SECRET_KEY file {path} is empty: remove it (a new key is then generated), "
            "or set SECRET_KEY"
        )
    check_secret_key(key, f"The key in {path}")
    return key
