"""One function makes the store: `launcher.compose.store_for` (and `open_store`, which every
command uses, calls it). Another store, such as PostgreSQL for several replicas, then has one
seam to plug into, not a constructor call in each command."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

#: The one place outside the store's own module (and the tests) that may call SQLiteStore(...).
SEAM = ("launcher/compose.py", "store_for")
SKIPPED_DIRECTORIES = {"tests", "build", "dist", "node_modules", "site-packages"}


def constructions(source: str) -> list[tuple[int, str | None]]:
    """Where `source` calls SQLiteStore, as (line, enclosing function or None): by its name,
    by a name it was imported as, or as an attribute (`sqlite_store.SQLiteStore(...)`)."""
    tree = ast.parse(source)
    names = {"SQLiteStore"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names |= {
                alias.asname
                for alias in node.names
                if alias.name == "SQLiteStore" and alias.asname is not None
            }
        elif isinstance(node, ast.Assign) and (
            (isinstance(node.value, ast.Name) and node.value.id in names)
            or (isinstance(node.value, ast.Attribute) and node.value.attr == "SQLiteStore")
        ):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
    found: list[tuple[int, str | None]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if isinstance(node, ast.Call) and (
            (isinstance(node.func, ast.Name) and node.func.id in names)
            or (isinstance(node.func, ast.Attribute) and node.func.attr == "SQLiteStore")
        ):
            found.append((node.lineno, function))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, None)
    return found


def project_sources(root: Path) -> list[Path]:
    """Every Python file of the project outside tests, virtual environments and hidden folders."""
    found = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(
            name
            for name in subdirectories
            if not name.startswith(".")
            and name not in SKIPPED_DIRECTORIES
            and not (Path(directory) / name / "pyvenv.cfg").exists()
        )
        found += [Path(directory) / name for name in sorted(files) if name.endswith(".py")]
    return found


def test_only_store_for_constructs_the_sqlite_store(project_root: Path) -> None:
    sources = project_sources(project_root)
    assert project_root / "launcher" / "cli.py" in sources
    places = []
    for path in sources:
        relative = path.relative_to(project_root).as_posix()
        if relative == "account_binding/sqlite_store.py":
            continue  # the class itself
        places += [
            (relative, function, line)
            for line, function in constructions(path.read_text(encoding="utf-8"))
        ]
    assert [(file, function) for file, function, _ in places] == [SEAM], (
        "open the store with launcher.compose.open_store (or store_for), not SQLiteStore(...): "
        f"{places}"
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("SQLiteStore(path)", [(1, None)]),
        ("def f():\n    return SQLiteStore(path)", [(2, "f")]),
        ("from account_binding.sqlite_store import SQLiteStore as S\nS(p)", [(2, None)]),
        ("from account_binding import sqlite_store\nsqlite_store.SQLiteStore(p)", [(2, None)]),
        ("Make = SQLiteStore\nasync def g():\n    Make(p)", [(3, "g")]),
        ("def f(store: SQLiteStore) -> SQLiteStore:\n    return store", []),
    ],
)
def test_the_scan_finds_every_way_of_constructing_the_store(
    source: str, expected: list[tuple[int, str | None]]
) -> None:
    assert constructions(source) == expected
