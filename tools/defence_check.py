"""The defence-removal check: does a test notice when a defence of SECURITY.md is taken out?

    python -m tools.defence_check              every removal of the catalog (tools/defences.py)
    python -m tools.defence_check --list       the catalog, row by row, and its stale entries,
                                               without running any test
    python -m tools.defence_check --only TEXT  the removals whose row, description or file
                                               contains TEXT (case-insensitive; repeatable)

For each removal, one at a time, in a temporary copy of the repository's tracked files (the
working tree is never touched): replace the removal's exact text in its file, run the tests
that SECURITY.md's "Attacks and defences" table names for its row (`python -m pytest -x -q`
with PYTHONPATH at the copy), and put the file back. The removal is *caught* when those tests
fail. Before any removal the same tests run once on the unchanged copy: a test that already
fails would make every removal look caught, so that stops the check.

A removal whose text is not in its file exactly once, whose row is not in the table, or whose
tests cannot even be collected is an ERROR (a stale catalog), never skipped; so is a row of the
table with no removal when the whole catalog runs. The last line says `N of M removals
caught`; the exit code is 0 only when every removal was caught and nothing was an error.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

TABLE_HEADING = "## Attacks and defences"
PYTEST = ["-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
DEFAULT_TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class Removal:
    """One defence taken out: `find` (exact text, present once in `file`) becomes `replace`.

    `row` names a row of SECURITY.md's table: its bold attack name, or the whole attack cell
    when the row has no bold name. `file` is relative to the repository's root.
    """

    row: str
    what: str
    file: str
    find: str
    replace: str


@dataclass(frozen=True)
class Row:
    """A row of the table: its key (the bold attack name, else the attack cell) and the tests
    that prove it, as pytest node IDs relative to the repository (`tests/x.py::test_y`)."""

    key: str
    tests: tuple[str, ...]


def parse_table(security_md: str) -> list[Row]:
    """The rows of the "Attacks and defences" table. Tests are named in the "proven by" cell as
    `test_file.py::test_name` or a bare `test_file.py`, relative to `tests/`."""
    if TABLE_HEADING not in security_md:
        raise ValueError(f"SECURITY.md has no {TABLE_HEADING!r} section")
    section = security_md.split(TABLE_HEADING, 1)[1].split("\n## ", 1)[0]
    lines = [line.strip() for line in section.splitlines() if line.strip().startswith("|")]
    rows = []
    for line in lines[2:]:  # the header and the --- line
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) < 3:
            raise ValueError(f"a row of the table has fewer than 3 cells: {line[:80]}")
        attack, proven_by = cells[0], cells[-1]
        bold = re.match(r"\*\*(.+?)\*\*", attack)
        key = bold.group(1) if bold else attack
        named = re.findall(r"`(test_\w+\.py(?:::test_\w+)?)`", proven_by)
        rows.append(Row(key=key.strip(), tests=tuple(f"tests/{name}" for name in named)))
    return rows


def load_catalog(path: Path) -> list[Removal]:
    """The `REMOVALS` list of the catalog module at `path`."""
    spec = importlib.util.spec_from_file_location("defence_catalog", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot load the catalog {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    removals = module.REMOVALS
    if not isinstance(removals, list) or not all(isinstance(r, Removal) for r in removals):
        raise ValueError(f"{path}: REMOVALS must be a list of Removal")
    return removals


#: Directories the tests need that git does not track, linked into the copy.
INSTALLED_DIRECTORIES = ("tools/oidc-provider/node_modules",)


def copy_tracked_files(repo: Path, destination: Path) -> None:
    """The working-tree content of every file git tracks in `repo` (uncommitted edits
    included, deleted files left out), copied under `destination`."""
    git = ["git", "-C", str(repo), "ls-files", "-z"]
    listed = subprocess.run(git, check=True, capture_output=True).stdout.decode()  # noqa: S603 - git from PATH, as the maintainer runs it
    for name in filter(None, listed.split("\0")):
        source = repo / name
        if not source.is_file():
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    # Installed, not tracked: the loopback OpenID provider's npm packages, which the single
    # sign-on tests run (without them they skip, and a removal would look uncaught).
    for installed in INSTALLED_DIRECTORIES:
        if (repo / installed).is_dir():
            (destination / installed).symlink_to(repo / installed, target_is_directory=True)


@dataclass(frozen=True)
class Outcome:
    status: str  # "caught", "NOT CAUGHT" or "ERROR"
    detail: str = ""


class Copy:
    """A temporary copy of the repository in which tests run."""

    def __init__(self, root: Path, timeout: float) -> None:
        self.root = root
        self.timeout = timeout

    def run_tests(self, tests: Sequence[str], *, stop_at_first: bool = True) -> tuple[int, str]:
        """pytest's exit code and the tail of its output; a run over `timeout` is code -1."""
        environment = {
            **os.environ,
            "PYTHONPATH": str(self.root),
            "PYTHONDONTWRITEBYTECODE": "1",  # a same-size edit in the same second: no stale .pyc
        }
        arguments = PYTEST if stop_at_first else [a for a in PYTEST if a != "-x"]
        try:
            done = subprocess.run(  # noqa: S603 - this Python running pytest on the copy
                [sys.executable, *arguments, *tests],
                cwd=self.root,
                env=environment,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return -1, f"the tests did not finish within {self.timeout:.0f} s"
        output = (done.stdout + done.stderr).strip().splitlines()
        return done.returncode, "\n".join(output[-15:])

    def try_removal(self, removal: Removal, tests: Sequence[str]) -> Outcome:
        problem = stale_reason(self.root, removal)
        if problem:
            return Outcome("ERROR", problem)
        path = self.root / removal.file
        original = path.read_text()
        path.write_text(original.replace(removal.find, removal.replace))
        try:
            code, output = self.run_tests(tests)
        finally:
            path.write_text(original)
        if code == 0:
            return Outcome("NOT CAUGHT", "the tests passed without the defence")
        if code in (1, -1):
            return Outcome("caught", "" if code == 1 else "by a timeout")
        return Outcome("ERROR", f"pytest could not run the tests (exit code {code}):\n{output}")


def select(removals: list[Removal], only: Sequence[str]) -> list[Removal]:
    if not only:
        return removals
    wanted = [text.lower() for text in only]
    return [r for r in removals if any(w in f"{r.row}\n{r.what}\n{r.file}".lower() for w in wanted)]


def stale_reason(repo: Path, removal: Removal) -> str | None:
    """Why the removal cannot be made in `repo`, or None when its text is there exactly once."""
    path = repo / removal.file
    if not path.is_file():
        return f"stale: {removal.file} does not exist"
    found = path.read_text().count(removal.find)
    if found == 1:
        return None
    where = "is not" if found == 0 else f"is {found} times"
    return f"stale: the text to remove {where} in {removal.file}"


def list_catalog(repo: Path, rows: list[Row], removals: list[Removal]) -> int:
    """Print the catalog row by row, with its errors; the number of errors."""
    keys = {row.key for row in rows}
    errors = 0
    for row in rows:
        print(f"{row.key}  ({len(row.tests)} test{'' if len(row.tests) == 1 else 's'})")
        if not any(removal.row == row.key for removal in removals):
            print("    ERROR: no removal for this row")
            errors += 1
        for removal in removals:
            if removal.row == row.key:
                problem = stale_reason(repo, removal)
                print(f"    - {removal.what}  [{removal.file}]")
                if problem:
                    print(f"      ERROR: {problem}")
                    errors += 1
    for removal in removals:
        if removal.row not in keys:
            print(f"ERROR: {removal.what}: no row {removal.row!r} in SECURITY.md")
            errors += 1
    print(f"{len(removals)} removals, {errors} errors")
    return errors


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.defence_check",
        description="Remove each defence of SECURITY.md in turn and see whether its tests fail.",
    )
    parser.add_argument("--repo", type=Path, default=None, help="the repository (default: here)")
    parser.add_argument(
        "--catalog", type=Path, default=None, help="default: tools/defences.py of the repository"
    )
    parser.add_argument(
        "--only", action="append", default=[], metavar="TEXT", help="removals matching TEXT"
    )
    parser.add_argument("--list", action="store_true", help="list the catalog and stop")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help="seconds for one run of a row's tests",
    )
    args = parser.parse_args(argv)

    repo = (args.repo or Path.cwd()).resolve()
    rows = parse_table((repo / "SECURITY.md").read_text())
    removals = load_catalog(args.catalog or repo / "tools" / "defences.py")
    if args.list:
        return 1 if list_catalog(repo, rows, removals) else 0

    by_key = {row.key: row for row in rows}
    chosen = select(removals, args.only)
    errors: list[str] = []
    if not args.only:
        covered = {r.row for r in removals}
        errors += [f"no removal for the row {row.key!r}" for row in rows if row.key not in covered]
    errors += [f"the row {row.key!r} names no test" for row in rows if not row.tests]
    for message in errors:
        print(f"ERROR: {message}", flush=True)
    if not chosen:
        print("No removal matches.")
        return 1

    with tempfile.TemporaryDirectory(prefix="defence-check-") as temporary:
        copy = Copy(Path(temporary), args.timeout)
        copy_tracked_files(repo, copy.root)
        baseline = sorted({test for r in chosen if r.row in by_key for test in by_key[r.row].tests})
        if baseline:
            print(
                f"Running the {len(baseline)} tests named for these rows, unchanged ...", flush=True
            )
            code, output = copy.run_tests(baseline, stop_at_first=False)
            if code != 0:
                print(f"ERROR: the tests fail without any removal (exit code {code}):\n{output}")
                return 2
        caught = 0
        missed: list[str] = []
        for number, removal in enumerate(chosen, 1):
            started = time.monotonic()
            row = by_key.get(removal.row)
            if row is None:
                outcome = Outcome("ERROR", f"stale: no row {removal.row!r} in SECURITY.md")
            elif not row.tests:
                outcome = Outcome("ERROR", "its row names no test")
            else:
                outcome = copy.try_removal(removal, row.tests)
            seconds = time.monotonic() - started
            line = f"[{number}/{len(chosen)}] {outcome.status}: {removal.row} — {removal.what}"
            print(f"{line} ({removal.file}, {seconds:.0f} s)", flush=True)
            if outcome.detail and outcome.status != "caught":
                print("    " + outcome.detail.replace("\n", "\n    "), flush=True)
            if outcome.status == "caught":
                caught += 1
            else:
                missed.append(f"{outcome.status}: {removal.row} — {removal.what}")

    print()
    for line in missed + [f"ERROR: {message}" for message in errors]:
        print(f"  {line}")
    print(f"{caught} of {len(chosen)} removals caught")
    return 0 if caught == len(chosen) and not errors else 1


if __name__ == "__main__":
    # Run the imported module's main, so that the catalog's Removal is this module's class.
    from tools import defence_check

    sys.exit(defence_check.main())
