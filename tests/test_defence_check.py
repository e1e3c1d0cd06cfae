"""The defence-removal check itself (tools/defence_check.py), on a tiny repository of its own."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tools.defence_check import main, parse_table

SECURITY_MD = """\
# Security

## Attacks and defences

| attack | defence | proven by |
| --- | --- | --- |
| **Negative amounts** (refunds) | `accept` refuses them. | `test_bank.py::test_negative_amounts_are_refused` |
| **Huge amounts** | `cap` keeps amounts under 100. | `test_bank.py::test_small_amounts_pass` |
| Nothing bold here | Nothing. | `test_bank.py` |

## Known limits
"""

BANK = """\
def accept(amount: int) -> bool:
    return amount >= 0


def cap(amount: int) -> int:
    return min(amount, 100)
"""

TESTS = """\
from bank import accept, cap


def test_negative_amounts_are_refused() -> None:
    assert not accept(-1)


def test_small_amounts_pass() -> None:
    assert cap(5) == 5
"""

CATALOG = """\
from tools.defence_check import Removal

REMOVALS = [
    Removal("Negative amounts", "accept takes anything", "bank.py", "amount >= 0", "True"),
    Removal("Huge amounts", "no cap", "bank.py", "min(amount, 100)", "amount"),
    Removal("Negative amounts", "a stale one", "bank.py", "amount > 0", "True"),
]
"""


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with a SECURITY.md table, a module and its tests; its catalog beside."""
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "SECURITY.md").write_text(SECURITY_MD)
    (repo / "bank.py").write_text(BANK)
    (repo / "tests" / "test_bank.py").write_text(TESTS)
    (tmp_path / "catalog.py").write_text(CATALOG)
    for git in (["git", "init", "-q", str(repo)], ["git", "-C", str(repo), "add", "."]):
        subprocess.run(git, check=True)
    # The tiny tests need none of the project's pytest plugins: a faster start.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return repo


def run(repo: Path, *args: str) -> int:
    return main(["--repo", str(repo), "--catalog", str(repo.parent / "catalog.py"), *args])


def test_the_table_is_read_row_by_row() -> None:
    rows = parse_table(SECURITY_MD)
    assert [(row.key, row.tests) for row in rows] == [
        ("Negative amounts", ("tests/test_bank.py::test_negative_amounts_are_refused",)),
        ("Huge amounts", ("tests/test_bank.py::test_small_amounts_pass",)),
        ("Nothing bold here", ("tests/test_bank.py",)),
    ]


def test_caught_uncaught_and_stale_removals_are_told_apart(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(repository) == 1
    out = capsys.readouterr().out
    assert "caught: Negative amounts — accept takes anything" in out
    assert "NOT CAUGHT: Huge amounts — no cap" in out
    assert "ERROR: Negative amounts — a stale one" in out
    assert "stale: the text to remove is not in bank.py" in out
    assert "ERROR: no removal for the row 'Nothing bold here'" in out
    assert out.rstrip().endswith("1 of 3 removals caught")
    assert (repository / "bank.py").read_text() == BANK  # the working tree is never touched


def test_a_subset_can_run_and_passes_when_all_its_removals_are_caught(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(repository, "--only", "ACCEPT takes") == 0
    assert capsys.readouterr().out.rstrip().endswith("1 of 1 removals caught")


def test_a_failing_test_stops_the_check_before_any_removal(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Otherwise every removal would look caught."""
    (repository / "bank.py").write_text(BANK.replace("amount >= 0", "amount >= -5"))
    assert run(repository, "--only", "accept") == 2
    out = capsys.readouterr().out
    assert "the tests fail without any removal" in out and "caught" not in out


def test_the_list_names_each_row_its_removals_and_the_stale_ones(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(repository, "--list") == 1
    out = capsys.readouterr().out
    assert "Huge amounts  (1 test)\n    - no cap  [bank.py]\n" in out
    assert "- a stale one  [bank.py]\n      ERROR: stale" in out
    assert "Nothing bold here  (1 test)\n    ERROR: no removal for this row" in out
    assert "3 removals, 2 errors" in out


def test_the_catalog_matches_this_repositorys_security_md(
    project_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every row has a removal and every removal's text is in its file: nothing is stale."""
    assert main(["--repo", str(project_root), "--list"]) == 0, capsys.readouterr().out
