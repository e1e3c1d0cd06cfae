"""The systems under test, each started as a process of its own against the one fake Slack.

- baseline A (`bench.baseline_a`), B (`bench.baseline_b`) and C (`bench.baseline_c`);
- the product: `account-binding run` (`python -m launcher run`) with a real SQLite file,
  INTERNAL_API_URL at the benchmark's internal API and the benchmark's command plugin
  (`bench.plugin`), otherwise its default settings;
- the internal API (`bench.internal_api`), which the product and baseline C call;
- a bare Starlette site (`bench.baseline_site`), the site figures' baseline.

Only one app holds the fake Slack's Socket Mode connection at a time: `connected` waits for
the new one, `stopped` for the old one to be gone.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from fake_slack import FakeSlack

from .processes import Child, child_environment, free_port, start

BOT_TOKEN = "xoxb-bench-bot-token"  # noqa: S105 - the fake Slack's own tokens
APP_TOKEN = "xapp-bench-app-token"  # noqa: S105
#: The product's SECRET_KEY (it encrypts the personal API tokens in the benchmark's database).
SECRET_KEY = "bench-secret-key-for-encryption-at-rest-0123456789"  # noqa: S105
INTROSPECTION_CLIENT_ID = "bench-api"
INTROSPECTION_CLIENT_SECRET = "bench-introspection-secret-0123456789"  # noqa: S105
#: The product's command plugin for the bound path (`/acme me`).
PLUGIN = "bench.plugin:plugin"


async def _healthy(url: str) -> bool:
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=2) as client:
            return (await client.get(url)).status_code == 200
    except httpx.HTTPError:
        return False


async def stopped(fake: FakeSlack, seconds: float = 20.0) -> None:
    """Wait until no app is connected to `fake` (TimeoutError after `seconds`)."""
    deadline = time.monotonic() + seconds
    while fake.open_connections:
        if time.monotonic() > deadline:
            raise TimeoutError("the previous app's Socket Mode connection is still open")
        await asyncio.sleep(0.05)


async def start_internal_api(workdir: Path) -> tuple[Child, str]:
    """The internal API in its own process; the child and its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    child = await start(
        "internal-api",
        ["-m", "bench.internal_api", "--port", str(port)],
        child_environment(),
        workdir,
        lambda: _healthy(url + "/healthz"),
    )
    return child, url


async def start_baseline(which: str, fake: FakeSlack, workdir: Path, api_url: str) -> Child:
    """Baseline `which` ("a", "b" or "c"), connected to `fake`."""
    await stopped(fake)
    environment = child_environment(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_API_URL=fake.api_url,
        INTERNAL_API_URL=api_url,
        BENCH_COMMAND=fake.workspace.command,
    )

    async def connected() -> bool:
        return fake.open_connections > 0

    return await start(
        f"baseline-{which}", ["-m", f"bench.baseline_{which}"], environment, workdir, connected
    )


@dataclass
class Product:
    """`account-binding run` as a child process, and how to reach its site."""

    child: Child
    base_url: str
    database: Path


def product_environment(fake: FakeSlack, database: Path, port: int, api_url: str) -> dict[str, str]:
    return child_environment(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_API_URL=fake.api_url,
        DATABASE=str(database),
        HOST="127.0.0.1",
        PORT=str(port),
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        SECRET_KEY=SECRET_KEY,
        INTERNAL_API_URL=api_url,
        COMMAND_PLUGINS=PLUGIN,
        INTROSPECTION_CLIENT_ID=INTROSPECTION_CLIENT_ID,
        INTROSPECTION_CLIENT_SECRET=INTROSPECTION_CLIENT_SECRET,
    )


async def start_product(
    fake: FakeSlack, workdir: Path, database: Path, api_url: str, name: str = "product"
) -> Product:
    """`account-binding run` on `database`, connected to `fake` and serving its site; its
    output in `workdir`/`name`.log."""
    await stopped(fake)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"

    async def ready() -> bool:
        return fake.open_connections > 0 and await _healthy(base_url + "/healthz")

    child = await start(
        name,
        ["-m", "launcher", "run"],
        product_environment(fake, database, port, api_url),
        workdir,
        ready,
    )
    return Product(child, base_url, database)


async def start_baseline_site(workdir: Path) -> tuple[Child, str]:
    """The bare Starlette site in its own process; the child and its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    child = await start(
        "baseline-site",
        ["-m", "bench.baseline_site", "--port", str(port)],
        child_environment(),
        workdir,
        lambda: _healthy(url + "/healthz"),
    )
    return child, url
