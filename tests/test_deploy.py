"""deploy/: the systemd unit, the nginx site and the settings they name, checked offline.

The unit is read as systemd reads it (and verified by `systemd-analyze` where it is
installed); nginx (Debian's, which `make test` unpacks into .cache/nginx when it is missing)
checks the site with a self-signed certificate and then serves it in front of the real app.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
import tomllib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from conftest import RunningApp, free_socket, run_app
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from account_binding.settings import Settings, env_name, load_settings
from launcher.cli import _parser

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "account-binding.service"
BACKUP_UNIT = DEPLOY / "account-binding-backup.service"
BACKUP_TIMER = DEPLOY / "account-binding-backup.timer"
UNITS = (UNIT, BACKUP_UNIT, BACKUP_TIMER)
SITE = DEPLOY / "nginx.conf"
ENV = DEPLOY / "env.example"


def unit_directives(path: Path = UNIT) -> dict[str, dict[str, list[str]]]:
    """A unit file as systemd reads it: sections of `Key=Value` lines, a key given twice
    keeping both values, `#` and `;` lines comments (systemd.syntax(7))."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, equals, value = line.partition("=")
        assert equals and current is not None, f"not a directive: {raw!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def example_settings() -> Settings:
    return load_settings({}, env_file=ENV)


def nginx_size(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmM]?)", value).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "k": 1024, "m": 1024 * 1024}[unit.lower()]


# The unit


def test_the_unit_runs_the_installed_command_as_its_own_user_with_the_settings_file() -> None:
    service = unit_directives()["Service"]
    [exec_start] = service["ExecStart"]
    program, *arguments = exec_start.split()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert Path(program).name in scripts  # the console command the package installs
    assert _parser().parse_args(arguments).command == "run"
    assert service["User"] == service["Group"] == ["account-binding"]
    assert service["EnvironmentFile"] == ["/etc/account-binding/env"]
    # The database and its key live in the state directory, the one place it may write.
    [state] = service["StateDirectory"]
    assert service["WorkingDirectory"] == [f"/var/lib/{state}"]
    assert f"/var/lib/{state}" in " ".join(service["ReadWritePaths"]).split()
    database = example_settings().database
    assert database.parent == Path(f"/var/lib/{state}")


def test_the_unit_stops_with_sigterm_and_waits_longer_than_shutdown_timeout() -> None:
    service = unit_directives()["Service"]
    assert service["KillSignal"] == ["SIGTERM"]
    [stop] = service["TimeoutStopSec"]
    default = Settings.model_fields["shutdown_timeout"].default
    assert int(stop) >= max(default, example_settings().shutdown_timeout) + 5
    # A failed start is tried again, but not a bad setting (the command's exit status 2).
    assert service["Restart"] == ["on-failure"]
    assert service["RestartPreventExitStatus"] == ["2"]


def test_the_backup_unit_backs_up_as_the_apps_user_into_a_directory_it_may_write() -> None:
    app = unit_directives()["Service"]
    backup = unit_directives(BACKUP_UNIT)["Service"]
    [exec_start] = backup["ExecStart"]
    program, *arguments = exec_start.split()
    assert program == app["ExecStart"][0].split()[0]
    parsed = _parser().parse_args(arguments)
    assert parsed.command == "backup"
    for key in ("User", "Group", "EnvironmentFile", "WorkingDirectory"):
        assert backup[key] == app[key], key
    writable = " ".join(backup["ReadWritePaths"]).split()
    assert str(parsed.directory) in writable and app["WorkingDirectory"][0] in writable
    assert backup["Type"] == ["oneshot"]
    timer = unit_directives(BACKUP_TIMER)
    assert timer["Timer"]["Persistent"] == ["true"] and timer["Timer"]["OnCalendar"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]


@pytest.mark.parametrize("unit", [UNIT, BACKUP_UNIT], ids=lambda p: p.name)
def test_the_units_are_hardened(unit: Path) -> None:
    service = unit_directives(unit)["Service"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "UMask": "0077",
        "CapabilityBoundingSet": "",
    }.items():
        assert service.get(key) == [value], key


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    """`systemd-analyze verify` (unknown keys, bad values, a timer without its service) on
    the units with ExecStart pointing at this checkout's installed command (verify wants an
    executable there); and its offline security review rates each service's exposure 2.0 or
    lower ("OK")."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (the units' content is checked above)")
    command = Path(sys.executable).parent / "account-binding"
    if not command.exists():
        pytest.skip(f"{command} is not installed: `make test` installs it")
    copies = []
    for unit in UNITS:
        copy = tmp_path / unit.name
        copy.write_text(
            unit.read_text().replace("/opt/account-binding/bin/account-binding", str(command))
        )
        copies.append(str(copy))
    verified = subprocess.run(
        [analyze, "verify", "--man=no", *copies], capture_output=True, text=True, timeout=60
    )
    assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr
    for copy in copies:
        if not copy.endswith(".service"):
            continue
        review = subprocess.run(
            [analyze, "security", "--offline=yes", "--no-pager", copy],
            capture_output=True,
            text=True,
            timeout=60,
        )
        exposure = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", review.stdout)
        assert exposure, review.stdout + review.stderr
        assert float(exposure[1]) <= 2.0, review.stdout


# The settings deploy/ names


def test_every_setting_deploy_names_is_a_real_setting() -> None:
    settings = {env_name(name, info) for name, info in Settings.model_fields.items()}
    named: dict[str, set[str]] = {}
    for path in sorted(DEPLOY.iterdir()):
        text = path.read_text()
        names = set(re.findall(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b", text))
        names |= set(re.findall(r"(?m)^[#\s]*([A-Z][A-Z0-9_]*)=", text))
        names = {n for n in names if not n.startswith("AF_")}  # RestrictAddressFamilies=
        if names - settings:
            named[path.name] = names - settings
    assert not named, f"not settings: {named}"


def test_the_example_settings_file_is_a_working_configuration() -> None:
    settings = example_settings()
    assert settings.has_slack_tokens  # never the sandbox by mistake
    assert settings.host == "127.0.0.1" and settings.port == 8000
    assert settings.public_url.startswith("https://")
    assert settings.trusted_proxies == ("127.0.0.1",)
    assert settings.internal_app_name == "Acme Intranet"  # quoted, as systemd and .env read it


# nginx


def nginx_binary() -> str:
    for candidate in (
        os.environ.get("NGINX_BINARY"),
        shutil.which("nginx"),
        str(ROOT / ".cache" / "nginx" / "usr" / "sbin" / "nginx"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    if os.environ.get("CI") == "true":
        pytest.fail("nginx is missing: `make nginx` unpacks Debian's into .cache/nginx")
    pytest.skip("nginx is missing: `make nginx` unpacks Debian's into .cache/nginx")


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def nginx_config(
    directory: Path, *, app_port: int = 8000, https_port: int = 443, http_port: int = 80
) -> Path:
    """deploy/nginx.conf as the http block of a whole configuration that runs as this user in
    `directory`: the certificate made there, the ports given (on loopback), the app's port."""
    cert, key = self_signed(directory)
    site = SITE.read_text()
    replacements = {
        "/etc/ssl/certs/slack-binding.intranet.example.pem": str(cert),
        "/etc/ssl/private/slack-binding.intranet.example.key": str(key),
        "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
        "listen [::]:443 ssl;": "",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen [::]:80;": "",
        "http://127.0.0.1:8000": f"http://127.0.0.1:{app_port}",
    }
    for old, new in replacements.items():
        assert old in site, old
        site = site.replace(old, new)
    (directory / "site.conf").write_text(site)
    temporary = "\n".join(
        f"  {kind}_temp_path {directory / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = directory / "nginx.conf"
    main.write_text(
        f"daemon off;\nmaster_process off;\npid {directory / 'nginx.pid'};\n"
        f"error_log stderr;\nevents {{}}\n"
        f"http {{\n  access_log off;\n{temporary}\n  include {directory / 'site.conf'};\n}}\n"
    )
    return main


def test_nginx_accepts_the_site_with_a_certificate(tmp_path: Path) -> None:
    nginx = nginx_binary()
    config = nginx_config(tmp_path)
    checked = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(config), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    assert "[warn]" not in checked.stderr and "[emerg]" not in checked.stderr, checked.stderr


def test_the_body_limit_is_max_body_bytes() -> None:
    [limit] = re.findall(r"client_max_body_size\s+(\S+);", SITE.read_text())
    assert nginx_size(limit) == example_settings().max_body_bytes
    assert nginx_size(limit) == Settings.model_fields["max_body_bytes"].default


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def nginx_serving(
    directory: Path, app_port: int, https_port: int, http_port: int
) -> Iterator[None]:
    nginx = nginx_binary()
    config = nginx_config(directory, app_port=app_port, https_port=https_port, http_port=http_port)
    process = subprocess.Popen(
        [nginx, "-p", str(directory), "-c", str(config), "-e", "stderr"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", https_port), 1),
            ):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"nginx did not start: {process.stderr.read()!r}")  # type: ignore[union-attr]
            time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.communicate(timeout=30)


@contextlib.asynccontextmanager
async def behind_nginx(
    tmp_path: Path, **settings: str
) -> AsyncIterator[tuple[RunningApp, str, ssl.SSLContext]]:
    """The real app behind deploy/nginx.conf: the app, nginx's https base URL, and a TLS
    context that trusts its certificate."""
    https_port, http_port = free_port(), free_port()
    base = f"https://127.0.0.1:{https_port}"
    sock = free_socket()
    nginx_dir = tmp_path / "nginx"
    nginx_dir.mkdir()
    async with run_app(
        tmp_path, sock=sock, PUBLIC_URL=base, TRUSTED_PROXIES="127.0.0.1", **settings
    ) as app:
        with nginx_serving(nginx_dir, sock.getsockname()[1], https_port, http_port):
            context = ssl.create_default_context(cafile=str(nginx_dir / "cert.pem"))
            yield app, base, context


def client(base: str, context: ssl.SSLContext, source: str = "127.0.0.1") -> httpx.AsyncClient:
    """A browser at `source` (a loopback address of its own), reaching nginx over TLS."""
    return httpx.AsyncClient(
        base_url=base,
        transport=httpx.AsyncHTTPTransport(local_address=source, verify=context),
        trust_env=False,
        headers={"Origin": base},
    )


async def test_nginx_serves_the_app_over_tls_within_its_limits(tmp_path: Path) -> None:
    async with behind_nginx(tmp_path) as (_, base, context):
        async with client(base, context) as here, client(base, context, "127.0.0.2") as outside:
            page = await outside.get("/login")
            assert page.status_code == 200 and "no-store" in page.headers["cache-control"]
            # A body past MAX_BODY_BYTES stops at nginx, which never passes it on.
            big = await outside.post("/login", content=b"x" * 20_000)
            assert big.status_code == 413 and "nginx" in big.text
            # /metrics: only from the addresses nginx allows.
            assert (await outside.get("/metrics")).status_code == 403
            assert (await here.get("/metrics")).status_code != 403
            # Plain http is sent to https.
        http_port = int(
            re.findall(r"listen 127.0.0.1:(\d+);", (tmp_path / "nginx" / "site.conf").read_text())[
                0
            ]
        )
        async with httpx.AsyncClient(trust_env=False) as plain:
            moved = await plain.get(f"http://127.0.0.1:{http_port}/login")
        assert moved.status_code == 301
        assert moved.headers["location"] == "https://127.0.0.1/login"


async def test_nginx_names_the_client_and_drops_what_the_client_claims(tmp_path: Path) -> None:
    """The app sees the client's own address (nginx replaces any X-Forwarded-For it sent),
    in its login limits and audit log; and no identity header a client sends reaches it."""
    async with (
        behind_nginx(tmp_path, AUTH="proxy") as (app, base, context),
        client(base, context, "127.0.0.2") as outside,
    ):
        # AUTH=proxy believes the user header from TRUSTED_PROXIES, nginx among them.
        refused = await outside.get(
            "/login", headers={"X-Forwarded-User": "ada", "X-Forwarded-Email": "a@example.com"}
        )
        assert refused.status_code == 401, refused.text  # "the proxy did not say who you are"
        assert app.query("SELECT count(*) FROM users") == [(0,)]
    (tmp_path / "local").mkdir()
    async with behind_nginx(tmp_path / "local") as (app, base, context):
        await app.add_user("ada")
        async with client(base, context, "127.0.0.2") as outside:
            form = await outside.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token
            await outside.post(
                "/login",
                data={"username": "ada", "password": "wrong", "csrf_token": token[1], "next": "/"},
                headers={"X-Forwarded-For": "203.0.113.9"},
            )
        rows = app.query("SELECT client FROM audit_events WHERE event = 'login_failed'")
        assert rows == [("127.0.0.2",)]
