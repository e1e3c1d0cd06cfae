"""Running the `account-binding` command as a person would, in a child process."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import httpx

COMMAND = [sys.executable, "-m", "launcher"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    keep = {
        k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH")
    }
    return {**keep, "DATABASE": str(tmp_path / "app.sqlite3"), **settings}


async def run_command(
    tmp_path: Path, *args: str, stdin: str = "", **settings: str
) -> tuple[int, str, str]:
    """Run the command to its end (60 s at most). A `run` that should stop at once but serves
    instead is killed at the limit, and uses free ports meanwhile so that it disturbs nothing."""
    settings.setdefault("PORT", str(free_port()))
    settings.setdefault("SANDBOX_PORT", str(free_port()))
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        *args,
        cwd=tmp_path,
        env=child_environment(tmp_path, **settings),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin.encode()), 60)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"`{' '.join(args)}` did not finish within 60 s") from None
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


class AppProcess:
    """`account-binding run` in the background, stopped with SIGTERM as a service manager would."""

    def __init__(self, tmp_path: Path, **settings: str) -> None:
        self.tmp_path = tmp_path
        self.port = int(settings.setdefault("PORT", str(free_port())))
        self.settings = settings
        self.process: asyncio.subprocess.Process | None = None
        self.output = ""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, *args: str) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *COMMAND,
            "run",
            *args,
            cwd=self.tmp_path,
            env=child_environment(self.tmp_path, **self.settings),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read())
        async with httpx.AsyncClient(trust_env=False) as client:
            for _ in range(300):
                if self.process.returncode is not None:
                    await self._reader
                    raise AssertionError(f"the app exited early:\n{self.output}")
                try:
                    if (await client.get(self.base_url + "/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"the app did not start:\n{self.output}")

    async def _read(self) -> None:
        assert self.process and self.process.stdout
        async for line in self.process.stdout:
            self.output += line.decode()

    async def stop(self) -> int:
        assert self.process
        if self.process.returncode is None:
            self.process.terminate()
        code = await asyncio.wait_for(self.process.wait(), 20)
        await self._reader
        return code
