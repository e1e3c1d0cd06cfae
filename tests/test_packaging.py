"""The wheel holds every module, template and static file, and installs without warnings.

setuptools finds the packages itself; this test catches a module, sub-package or page file
left out of the wheel, which the tests run from the source tree would never notice.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

PACKAGES = ("account_binding", "bolt_app", "web", "fake_slack", "launcher")


def _source_files(root: Path) -> set[str]:
    files = set()
    for package in PACKAGES:
        for path in (root / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.add(path.relative_to(root).as_posix())
    return files


def test_the_wheel_holds_every_module_and_page_file_and_imports_from_itself(
    project_root: Path, tmp_path: Path
) -> None:
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the project
    shutil.copytree(
        project_root,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "__pycache__", "build", "*.egg-info", ".*_cache", "tests", "docs"
        ),
    )
    built = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation"),
            *("--wheel-dir", str(tmp_path / "dist"), str(source)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    output = built.stdout + built.stderr
    assert "Package would be ignored" not in output, output
    assert "is absent from the `packages` configuration" not in output, output

    [wheel] = (tmp_path / "dist").glob("account_binding-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "installed")
    expected = _source_files(project_root)
    assert {"web/templates/confirm.html", "web/static/style.css"} <= expected
    assert {"fake_slack/templates/sandbox.html", "fake_slack/static/sandbox.css"} <= expected
    assert expected - names == set()

    modules = sorted(
        name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for name in expected
        if name.endswith(".py")
    )
    installed = tmp_path / "installed"
    script = (
        "import importlib, importlib.util, sys\n"
        f"sys.path.insert(0, {str(installed)!r})\n"
        f"for name in {modules!r}:\n"
        "    if name.endswith('__main__'):  # importing it would run the command\n"
        "        origin = importlib.util.find_spec(name).origin\n"
        "    else:\n"
        "        origin = importlib.import_module(name).__file__\n"
        f"    assert origin.startswith({str(installed)!r}), (name, origin)\n"
        "from web.templating import templates\n"
        "print(len(templates.env.list_templates()))\n"
    )
    imported = subprocess.run(
        [sys.executable, "-I", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr
    assert int(imported.stdout) >= 10  # the pages' templates, found inside the wheel


def test_make_run_installs_only_what_running_needs(project_root: Path, tmp_path: Path) -> None:
    """`make run` on a fresh machine installs the app alone; `make test` adds the tools."""
    make = shutil.which("make")
    assert make, "make is needed: the README's two commands are make targets"

    def planned(target: str) -> str:
        return subprocess.run(
            [make, "-n", "-C", str(project_root), target, f"VENV={tmp_path / 'venv'}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout

    run = planned("run")
    assert "pip install --quiet -e .\n" in run and "[dev]" not in run, run
    assert "pip install --quiet -e '.[dev]'" in planned("pytest")
