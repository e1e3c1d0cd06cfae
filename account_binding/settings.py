"""Every setting of the app, declared once and read in one place.

`Settings` declares each setting a single time: its environment name (the attribute's name in
upper case, or the field's alias), type, default, bounds and its help, which is also the
README's Configuration table (`markdown_table()`, written there by `make settings-table`).
pydantic-settings validates them; `load_settings` reads the environment and an optional
`.env` (the environment wins; values are stripped; an empty value counts as unset) and turns
any refusal into `SettingsError`, one line that names the setting, which the command line
prints and exits on without a traceback. Secrets are `SecretStr`: `repr`, `str` and logs show
`**********`; callers use `.get_secret_value()`.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import logging
import os
import re
import secrets
import stat
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import SplitResult, urlsplit

import idna
from dotenv import dotenv_values
from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

log = logging.getLogger(__name__)

DEFAULT_SLACK_API_URL = "https://slack.com/api/"

#: SECRET_KEY's least length in characters: 32 random URL-safe characters carry 192 bits.
MIN_SECRET_KEY_LENGTH = 32
MAKE_A_KEY = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"

#: Request fields IMPERSONATE_HEADER may not be: the HTTP client or the server owns them
#: (framing, representation, credentials, cookies), or a proxy on the way drops or rewrites
#: them: connection-specific fields (RFC 9110 section 7.6.1: Connection, Proxy-Connection,
#: Keep-Alive, TE, Transfer-Encoding, Upgrade; also HTTP2-Settings, RFC 9113 section 8.2.2),
#: Trailer (section 6.6.2), Expect (section 10.1.1), Max-Forwards (7.6.2), Via (7.6.3), the
#: forwarding fields (Forwarded, RFC 7239; X-Real-IP) and Set-Cookie (RFC 6265).
RESERVED_HEADERS = frozenset(
    {
        "authorization",
        "host",
        "cookie",
        "set-cookie",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "http2-settings",
        "expect",
        "max-forwards",
        "via",
        "forwarded",
        "x-real-ip",
    }
)
#: Prefixes of reserved request fields: Proxy-* (Proxy-Authorization, Proxy-Authenticate,
#: Proxy-Connection, Proxy-Status: a proxy's own, RFC 9110 section 11.7), Content-* (the
#: representation the client describes, section 8) and X-Forwarded-* (set or overwritten by
#: reverse proxies: -For, -Host, -Proto, -Port, -Prefix, -User...).
RESERVED_HEADER_PREFIXES = ("proxy-", "content-", "x-forwarded-")
#: An HTTP field name: a token (RFC 9110 section 5.1 and 5.6.2).
FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: A bearer token's characters (RFC 6750 section 2.1, b64token).
BEARER_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
#: A client identifier or secret's characters (RFC 6749 appendix A.1 and A.2, VSCHAR).
VSCHARS = re.compile(r"[\x20-\x7e]+")
#: One scope name (RFC 6749 section 3.3, scope-token).
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
#: A claim name in an ID token or userinfo answer.
CLAIM_NAME = re.compile(r"[A-Za-z0-9_.:/-]{1,128}")
#: One COMMAND_PLUGINS entry: `*`; `module:object`, a dotted module path and a dotted
#: attribute path (the object reference of the entry points specification); or an entry-point
#: name, which may hold any character but `=` (and, here, `:`, which marks a reference).
PLUGIN_REFERENCE = re.compile(
    r"\*"
    r"|[^\W\d]\w*(?:\.[^\W\d]\w*)*:[^\W\d]\w*(?:\.[^\W\d]\w*)*"
    r"|[^=:\[\s][^=:]*"
)


#: The actions that may start binding (BINDING_TRIGGERS), in the README's order.
BINDING_TRIGGERS = ("command", "link", "home", "shortcut")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it."""


def _shown(default: str) -> dict[str, Any]:
    """The default as the README's table shows it, for a default that other settings decide."""
    return {"shown_default": default}


def _flag(value: object) -> object:
    """true/false, 1/0, yes/no, on/off (case aside), as the README says."""
    if isinstance(value, str):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError("must be true or false")
    return value


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _comma_separated(value: object) -> object:
    """ "a, b,,c" -> ("a", "b", "c"): blanks around and between entries are ignored."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


Flag = Annotated[bool, BeforeValidator(_flag)]
CommaSeparated = Annotated[tuple[str, ...], BeforeValidator(_comma_separated)]


class Settings(BaseSettings):
    """The settings, validated and frozen. Secrets are kept out of `repr` and `str`.

    Build it with `load_settings`; `Settings(**values)` reads nothing but `values` (keyed by
    environment name, all strings) and raises pydantic's ValidationError.
    """

    model_config = SettingsConfigDict(
        frozen=True,
        extra="ignore",
        case_sensitive=True,
        alias_generator=str.upper,
        validate_default=False,
        hide_input_in_errors=True,
    )

    slack_bot_token: SecretStr | None = Field(
        None,
        description="The bot token (`xoxb-…`). Set both tokens, or neither for the sandbox.",
    )
    slack_app_token: SecretStr | None = Field(
        None,
        description="The app-level token (`xapp-…`, scope `connections:write`) that opens Socket Mode.",
    )
    slack_api_url: str = Field(
        DEFAULT_SLACK_API_URL,
        description="Base URL of Slack's Web API. GovSlack needs its own; tests point it at a fake Slack.",
    )
    public_url: str = Field(
        "",
        description="The base of association URLs as a person's browser reaches this site: a scheme and host name (and port), no path, as the site serves at the root of its host name (behind a proxy, give it a host name of its own rather than a path prefix). Forms are accepted only from its origin. With `https://`, cookies are `Secure` with the `__Host-` prefix and HSTS is sent. Required when `HOST` is a wildcard.",
        json_schema_extra=_shown("`http://localhost:PORT`"),
    )
    host: str = Field(
        "127.0.0.1",
        description="The address the site listens on: an IP address (IPv6 without brackets) or a host name, with no port. Use `0.0.0.0` (or `::`) to serve the intranet, with `PUBLIC_URL` set.",
    )
    port: int = Field(8000, ge=1, le=65535, description="The site's port (1 to 65535).")
    database: Path = Field(
        Path("account-binding.sqlite3"),
        validate_default=True,
        description="The SQLite file, created (mode 600, with its `-wal` and `-shm` files) and migrated at start.",
    )
    binding_ttl: int = Field(
        600,
        ge=30,
        le=7 * 24 * 3600,
        description="Seconds an association URL stays valid (30 to 604800).",
    )
    binding_triggers: CommaSeparated = Field(
        ("command", "link", "home"),
        validate_default=True,
        description='Comma-separated actions that start binding: `command` (any command from a person not yet connected answers with a link), `link` (the `link` subcommand), `home` (the Connect button on the app\'s Home tab) and `shortcut` (the global shortcut "Connect account"). At least one; `account-binding manifest` adds the shortcut to the manifest when it is listed.',
        json_schema_extra=_shown("`command,link,home`"),
    )
    link_delivery: Annotated[Literal["ephemeral", "dm"], BeforeValidator(_lower)] = Field(
        "ephemeral",
        description="Where an association URL goes when a command asks for one: `ephemeral` (a reply only the person sees) or `dm` (a direct message from the app; the reply says to look there). The Home tab's button and the shortcut have no reply to answer in, so they always send it by DM.",
    )
    configured_secret_key: SecretStr | None = Field(
        None,
        alias="SECRET_KEY",
        description=f"Encrypts the personal API tokens the Slack side keeps: at least 32 random characters; make one with `{MAKE_A_KEY}`. When unset, a key is generated, kept beside the database as `<DATABASE>.secret-key` (mode 600) with a warning; back it up with the database. A key file that is a link, is readable or writable by group or others, or is empty stops the start with one line. Changing the key makes existing bindings unusable until people link again.",
        json_schema_extra=_shown("generated"),
    )
    internal_app_name: str = Field(
        "Acme",
        description="The internal application's name in Slack messages and on the pages.",
    )
    internal_api_url: str = Field(
        "",
        description="Where the Slack side calls the internal application's API. Point it at your own system if it serves the same API. Unset, the site serves the stand-in internal application at `/api` and its `todo` commands are on; set, both are off.",
        json_schema_extra=_shown("`http://HOST:PORT` (loopback when `HOST` is a wildcard)"),
    )
    act_as: Annotated[Literal["token", "service", "oauth2"], BeforeValidator(_lower)] = Field(
        "token",
        description="How the Slack side acts in the internal application for a bound person. `token`: with the personal API token binding issued them (your API checks it at the introspection endpoint). `service`: binding issues no token; every call carries the one service credential `INTERNAL_API_TOKEN` and names the person in `IMPERSONATE_HEADER`. `oauth2`: with the person's own OAuth 2.0 access token from your authorization server (`OAUTH2_ISSUER`), granted while binding, refreshed before it expires and revoked at unlink. Tokens issued before a switch to `service` are not revoked but honoured nowhere while it lasts (introspection answers inactive, the stand-in refuses them); switching back to `token` makes them work again within `API_TOKEN_TTL`, so nobody has to link again.",
    )
    oauth2_issuer: str = Field(
        "",
        description="With `ACT_AS=oauth2`, the authorization server that issues the people's tokens (its metadata is read from `/.well-known/openid-configuration`, else `/.well-known/oauth-authorization-server`). `https://` except on a loopback address.",
        json_schema_extra=_shown("`OIDC_ISSUER`"),
    )
    oauth2_client_id: str | None = Field(
        None,
        description="With `ACT_AS=oauth2`, this app's client ID at `OAUTH2_ISSUER`.",
        json_schema_extra=_shown("`OIDC_CLIENT_ID`"),
    )
    oauth2_client_secret: SecretStr | None = Field(
        None,
        description="That client's secret.",
        json_schema_extra=_shown("`OIDC_CLIENT_SECRET`"),
    )
    oauth2_scopes: str = Field(
        "openid offline_access",
        description="Space-separated scopes asked for at binding with `ACT_AS=oauth2`: `openid` (the ID token says whose tokens they are) and what your server needs to issue a refresh token (`offline_access` for most) plus those your API wants.",
    )
    internal_api_token: SecretStr | None = Field(
        None,
        description="The service credential sent as `Authorization: Bearer` with `ACT_AS=service`, which requires it: a bearer token (RFC 6750: letters, digits, `-._~+/`, then any `=`). It lets the Slack side act as anyone: keep it like a password, and let your API accept it only from this app.",
    )
    impersonate_header: str = Field(
        "Impersonate-User",
        description="With `ACT_AS=service`, the request header naming the bound person by their username, which never changes (Kubernetes' convention). An HTTP field name of its own: not one the HTTP client or server owns (`Authorization`, `Host`, `Cookie`, `Set-Cookie`, `Content-*`), nor one a proxy drops or rewrites (`Connection`, `Keep-Alive`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`, `Expect`, `Max-Forwards`, `Via`, `Forwarded`, `X-Forwarded-*`, `X-Real-IP`, `Proxy-*`).",
    )
    api_token_ttl: int | None = Field(
        None,
        ge=60,
        le=315360000,
        description="Seconds a personal API token stays valid after binding (60 to 315360000, ten years); then the Slack side asks the person to link again. It bounds every token by its issue time, also those issued before it was set or lowered. Unset: a token lasts until unlink.",
        json_schema_extra=_shown("unset (no expiry)"),
    )
    introspection_client_id: str | None = Field(
        None,
        description="The client ID your API presents (HTTP Basic) at the token introspection endpoint (RFC 7662) to learn whom a personal API token belongs to. Set both introspection settings or neither: unset, no client can introspect.",
    )
    introspection_client_secret: SecretStr | None = Field(
        None,
        description=f"That client's secret: at least 32 random characters; make one with `{MAKE_A_KEY}`.",
    )
    auth: Annotated[Literal["local", "oidc", "proxy"], BeforeValidator(_lower)] = Field(
        "local",
        description="How people log in to the site. `local`: the built-in accounts (`account-binding user add`). `oidc`: single sign-on with OpenID Connect at `OIDC_ISSUER`; accounts are made from the provider's claims at first login. `proxy`: an authenticating reverse proxy in front (oauth2-proxy and the like) names the person in `PROXY_USER_HEADER`, believed only from `TRUSTED_PROXIES`.",
    )
    oidc_issuer: str = Field(
        "",
        description="With `AUTH=oidc`, the OpenID provider's issuer identifier, such as `https://keycloak.example/realms/acme`; its discovery document is read from `/.well-known/openid-configuration`. `https://` except on a loopback address. Unset in the sandbox, `run` starts a local provider.",
    )
    oidc_client_id: str | None = Field(
        None, description="This site's client ID at the OpenID provider."
    )
    oidc_client_secret: SecretStr | None = Field(
        None,
        description="That client's secret (the client authenticates with HTTP Basic, `client_secret_basic`).",
    )
    oidc_scopes: str = Field(
        "openid email profile",
        description="Space-separated scopes asked for at login; must include `openid`.",
    )
    oidc_username_claim: str = Field(
        "preferred_username",
        description="The ID token or userinfo claim that becomes the internal user name at first login (lower-cased; letters, digits, `.`, `_`, `-`). Accounts are keyed by issuer and subject (`sub`), so a changed claim renames nobody into somebody else.",
    )
    oidc_allowed_domains: CommaSeparated = Field(
        (),
        description="Comma-separated email domains whose people may log in, such as `acme.example`; only an email the provider marks verified (`email_verified`) counts. Unset: anyone the provider logs in.",
    )
    oidc_provider_name: str = Field(
        "",
        description='The provider\'s name on the login button ("Sign in with …").',
        json_schema_extra=_shown("`OIDC_ISSUER`'s host name"),
    )
    proxy_user_header: str = Field(
        "X-Forwarded-User",
        description="With `AUTH=proxy`, the request header in which the proxy names the person (their user name).",
    )
    proxy_email_header: str = Field(
        "X-Forwarded-Email",
        description="With `AUTH=proxy`, the request header carrying the person's email address.",
    )
    provider_timeout: float = Field(
        10.0,
        ge=1.0,
        le=60.0,
        description="Seconds (1 to 60) any one call to an OpenID provider or authorization server (discovery, keys, token, refresh, revocation, userinfo) may take.",
    )
    verify_slack_identity: Flag = Field(
        False,
        description="When `true`, Connect works only after the person also signs in with Slack (Sign in with Slack, OpenID Connect) as the very Slack user and workspace (or Enterprise Grid organisation) the link was issued to. Needs `SLACK_CLIENT_ID`, `SLACK_CLIENT_SECRET`, an `https://` `PUBLIC_URL` and the redirect URL `PUBLIC_URL/slack-identity/callback` in the manifest's `oauth_config.redirect_urls`.",
    )
    slack_client_id: str | None = Field(
        None, description="The Slack app's client ID (Basic Information → App Credentials)."
    )
    slack_client_secret: SecretStr | None = Field(
        None, description="The Slack app's client secret (Basic Information → App Credentials)."
    )
    slack_openid_issuer: str = Field(
        "https://slack.com",
        description="Where Sign in with Slack's discovery document is read (`/.well-known/openid-configuration`). Tests point it at a provider on loopback.",
    )
    command_plugins: CommaSeparated = Field(
        (),
        description="Comma-separated command plugins to load: `module:object`, the name of an installed plugin (entry-point group `account_binding.commands`; the start lists those installed), or `*` for every installed one. Installing a package adds no command until it is named here.",
    )
    command_timeout: float = Field(
        30.0,
        ge=1.0,
        le=300.0,
        description="Seconds (1 to 300) a plugin command may take, all its calls together; then the person is told it did not answer in time. Keep it above `INTERNAL_API_TIMEOUT`, so that one slow call is reported as such.",
    )
    sandbox_port: int = Field(
        0,
        ge=1,
        le=65535,
        description="The sandbox's fake Slack port (loopback only), not `PORT`.",
        json_schema_extra=_shown("`PORT + 1` (`PORT - 1` when `PORT` is 65535)"),
    )
    sandbox_oidc_port: int = Field(
        0,
        ge=1,
        le=65535,
        description="With `AUTH=oidc` (or `ACT_AS=oauth2`) and no `OIDC_ISSUER`, the port (loopback only) of the OpenID provider the sandbox starts.",
        json_schema_extra=_shown(
            "`PORT + 2` (`PORT - 2` past 65530), or the next port on from it when `SANDBOX_PORT` is set there"
        ),
    )
    require_email_match: Flag = Field(
        False,
        description="When `true`, binding is refused (and the link voided) unless the Slack profile's email equals the internal account's email, case aside. Needs the bot scope `users:read.email`: add it to the manifest and reinstall; `run` refuses to start without it.",
    )
    session_idle_timeout: int = Field(
        8 * 3600,
        ge=60,
        le=30 * 86400,
        description="Seconds of inactivity after which a login session ends (60 to 30 days).",
    )
    session_max_age: int = Field(
        7 * 86400,
        ge=60,
        le=365 * 86400,
        description="Seconds after login at which a session ends, active or not (60 to 365 days).",
    )
    login_max_failures: int = Field(
        5,
        ge=1,
        le=1000,
        description="Failed logins for one user name (existing or not) within `LOGIN_LOCKOUT_SECONDS` before that name is refused.",
    )
    login_max_failures_per_address: int = Field(
        20,
        ge=1,
        le=100_000,
        description="Failed logins from one client address within `LOGIN_LOCKOUT_SECONDS` before that address is refused.",
    )
    login_lockout_seconds: int = Field(
        900,
        ge=1,
        le=86400,
        description="The window in which failures count, and how long a lockout lasts.",
    )
    login_slowdown_seconds: float = Field(
        0.5,
        ge=0.0,
        le=5.0,
        description="Each failed login is answered this many seconds later per failure so far (at most 5 s).",
    )
    trusted_proxies: CommaSeparated = Field(
        (),
        description="Comma-separated addresses or networks of reverse proxies whose `X-Forwarded-For` names the client (for the per-address limit and the audit log) and, with `AUTH=proxy`, whose `PROXY_USER_HEADER` names the person. Only the connecting address (the socket's peer) is checked against it. Unset: the connecting address is the client.",
    )
    #: Largest request body the site reads, in bytes.
    max_body_bytes: int = Field(
        16384,
        ge=1024,
        le=1024 * 1024,
        description="The largest request body the site reads, in bytes (1024 to 1048576); a larger one gets 413 before it is parsed. The site's forms are tiny.",
    )
    #: Total deadline in seconds of a users.info call made while a person waits for a page.
    slack_page_timeout: float = Field(
        2.0,
        ge=0.5,
        le=10.0,
        description="Seconds (0.5 to 10) a page a person is waiting for may spend asking Slack about them (`users.info`, retries included); then the page uses what the link already knows.",
    )
    #: Links one Slack identity may be issued in an hour.
    links_per_hour: int = Field(
        10,
        ge=1,
        le=1000,
        description="Links one Slack person may be issued in an hour (1 to 1000); past it, the link command says when to ask again.",
    )
    #: Days the audit log keeps an entry.
    audit_retention_days: int = Field(
        365,
        ge=1,
        le=3650,
        description="Days the audit log keeps an entry (1 to 3650); older entries are purged hourly.",
    )
    # Issue 11, reliability and operations
    internal_api_timeout: float = Field(
        15.0,
        ge=1.0,
        le=300.0,
        description="Seconds (1 to 300) any one call to the internal application's API may take, connecting included; then the person is told it is not responding. A whole command is bounded by `COMMAND_TIMEOUT`.",
    )
    slack_api_timeout: float = Field(
        10.0,
        ge=1.0,
        le=60.0,
        description="Seconds (1 to 60) any one Slack Web API request may take before it is abandoned (and, where the path allows, retried).",
    )
    outbox_max_age: int = Field(
        86400,
        ge=60,
        le=30 * 86400,
        description="Seconds (60 to 30 days) a confirmation DM (bound, unbound, removed) is retried while Slack refuses or cannot be reached; then it is dropped with a log line.",
    )
    shutdown_timeout: float = Field(
        10.0,
        ge=1.0,
        le=300.0,
        description="Seconds (1 to 300) that SIGTERM waits for the commands and pages in flight to finish before the process exits.",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description=f"When set, `/metrics` answers only requests carrying `Authorization: Bearer` with this token (401 otherwise): at least 32 random characters, a bearer token (letters, digits and `-._~+/`, no spaces); make one with `{MAKE_A_KEY}`. Unset: `/metrics` is open to whoever can reach the site (the start says so in the log).",
    )
    log_level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], BeforeValidator(_upper)] = (
        Field(
            "INFO",
            description="`DEBUG`, `INFO`, `WARNING` or `ERROR`. Unless it is `DEBUG`, the `slack_sdk`, `slack_bolt` and `httpx` libraries log only warnings and errors (httpx would log every call to the OpenID provider). Secrets are redacted from every record at every level.",
        )
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the values given: `load_settings` merges the environment and `.env` itself, so
        that a test's mapping is all that is read, and both sources are stripped alike."""
        return (init_settings,)

    # Checks of one setting. They see the text as given (before the type), so that a secret
    # is checked the same whatever type holds it, and no message repeats a secret.

    @field_validator("slack_bot_token", mode="before")
    @classmethod
    def _bot_token(cls, value: object) -> object:
        if isinstance(value, str) and not value.startswith("xoxb-"):
            raise SettingsError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token", mode="before")
    @classmethod
    def _app_token(cls, value: object) -> object:
        if isinstance(value, str) and not value.startswith("xapp-"):
            raise SettingsError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
        return value

    @field_validator("slack_api_url", mode="before")
    @classmethod
    def _slack_api_url(cls, value: object) -> object:
        return _url("SLACK_API_URL", value, slash=True) if isinstance(value, str) else value

    @field_validator("public_url", mode="before")
    @classmethod
    def _public_url(cls, value: object) -> object:
        return _public_url(value) if isinstance(value, str) else value

    @field_validator("internal_api_url", mode="before")
    @classmethod
    def _internal_api_url(cls, value: object) -> object:
        return _url("INTERNAL_API_URL", value) if isinstance(value, str) else value

    @field_validator("host", mode="after")
    @classmethod
    def _host(cls, value: str) -> str:
        if not _is_ip_address(value) and not _is_host_name(value, underscore=False):
            raise SettingsError(
                "HOST must be an IP address (IPv6 without brackets) or a host name (RFC 1123 "
                "section 2.1: dot-separated labels of letters, digits and hyphens, the last "
                f"not a number), with no port (set PORT), path or spaces, not {value!r}"
            )
        return value

    @field_validator("database", mode="after")
    @classmethod
    def _database(cls, value: Path) -> Path:
        try:
            info = value.stat()
        except (FileNotFoundError, NotADirectoryError):
            return value  # made at start, or refused then by the store with its reason
        except (OSError, ValueError) as error:  # too long, a loop of links, no permission...
            reason = error.strerror if isinstance(error, OSError) else str(error)
            raise SettingsError(
                f"DATABASE cannot be used: {reason or error}: {str(value)!r}"
            ) from None
        if stat.S_ISDIR(info.st_mode):
            raise SettingsError(f"DATABASE must be a file path, but {value} is a directory")
        return value

    @field_validator("configured_secret_key", mode="before")
    @classmethod
    def _secret_key(cls, value: object) -> object:
        if isinstance(value, str):
            check_secret_key(value, "SECRET_KEY")
        return value

    @field_validator("internal_api_token", mode="before")
    @classmethod
    def _internal_api_token(cls, value: object) -> object:
        if isinstance(value, str) and not BEARER_TOKEN.fullmatch(value):
            raise SettingsError(
                "INTERNAL_API_TOKEN must be a bearer token (RFC 6750 section 2.1): letters, "
                "digits and -._~+/ then any =, with no spaces"
            )
        return value

    # Issue 11, review: a token that closes /metrics is a secret like the others
    @field_validator("metrics_token", mode="before")
    @classmethod
    def _metrics_token(cls, value: object) -> object:
        if isinstance(value, str):
            if not BEARER_TOKEN.fullmatch(value):
                raise SettingsError(
                    "METRICS_TOKEN must be a bearer token (RFC 6750 section 2.1): letters, "
                    "digits and -._~+/ then any =, with no spaces"
                )
            check_secret_key(value, "METRICS_TOKEN")
        return value

    @field_validator("impersonate_header", mode="after")
    @classmethod
    def _impersonate_header(cls, value: str) -> str:
        if not FIELD_NAME.fullmatch(value):
            raise SettingsError(
                f"IMPERSONATE_HEADER must be an HTTP field name (RFC 9110 section 5.1: letters, "
                f"digits and !#$%&'*+-.^_`|~), not {value!r}"
            )
        if value.lower() in RESERVED_HEADERS or value.lower().startswith(RESERVED_HEADER_PREFIXES):
            raise SettingsError(
                f"IMPERSONATE_HEADER must name a header of its own, not {value}, which the "
                "HTTP client, a proxy or the internal application's server owns, drops or rewrites"
            )
        return value

    @field_validator("introspection_client_id", mode="after")
    @classmethod
    def _introspection_client_id(cls, value: str | None) -> str | None:
        if value is not None and not VSCHARS.fullmatch(value):
            raise SettingsError(
                "INTROSPECTION_CLIENT_ID must be printable ASCII characters (RFC 6749 appendix A.1)"
            )
        return value

    @field_validator("introspection_client_secret", mode="before")
    @classmethod
    def _introspection_client_secret(cls, value: object) -> object:
        if isinstance(value, str):
            if not VSCHARS.fullmatch(value):
                raise SettingsError(
                    "INTROSPECTION_CLIENT_SECRET must be printable ASCII characters "
                    "(RFC 6749 appendix A.2)"
                )
            check_secret_key(value, "INTROSPECTION_CLIENT_SECRET")
        return value

    @field_validator("oidc_issuer", "oauth2_issuer", "slack_openid_issuer", mode="before")
    @classmethod
    def _issuers(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str) and value:
            name = str(info.field_name).upper()
            # Checked, but kept as given: an issuer identifier is compared with the provider's
            # `iss` character for character (OpenID Connect Discovery 1.0 section 4.3), and
            # some end with "/".
            if _url(name, value).startswith("http://") and not _is_loopback_url(value):
                raise SettingsError(
                    f"{name} must be an https:// URL (an http:// one only on a loopback "
                    f"address, for tests), not {value!r}"
                )
        return value

    @field_validator("oidc_client_id", "oauth2_client_id", "slack_client_id", mode="after")
    @classmethod
    def _client_ids(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not VSCHARS.fullmatch(value):
            raise SettingsError(
                f"{str(info.field_name).upper()} must be printable ASCII characters "
                "(RFC 6749 appendix A.1)"
            )
        return value

    @field_validator(
        "oidc_client_secret", "oauth2_client_secret", "slack_client_secret", mode="before"
    )
    @classmethod
    def _client_secrets(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str) and not VSCHARS.fullmatch(value):
            raise SettingsError(
                f"{str(info.field_name).upper()} must be printable ASCII characters "
                "(RFC 6749 appendix A.2)"
            )
        return value

    @field_validator("oidc_scopes", "oauth2_scopes", mode="after")
    @classmethod
    def _scopes(cls, value: str, info: ValidationInfo) -> str:
        scopes = value.split()
        name = str(info.field_name).upper()
        if not all(SCOPE_TOKEN.fullmatch(scope) for scope in scopes):
            raise SettingsError(
                f"{name} must be space-separated scope names (RFC 6749 section 3.3), not {value!r}"
            )
        if "openid" not in scopes:
            raise SettingsError(f"{name} must include openid, not {value!r}")
        return " ".join(dict.fromkeys(scopes))

    @field_validator("oidc_username_claim", mode="after")
    @classmethod
    def _username_claim(cls, value: str) -> str:
        if not CLAIM_NAME.fullmatch(value):
            raise SettingsError(f"OIDC_USERNAME_CLAIM must be a claim name, not {value!r}")
        return value

    @field_validator("oidc_allowed_domains", mode="after")
    @classmethod
    def _allowed_domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        domains = []
        for domain in value:
            domain = domain.lstrip("@")
            if not domain.isascii():
                raise SettingsError(
                    "OIDC_ALLOWED_DOMAINS must be written in ASCII (an internationalised "
                    f"domain as its xn-- form), not {domain!r}"
                )
            domain = domain.lower()
            if not _is_host_name(domain, underscore=False) or "." not in domain:
                raise SettingsError(
                    "OIDC_ALLOWED_DOMAINS must be comma-separated email domains such as "
                    f"acme.example, not {domain!r}"
                )
            domains.append(domain)
        return tuple(domains)

    @field_validator("oidc_provider_name", mode="after")
    @classmethod
    def _provider_name(cls, value: str) -> str:
        if len(value) > 64 or any(not c.isprintable() for c in value):
            raise SettingsError("OIDC_PROVIDER_NAME must be at most 64 printable characters")
        return value

    @field_validator("proxy_user_header", "proxy_email_header", mode="after")
    @classmethod
    def _proxy_headers(cls, value: str, info: ValidationInfo) -> str:
        if not FIELD_NAME.fullmatch(value):
            raise SettingsError(
                f"{str(info.field_name).upper()} must be an HTTP field name (RFC 9110 section "
                f"5.1: letters, digits and !#$%&'*+-.^_`|~), not {value!r}"
            )
        if value.lower() in RESERVED_HEADERS - {"x-real-ip"}:
            raise SettingsError(
                f"{str(info.field_name).upper()} must name a header of its own, not {value}"
            )
        return value

    @field_validator("command_plugins", mode="after")
    @classmethod
    def _command_plugins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            if not PLUGIN_REFERENCE.fullmatch(entry):
                raise SettingsError(
                    "COMMAND_PLUGINS must be a comma-separated list of module:object, "
                    f"installed plugin names or *, not {entry!r}"
                )
        return value

    @field_validator("binding_triggers", mode="after")
    @classmethod
    def _binding_triggers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        triggers = tuple(dict.fromkeys(t.lower() for t in value))
        unknown = [t for t in triggers if t not in BINDING_TRIGGERS]
        if unknown or not triggers:
            raise SettingsError(
                "BINDING_TRIGGERS must be a comma-separated list of at least one of "
                f"{', '.join(BINDING_TRIGGERS)}, not {','.join(value)!r}"
            )
        return triggers

    @field_validator("trusted_proxies", mode="after")
    @classmethod
    def _trusted_proxies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            try:
                ipaddress.ip_network(address, strict=False)
            except ValueError:
                raise SettingsError(
                    "TRUSTED_PROXIES must be a comma-separated list of IP addresses or "
                    f"networks, not {address!r}"
                ) from None
        return value

    # Checks across settings, and the defaults other settings decide.

    @model_validator(mode="after")
    def _across(self) -> Settings:
        """The checks across settings. pydantic reports an error here with no setting named
        and, as its input, every setting given (secrets included): any ValueError that is not
        already a SettingsError becomes one naming the settings involved, never the input."""
        try:
            self._check_across()
        except SettingsError:
            raise
        except ValueError as error:
            raise SettingsError(
                "The settings do not fit together: a check across them failed "
                f"({type(error).__name__})"
            ) from None
        return self

    def _check_across(self) -> None:
        given = self.model_fields_set
        if (self.slack_bot_token is None) != (self.slack_app_token is None):
            present, missing = (
                ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")
                if self.slack_bot_token is not None
                else ("SLACK_APP_TOKEN", "SLACK_BOT_TOKEN")
            )
            raise SettingsError(
                f"{present} is set but {missing} is not: set both, or neither for the sandbox"
            )
        wildcard = _is_wildcard(self.host)
        if wildcard and "public_url" not in given:
            raise SettingsError(
                f"HOST={self.host} listens on every address, so links cannot name this site by "
                "itself: set PUBLIC_URL to the address people's browsers use, such as "
                "https://slack-binding.intranet.example"
            )
        if "public_url" not in given:
            with _naming("PORT", "PUBLIC_URL"):
                self._derive("public_url", _public_url(f"http://localhost:{self.port}"))
        if "internal_api_url" not in given:
            loopback = "127.0.0.1" if wildcard else self.host
            with _naming("HOST", "INTERNAL_API_URL"):
                url = f"http://{_host_in_url(loopback)}:{self.port}"
                self._derive("internal_api_url", _url("INTERNAL_API_URL", url))
        if "sandbox_port" not in given:
            self._derive("sandbox_port", self.port + 1 if self.port < 65535 else self.port - 1)
        if self.sandbox_port == self.port:
            raise SettingsError(f"SANDBOX_PORT must differ from PORT, not both {self.port}")
        if self.act_as == "service" and self.internal_api_token is None:
            raise SettingsError(
                "ACT_AS=service needs INTERNAL_API_TOKEN, the service credential the Slack "
                "side sends to the internal application"
            )
        self._check_single_sign_on(given)
        if (self.introspection_client_id is None) != (self.introspection_client_secret is None):
            present, missing = (
                ("INTROSPECTION_CLIENT_ID", "INTROSPECTION_CLIENT_SECRET")
                if self.introspection_client_id is not None
                else ("INTROSPECTION_CLIENT_SECRET", "INTROSPECTION_CLIENT_ID")
            )
            raise SettingsError(f"{present} is set but {missing} is not: set both, or neither")

    def _check_single_sign_on(self, given: set[str]) -> None:
        """AUTH, ACT_AS=oauth2 and VERIFY_SLACK_IDENTITY: what each needs, and the defaults
        one setting takes from another."""
        taken = (self.port, self.sandbox_port)
        if "sandbox_oidc_port" not in given:
            # PORT + 2 (PORT - 2 near the top), stepping on past a SANDBOX_PORT set there.
            step = 1 if self.port <= 65530 else -1
            port = self.port + 2 * step
            while port in taken:
                port += step
            self._derive("sandbox_oidc_port", port)
        elif self.sandbox_oidc_port in taken:
            raise SettingsError("SANDBOX_OIDC_PORT must differ from PORT and SANDBOX_PORT")
        if self.uses_sandbox_provider:
            # run --sandbox starts a provider on loopback and fills these in.
            return
        if self.auth == "oidc":
            for name in ("oidc_issuer", "oidc_client_id", "oidc_client_secret"):
                if not getattr(self, name):
                    raise SettingsError(
                        f"AUTH=oidc needs {name.upper()} (OIDC_ISSUER, OIDC_CLIENT_ID and "
                        "OIDC_CLIENT_SECRET name the provider and this site's client there)"
                    )
        if self.auth == "proxy" and not self.trusted_proxies:
            raise SettingsError(
                "AUTH=proxy needs TRUSTED_PROXIES, the addresses of the proxies whose "
                f"{self.proxy_user_header} header is believed"
            )
        if self.auth == "proxy":
            networks = [ipaddress.ip_network(e, strict=False) for e in self.trusted_proxies]
            for version in (4, 6):
                same = [n for n in networks if n.version == version]
                # Together, as 0.0.0.0/1 and 128.0.0.0/1 do, or alone.
                if any(n.prefixlen == 0 for n in ipaddress.collapse_addresses(same)):  # type: ignore[type-var]
                    raise SettingsError(
                        f"AUTH=proxy with TRUSTED_PROXIES={','.join(self.trusted_proxies)} "
                        f"would believe {self.proxy_user_header} from any IPv{version} "
                        "address: name the proxies' addresses or networks"
                    )
        if self.act_as == "oauth2":
            for name, fallback in (
                ("oauth2_issuer", "oidc_issuer"),
                ("oauth2_client_id", "oidc_client_id"),
                ("oauth2_client_secret", "oidc_client_secret"),
            ):
                if not getattr(self, name):
                    self._derive(name, getattr(self, fallback))
                if not getattr(self, name):
                    raise SettingsError(
                        f"ACT_AS=oauth2 needs {name.upper()} (or {fallback.upper()}, its default)"
                    )
        if self.verify_slack_identity and not _FOR_MANIFEST.get():
            if not self.slack_client_id or not self.slack_client_secret:
                raise SettingsError(
                    "VERIFY_SLACK_IDENTITY=true needs SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, "
                    "the Slack app's credentials for Sign in with Slack"
                )
            if not self.public_url.startswith("https://") and not _is_loopback_url(
                self.slack_openid_issuer
            ):
                raise SettingsError(
                    "VERIFY_SLACK_IDENTITY=true needs an https:// PUBLIC_URL: Slack accepts "
                    f"only https redirect URLs, and {self.public_url} is not one"
                )

    @property
    def uses_sandbox_provider(self) -> bool:
        """True in the sandbox (no Slack tokens) when AUTH=oidc or ACT_AS=oauth2 has no issuer:
        `run` then starts an OpenID provider on loopback (SANDBOX_OIDC_PORT)."""
        needs = self.auth == "oidc" or self.act_as == "oauth2"
        return needs and not self.has_slack_tokens and not (self.oidc_issuer or self.oauth2_issuer)

    @property
    def provider_name(self) -> str:
        """OIDC_PROVIDER_NAME, or OIDC_ISSUER's host name."""
        return self.oidc_provider_name or urlsplit(self.oidc_issuer).hostname or "single sign-on"

    def with_sandbox_provider(self, issuer: str, client_id: str, client_secret: str) -> Settings:
        """These settings with the sandbox's provider as OIDC_ISSUER (and as OAUTH2_ISSUER
        under ACT_AS=oauth2), its client's ID and secret."""
        values: dict[str, Any] = {
            "oidc_issuer": issuer,
            "oidc_client_id": client_id,
            "oidc_client_secret": SecretStr(client_secret),
            "oidc_provider_name": self.oidc_provider_name or "the test provider",
        }
        if self.act_as == "oauth2":
            values |= {
                "oauth2_issuer": issuer,
                "oauth2_client_id": client_id,
                "oauth2_client_secret": SecretStr(client_secret),
            }
        return self.model_copy(update=values)

    def _derive(self, name: str, value: object) -> None:
        """Set a default another setting decides (the model is frozen once validated)."""
        object.__setattr__(self, name, value)

    @property
    def has_slack_tokens(self) -> bool:
        return self.slack_bot_token is not None and self.slack_app_token is not None

    @property
    def serves_stand_in(self) -> bool:
        """True when INTERNAL_API_URL is unset: the site serves the stand-in internal
        application at /api, and its to-do plugin is on."""
        return "internal_api_url" not in self.model_fields_set

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
        if self.configured_secret_key is not None:
            return self.configured_secret_key.get_secret_value()
        return _stored_secret_key(self.database)


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> Settings:
    """Read the settings; `environ` defaults to `os.environ`, `env_file` to `./.env`.

    The environment wins over the file; values are stripped, and an empty value counts as
    unset (an empty variable in the environment unsets what the file says). Raises
    SettingsError with one line naming the first setting refused.
    """
    values: dict[str, str] = {}
    if env_file is not None and _is_file(env_file):
        try:
            with env_file.open(encoding="utf-8") as stream:
                read = dotenv_values(stream=stream)
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
            raise SettingsError(f"Cannot read {env_file}: {reason}") from None
        values.update({k: v for k, v in read.items() if v is not None})
    values.update(os.environ if environ is None else environ)
    names = {env_name(name, info) for name, info in Settings.model_fields.items()}
    given: dict[str, Any] = {k: v.strip() for k, v in values.items() if k in names and v.strip()}
    try:
        return Settings(**given)
    except ValidationError as error:
        raise SettingsError(_message(error.errors()[0])) from None


def _is_file(path: Path) -> bool:
    """Whether `path` is a regular file (no such file: False); SettingsError when it cannot be
    checked (a name too long, a directory this user may not search)."""
    try:
        return path.is_file()
    except OSError as error:
        raise SettingsError(f"Cannot read {path}: {error.strerror or error}") from None


def env_name(name: str, info: FieldInfo) -> str:
    """The environment variable of the field `name`."""
    return info.alias or name.upper()


def _field_of(env: str) -> FieldInfo | None:
    for name, info in Settings.model_fields.items():
        if env_name(name, info) == env:
            return info
    return None


def _message(error: ErrorDetails) -> str:
    """One line naming the setting, for one of pydantic's errors (never showing a secret)."""
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, SettingsError):
        return str(cause)
    name = str(error["loc"][0]) if error["loc"] else "A setting"
    info = _field_of(name)
    value = error["input"]
    kind = error["type"]
    if kind == "value_error" and cause is not None:
        # Without a loc the input is every setting given, secrets included: never show it.
        return f"{name} {cause}, not {value!r}" if error["loc"] else f"{name} {cause}"
    if kind in ("int_parsing", "int_from_float"):
        return f"{name} must be a whole number, not {value!r}"
    if kind == "float_parsing":
        return f"{name} must be a number, not {value!r}"
    if kind in ("greater_than_equal", "less_than_equal") and info is not None:
        low, high = _bounds(info)
        return f"{name} must be between {low} and {high}, not {value}"
    if kind == "literal_error" and info is not None:
        choices = [str(choice) for choice in _choices(info.annotation)]
        listed = ", ".join(choices[:-1]) + " or " + choices[-1]
        return f"{name} must be {listed}, not {value!r}"
    return f"{name} is not valid: {error['msg']}"


def _bounds(info: FieldInfo) -> tuple[object, object]:
    low = high = None
    for constraint in info.metadata:
        low = getattr(constraint, "ge", low)
        high = getattr(constraint, "le", high)
    return low, high


def _choices(annotation: object) -> tuple[object, ...]:
    """The values of a Literal, also when it is Annotated or Optional."""
    if typing.get_origin(annotation) is Literal:
        return typing.get_args(annotation)
    for argument in typing.get_args(annotation):
        found = _choices(argument)
        if found:
            return found
    return ()


def markdown_table() -> str:
    """The README's Configuration table: one row per setting, in declaration order, with its
    environment name, its default as the README shows it, and its help."""
    rows = ["| setting | default | meaning |", "| --- | --- | --- |"]
    for name, info in Settings.model_fields.items():
        help_text = (info.description or "").replace("|", "\\|")
        rows.append(f"| `{env_name(name, info)}` | {_default_text(info)} | {help_text} |")
    return "\n".join(rows) + "\n"


def _default_text(info: FieldInfo) -> str:
    extra = info.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("shown_default"), str):
        return str(extra["shown_default"])
    default = info.default
    if default is None or default == () or default == "":
        return "unset"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    return f"`{default}`"


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


def _public_url(value: str) -> str:
    public_url = _url("PUBLIC_URL", value)
    if urlsplit(public_url).path not in ("", "/"):
        raise SettingsError(
            f"PUBLIC_URL must be the root of a host name (the site serves at /), not "
            f"{public_url!r}: give the site a host name of its own"
        )
    return public_url


@contextlib.contextmanager
def _naming(setting: str, derived: str) -> Iterator[None]:
    """Turn a ValueError (SettingsError included) in deriving the default of `derived` from
    `setting` into a SettingsError that starts with `setting`, the one the person set."""
    try:
        yield
    except ValueError as error:
        raise SettingsError(
            f"{setting} gives no valid default for {derived} ({error}): change {setting}, "
            f"or set {derived}"
        ) from None


def _is_wildcard(host: str) -> bool:
    """Whether HOST listens on every address (0.0.0.0, ::, ::ffff:0.0.0.0, and their other
    spellings)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:0.0.0.0 takes every IPv4 address
    return address.is_unspecified


def _url(name: str, value: str, *, slash: bool = False) -> str:
    """`value`, an http(s) URL, with its origin normalised (`_normalised_origin`); `slash`
    ends it with "/". Raises SettingsError naming `name`."""
    try:
        parts = urlsplit(value)  # raises ValueError for brackets that hold no IPv6 address
    except ValueError:
        raise SettingsError(f"{name} must be an http:// or https:// URL, not {value!r}") from None
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


def _is_loopback_url(url: str) -> bool:
    """True when `url`'s host is a loopback address or `localhost`."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


DEFAULT_PORTS = {"http": 80, "https": 443}


def _normalised_origin(name: str, parts: SplitResult) -> str:
    """scheme://host[:port] as a browser serialises an origin (RFC 6454 section 6.1): scheme
    and host in lower case, a non-ASCII host name in its IDNA (punycode) form, no default
    port. A browser's `Origin` and `Host` headers then equal what the site compares them to.
    The host must be an IP address (IPv6 in brackets) or a host name (`_is_host_name`, with
    underscores): not a name a browser reads as an IPv4 address in another spelling, nor one
    holding spaces or other characters no resolver takes."""
    scheme = parts.scheme.lower()
    host = parts.hostname or ""  # urlsplit gives it in lower case
    if not host.isascii():
        try:  # UTS #46 with IDNA 2008, as browsers map host names ("straße" stays "ß")
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError:
            raise SettingsError(f"{name} has a host name that is not valid: {host!r}") from None
    if "[" in parts.netloc.rpartition("@")[2]:
        valid = ":" in host and _is_ip_address(host)  # [IPv6], RFC 3986 section 3.2.2
    else:
        valid = ":" not in host and (_is_ip_address(host) or _is_host_name(host, underscore=True))
    if not valid:
        raise SettingsError(
            f"{name} has a host that is neither an IP address nor a host name: {host!r}"
        )
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    return f"{scheme}://{host}" + (f":{port}" if port and port != DEFAULT_PORTS[scheme] else "")


def _host_in_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


#: One label of a host name (RFC 1123 section 2.1), and the same with underscores, which
#: names in DNS (RFC 2181 section 11) and in container networks may hold.
HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
HOST_LABEL_UNDERSCORE = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
#: An IPv6 zone: an interface's name or index.
ZONE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
#: A last label that URL parsers (WHATWG URL's "ends in a number") and inet_aton read as a
#: number, so that the name is an IPv4 address in a legacy spelling: "0", "127.1", "0x7f.1".
NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9A-Fa-f]*")


def _is_ip_address(host: str) -> bool:
    """Whether `host` is an IPv4 address in dotted-quad form or an IPv6 address, unbracketed,
    with at most a zone (RFC 4007 section 11: `fe80::1%eth0`) that names an interface by
    letters, digits, `_.-` (Python's ipaddress takes any text there, "/" and spaces too)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    zone = getattr(address, "scope_id", None)
    return zone is None or ZONE.fullmatch(zone) is not None


def _is_host_name(host: str, *, underscore: bool) -> bool:
    """Whether `host` (ASCII, as given) is a host name.

    A host name is at most 253 characters of dot-separated labels of 1 to 63 letters, digits
    and hyphens (and underscores when `underscore`), none starting or ending with a hyphen
    (RFC 1123 section 2.1), and its last label is not a number, which resolvers and browsers
    read as an IPv4 address in a legacy spelling ("0" is 0.0.0.0, every address).
    """
    label = HOST_LABEL_UNDERSCORE if underscore else HOST_LABEL
    labels = host.split(".")
    return (
        0 < len(host) <= 253
        and all(label.fullmatch(part) for part in labels)
        and not NUMERIC_LABEL.fullmatch(labels[-1])
    )


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


# Issue 10, administration: the settings `account-binding manifest` reads.

#: True while `load_manifest_settings` reads the settings.
_FOR_MANIFEST: contextvars.ContextVar[bool] = contextvars.ContextVar("for_manifest", default=False)


def load_manifest_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> Settings:
    """The settings as `load_settings` reads them, for `account-binding manifest` only: there,
    `VERIFY_SLACK_IDENTITY=true` needs neither `SLACK_CLIENT_ID` and `SLACK_CLIENT_SECRET`
    (Slack gives them only once the app is created from the manifest) nor an `https://`
    `PUBLIC_URL` (the manifest names the redirect URL, and the command warns when Slack
    would refuse it). Every other check stands. Never run the app with these settings.
    Raises SettingsError as `load_settings` does."""
    token = _FOR_MANIFEST.set(True)
    try:
        return load_settings(environ, env_file)
    finally:
        _FOR_MANIFEST.reset(token)
