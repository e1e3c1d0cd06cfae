"""The benchmark harness (`python -m bench`, issue 12) runs end to end and prints every
figure; the fake Slack's lean delivery it relies on reports what it says.

Nothing here asserts a speed: the machine is shared and noisy. The figures of a `--quick`
run are indicative only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from bench import load, report, run
from bench.load import Sample
from fake_slack import FakeSlack

PROXIES = ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY", "all_proxy")


def _environment(project_root: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k not in PROXIES}
    environment["PYTHONPATH"] = str(project_root)
    return environment


def _bench(
    project_root: Path, *arguments: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`python -m bench --quick *arguments`, as a child process, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "bench", "--quick", *arguments],
        cwd=project_root,
        env=_environment(project_root),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def test_the_quick_run_prints_and_writes_every_figure(project_root: Path, tmp_path: Path) -> None:
    written = tmp_path / "results.json"
    workdir = tmp_path / "work"
    done = _bench(project_root, "--json", str(written), "--workdir", str(workdir), timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    # The memory is measured on a product process of its own, started after the command runs.
    assert (workdir / "product.log").exists()
    assert (workdir / "product-memory.log").exists()

    results = json.loads(written.read_text())
    figures = [row["figure"] for row in results["rows"]]
    assert figures == [row.figure for row in report.rows(results)]
    for name in ("unbound: links/s, 50 at a time", "bound: completed/s, 50 at a time"):
        assert name in figures
    assert any(f.startswith("site: confirm page") for f in figures)
    assert any(f.startswith("growth: lookup") for f in figures)
    assert any(f.startswith("memory: RSS growth") for f in figures)
    for row in results["rows"]:
        assert isinstance(row["product"], int | float), row
        if row["baseline_name"]:
            assert isinstance(row["baseline"], int | float), row
        if row["target"]:
            assert isinstance(row["met"], bool), row

    lines = done.stdout.splitlines()
    assert any(line.startswith("Machine: ") for line in lines), done.stdout
    table = [line for line in lines if line.startswith("| ")]
    assert _cells(table[0]) == list(report.COLUMNS)
    assert set(table[1]) <= {"|", "-", " "}
    body = [_cells(line) for line in table[2:]]
    assert [cells[0] for cells in body] == figures
    for figure, product, baseline, _ratio, target, met in body:
        assert product and not product.startswith(report.NOT_MEASURED), figure
        assert report.NOT_MEASURED not in baseline, figure
        assert met in (("yes", "NO") if target else ("",)), figure


def test_a_kept_workdir_can_be_run_again(project_root: Path, tmp_path: Path) -> None:
    """`--workdir` keeps the databases; a second run there starts from a fresh one rather
    than failing on the people the first one bound."""
    workdir = tmp_path / "kept"
    arguments = ["--only", "memory", "--workdir", str(workdir)]
    for _ in range(2):
        done = _bench(project_root, *arguments, "--json", str(tmp_path / "results.json"))
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
        assert (workdir / "product.sqlite3").exists()
        assert "Run: only memory (the other figures not measured), --quick" in done.stdout, (
            done.stdout[:500]
        )


def test_a_path_it_cannot_use_is_refused_before_the_run(project_root: Path, tmp_path: Path) -> None:
    """A `--json` or `--workdir` it could not use is said in one line at once, not found
    after minutes of measuring (or as a traceback)."""
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "product.sqlite3").write_text("their data")
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    for arguments, said in (
        (["--workdir", str(theirs)], "holds other files, which a run could overwrite"),
        (["--json", str(fifo)], "not a regular file"),
        (["--json", str(tmp_path)], "is a directory"),
        (["--json", str(a_file / "results.json")], "stands where its folder would be"),
        (["--workdir", str(a_file)], "exists and is not a directory"),
        (["--workdir", str(a_file / "work")], "cannot make it"),
        (["--workdir", "/proc"], "cannot write there"),
        (["--json", "/proc/results.json"], "cannot write there"),
        (["--json", str(tmp_path / "new" / "r.json"), "--workdir", str(a_file)], "not a dir"),
    ):
        done = _bench(project_root, "--only", "memory", *arguments, timeout=60)
        assert done.returncode == 2, (arguments, done.stderr[-2000:])
        assert said in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]
        assert not done.stdout
    assert (theirs / "product.sqlite3").read_text() == "their data"
    assert not (tmp_path / "new").exists()  # a refused run makes nothing


def test_a_run_of_some_parts_keeps_the_full_runs_results() -> None:
    assert run.default_json(run.PARTS) == run.DEFAULT_JSON
    only_memory = run.default_json(("memory",))
    assert only_memory != run.DEFAULT_JSON and only_memory.name == "only-memory.json"
    assert run.default_json(("growth", "site")).name == "only-site-growth.json"


def test_the_table_says_what_each_figure_counted() -> None:
    """A baseline's commands that got nothing in time are said beside its figure as the
    product's are; a figure under 1 keeps the digits its ratio was computed from."""
    results = {
        "plan": {"parts": ["commands"], "quick": False, "growth_sizes": []},
        "commit": "abc1234",
        "product_bound": {"open": {"ack_p99_ms": 352.0, "acked": 100, "answered": 100}},
        "baseline_c": {
            "open": {"ack_p99_ms": 507.0, "acked": 100, "answered": 90, "ack_timeouts": 2}
        },
        "product_unbound": {"c1": {"answer_p50_ms": 0.047}},
        "baseline_b": {"c1": {"ack_p50_ms": 0.031}},
    }
    by_figure = {row.figure: report.cells(row) for row in report.rows(results)}
    bound_open = next(cells for f, cells in by_figure.items() if "open loop at its" in f)
    assert bound_open[1] == "352"
    assert bound_open[2] == (
        "C: 507 (2 without an ack within 3 s, 10 acknowledged but unanswered within 10 s, "
        "each counted in percentiles as its whole wait)"
    )
    assert by_figure["unbound: link p50 ms, one at a time"][1:4] == ("0.047", "B: 0.031", "1.52")
    header = report.table(results).splitlines()[1]
    assert header.startswith("Run: only commands (the other figures not measured), on commit ")


def test_a_command_never_acknowledged_counts_as_unanswered_in_the_answer_percentiles() -> None:
    samples = [Sample(sent_at=0.1 * n, ack=0.001, answer=0.002) for n in range(90)]
    samples += [Sample(sent_at=0.1 * n, ack=None) for n in range(90, 100)]
    stats = load._stats("open", samples, 0.0, 10.0, True, concurrency=None, rate=10.0)
    assert stats.ack_timeouts == 10
    assert stats.answer_p99_ms == load.ANSWER_TIMEOUT_SECONDS * 1000


def _working_in(workdir: Path) -> list[int]:
    """The processes whose working directory is `workdir` (the benchmark's children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")) == workdir:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_run_stopped_with_sigterm_or_ctrl_c_leaves_no_process(
    project_root: Path, tmp_path: Path
) -> None:
    for number, then in (
        (signal.SIGTERM, None),
        (signal.SIGINT, None),
        (signal.SIGTERM, signal.SIGINT),  # more while the first one's stop goes on
    ):
        workdir = (tmp_path / f"{number.name}-{then and then.name}").resolve()
        written = workdir.with_suffix(".json")
        command = [sys.executable, "-m", "bench", "--quick", "--only", "commands"]
        running = subprocess.Popen(
            [*command, "--workdir", str(workdir), "--json", str(written)],
            cwd=project_root,
            env=_environment(project_root),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 120
            while len(_working_in(workdir)) < 2:  # the internal API and a system under test
                assert running.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            running.send_signal(number)
            while then is not None and running.poll() is None:  # again and again meanwhile
                with contextlib.suppress(ProcessLookupError):
                    running.send_signal(then)
                time.sleep(0.05)
            _, stderr = running.communicate(timeout=120)
        finally:
            if running.poll() is None:
                running.kill()
        assert running.returncode == 130, stderr[-2000:]
        assert stderr.rstrip().endswith(
            "bench: stopped; every process it started has ended; no results written"
        ), stderr[-2000:]
        assert "Traceback" not in stderr, stderr[-2000:]
        assert _working_in(workdir) == []
        assert not written.exists()


async def test_a_timed_command_reports_its_ack_or_none_and_a_live_response_url() -> None:
    fake = FakeSlack()
    posts: list[str] = []
    fake.watch_response_urls(lambda url, at: posts.append(url))
    await fake.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{fake.api_url}apps.connections.open",
                headers={"Authorization": f"Bearer {fake.app_token}"},
            ) as opened:
                url = (await opened.json())["url"]
            async with http.ws_connect(url) as ws:
                await ws.receive_json()  # hello
                silent = await fake.send_command_timed("U0ADA", "me", ack_within=0.2)
                assert silent.ack_seconds is None  # nothing acknowledged it

                async def acknowledge() -> None:
                    envelope = await ws.receive_json()  # the silent one
                    envelope = await ws.receive_json()
                    assert envelope["type"] == "slash_commands"
                    assert envelope["payload"]["text"] == "who &amp; what"
                    await ws.send_json(
                        {"envelope_id": envelope["envelope_id"], "payload": {"text": "said"}}
                    )

                acknowledging = asyncio.create_task(acknowledge())
                timed = await fake.send_command_timed("U0ADA", "who & what")
                await acknowledging
            assert timed.ack_seconds is not None and timed.ack_seconds >= 0
            assert timed.ack_payload == {"text": "said"} and silent.ack_payload is None
            assert timed.sent_at > silent.sent_at

            async with http.post(timed.response_url, json={"text": "the answer"}) as answer:
                assert answer.status == 200
            async with http.post(timed.response_url + "0", json={"text": "x"}) as unknown:
                assert unknown.status == 404
            fake.forget_response_urls()
            async with http.post(timed.response_url, json={"text": "again"}) as forgotten:
                assert forgotten.status == 404
        assert posts == [timed.response_url]
        assert fake.state.messages[-1].text == "the answer"  # the post itself is recorded
        assert not any(m.source == "slack" for m in fake.state.messages)  # no operation_timeout
    finally:
        await fake.stop()
