"""The sandbox's OpenID provider: with AUTH=oidc (or ACT_AS=oauth2) and no OIDC_ISSUER, `run`
starts panva's npm `oidc-provider` (tools/oidc-provider, the one the tests use) on loopback,
so that single sign-on can be tried on one machine.

It has one confidential client for this site (a random secret; the redirect URIs of the
login and of the OAuth grant; PKCE required) and one person, `ada`, whom its sign-in page logs
in by name (it asks for no password: it is a test provider).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from account_binding.settings import Settings

from .slack_check import StartError

PROVIDER_DIR = Path(__file__).resolve().parent.parent / "tools" / "oidc-provider"
START_DEADLINE_SECONDS = 20.0
CLIENT_ID = "account-binding-sandbox"
#: The person the sandbox provider knows; the key is the subject.
SANDBOX_PERSON = "ada"
SANDBOX_ACCOUNTS: dict[str, dict[str, Any]] = {
    SANDBOX_PERSON: {
        "email": "ada@example.com",
        "email_verified": True,
        "preferred_username": "ada",
        "name": "Ada Lovelace",
    },
}
INSTALL_HINT = (
    "run `make oidc-provider` (Node.js 18 or later and the npm package in tools/oidc-provider), "
    "or set {issuer} to your own provider"
)


def provider_config(
    *,
    client_id: str,
    client_secret: str,
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str],
    accounts: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The provider's config file (see tools/oidc-provider/provider.mjs): one confidential
    client (client_secret_basic, code flow, refresh tokens) and the accounts."""
    return {
        "clients": [
            {
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uris": redirect_uris,
                "post_logout_redirect_uris": post_logout_redirect_uris,
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
            }
        ],
        "accounts": accounts,
    }


@dataclass
class SandboxProvider:
    """A running provider; `stop()` ends it."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    process: asyncio.subprocess.Process = field(repr=False)
    workdir: tempfile.TemporaryDirectory[str] = field(repr=False)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 5)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self.workdir.cleanup()


async def start_sandbox_provider(settings: Settings) -> SandboxProvider:
    """Start the provider on SANDBOX_OIDC_PORT and wait (20 s at most) until its discovery
    document answers. Raises StartError with one line when Node.js or the package is missing,
    the port is taken, or it does not answer."""
    mode = "AUTH=oidc" if settings.auth == "oidc" else "ACT_AS=oauth2"
    hint = INSTALL_HINT.format(issuer="OIDC_ISSUER" if settings.auth == "oidc" else "OAUTH2_ISSUER")
    node = shutil.which("node")
    if node is None:
        raise StartError(f"{mode} in the sandbox needs Node.js for its OpenID provider: {hint}")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        raise StartError(f"{mode} in the sandbox needs the npm package oidc-provider: {hint}")
    port = settings.sandbox_oidc_port
    issuer = f"http://127.0.0.1:{port}"
    _check_port_free(port)
    secret = secrets.token_urlsafe(32)
    workdir = tempfile.TemporaryDirectory(prefix="account-binding-oidc-")
    # The config (with the client secret) goes through the provider's stdin, never to disk.
    config = json.dumps(
        provider_config(
            client_id=CLIENT_ID,
            client_secret=secret,
            redirect_uris=[
                f"{settings.public_url}/login/callback",
                f"{settings.public_url}/grant/callback",
            ],
            post_logout_redirect_uris=[f"{settings.public_url}/"],
            accounts=SANDBOX_ACCOUNTS,
        )
    ).encode()
    log_file = Path(workdir.name) / "provider.log"
    with log_file.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            node,
            "provider.mjs",
            "--port",
            str(port),
            "--config",
            "/dev/stdin",
            cwd=PROVIDER_DIR,
            stdin=asyncio.subprocess.PIPE,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
            preexec_fn=_end_with_parent,
        )
    provider = SandboxProvider(issuer, CLIENT_ID, secret, process, workdir)
    try:
        assert process.stdin is not None
        process.stdin.write(config)
        await process.stdin.drain()
        process.stdin.close()
        await _wait_until_serving(provider, log_file)
    except BaseException:
        await provider.stop()
        raise
    # It holds its log open: the file need not stay on disk, even if this process is killed.
    workdir.cleanup()
    return provider


def _check_port_free(port: int) -> None:
    """Raise StartError when something listens on loopback `port` already (a provider left
    by an earlier run would answer in this one's place, with another client secret)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise StartError(
                f"The sandbox's OpenID provider cannot listen on port {port}: "
                f"{error.strerror or error}; set SANDBOX_OIDC_PORT"
            ) from None


def _end_with_parent() -> None:
    """In the provider's process, before it runs node: have Linux end it (SIGTERM) when this
    process ends, however it ends (prctl PR_SET_PDEATHSIG), so no provider outlives the app.
    Elsewhere nothing is done: `SandboxProvider.stop` ends it on a clean exit."""
    if sys.platform != "linux":
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


async def _wait_until_serving(provider: SandboxProvider, log_file: Path) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_DEADLINE_SECONDS
    async with httpx.AsyncClient(timeout=2) as http:
        while loop.time() < deadline:
            if provider.process.returncode is not None:
                text = await asyncio.to_thread(log_file.read_text, errors="replace")
                lines = text.strip().splitlines()
                last = lines[-1] if lines else f"exit status {provider.process.returncode}"
                raise StartError(
                    f"The sandbox's OpenID provider did not start on port "
                    f"{provider.issuer.rsplit(':', 1)[1]}: {last[:200]}; set SANDBOX_OIDC_PORT"
                )
            with contextlib.suppress(httpx.TransportError):
                answer = await http.get(f"{provider.issuer}/.well-known/openid-configuration")
                if answer.status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise StartError(
        f"The sandbox's OpenID provider did not answer within {START_DEADLINE_SECONDS:g} s"
    )
