"""The benchmark's child processes: the systems under test and the internal API.

Each runs as a process of its own, started with this Python and this tree on its path,
its output kept in a log file (read it when a start fails), and stopped with SIGTERM (then
SIGKILL after a deadline), as a service manager would. Linux's /proc gives each one's
resident memory and CPU time; elsewhere those read as None.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

#: This tree, put first on the children's path so that they run the code being measured.
ROOT = Path(__file__).resolve().parent.parent
#: Seconds a child has to become ready, and to exit after SIGTERM before it is killed.
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 20.0

#: The children started and not yet stopped, by pid (for `stop_left`).
_running: dict[int, str] = {}

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_environment(**settings: str) -> dict[str, str]:
    """A clean environment: the locale, PATH and HOME, this tree on PYTHONPATH, no proxy
    variables (slack_sdk would send loopback traffic to a proxy), and `settings`."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL")}
    return {**keep, "PYTHONPATH": str(ROOT), **settings}


@dataclass
class Child:
    """A running child process; `log` holds its stdout and stderr."""

    name: str
    process: asyncio.subprocess.Process
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_bytes(self) -> int | None:
        """Resident memory now (VmRSS), None where /proc is not there."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return None

    def cpu_seconds(self) -> float | None:
        """User plus system CPU time so far, None where /proc is not there."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def output(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")
        return ""

    async def stop(self) -> int:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_SECONDS; the exit status."""
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_SECONDS)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        assert self.process.returncode is not None
        _running.pop(self.pid, None)  # reaped: its pid may be another process's from now on
        return self.process.returncode


async def start(
    name: str,
    args: list[str],
    environment: dict[str, str],
    workdir: Path,
    ready: Callable[[], Awaitable[bool]],
) -> Child:
    """Start `python args…` in `workdir` and wait until `ready()` holds (checked every
    50 ms, START_TIMEOUT_SECONDS at most). Raises RuntimeError, with the child's output,
    when it exits or is not ready in time (it is stopped then)."""
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            cwd=workdir,
            env=environment,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    child = Child(name, process, log)
    _running[process.pid] = name
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.returncode is not None:
            _running.pop(process.pid, None)
            raise RuntimeError(f"{name} exited at start:\n{child.output()[-4000:]}")
        with contextlib.suppress(OSError):
            if await ready():
                return child
        await asyncio.sleep(0.05)
    await child.stop()
    raise RuntimeError(
        f"{name} was not ready within {START_TIMEOUT_SECONDS:.0f} s:\n{child.output()[-4000:]}"
    )


def stop_left(
    timeout_seconds: float = STOP_TIMEOUT_SECONDS, log: Callable[[str], None] | None = None
) -> list[str]:
    """Stop the children a run left (it was stopped before its own clean-up ended): SIGTERM,
    then SIGKILL after `timeout_seconds`; their names, said to `log` before waiting. Called
    once the event loop is gone. Only a child not yet reaped is signalled (a zombie's pid is
    not given to another process), so a pid another process took meanwhile never is."""
    left = {pid: name for pid, name in _running.items() if _unreaped(pid)}
    _running.clear()
    if left and log is not None:
        log(f"bench: stopping what the run left running: {', '.join(left.values())}")
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_seconds
    waiting = set(left)
    while waiting and time.monotonic() < deadline:
        waiting = {pid for pid in waiting if _unreaped(pid)}
        if waiting:
            time.sleep(0.05)
    for pid in waiting:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    return list(left.values())


def _unreaped(pid: int) -> bool:
    """Whether `pid` is still a child of this process not yet reaped (reaped now if it has
    ended)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # reaped already (by asyncio's watcher, or above)
        return False
    return done == 0
