"""The README stays true: every setting is documented, and CI runs the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

from account_binding.settings import Settings, env_name, markdown_table
from tools import settings_table


def test_every_setting_is_in_the_readme_configuration_table(project_root: Path) -> None:
    settings = {env_name(name, info) for name, info in Settings.model_fields.items()}
    assert {"SLACK_BOT_TOKEN", "PUBLIC_URL", "BINDING_TTL", "SECRET_KEY", "ACT_AS"} <= settings
    readme = (project_root / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", table, re.MULTILINE))
    assert settings == documented


def test_the_readme_settings_table_is_the_one_the_declaration_makes(project_root: Path) -> None:
    """Each setting's help lives in account_binding/settings.py; `make settings-table` writes
    it into the README. A row edited by hand, or a setting added without the table, fails."""
    readme = (project_root / "README.md").read_text()
    configuration = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    assert settings_table.BEGIN in configuration, "the table's markers are in Configuration"
    assert settings_table.table_in(readme) == markdown_table(), "run: make settings-table"
    assert settings_table.rewritten(readme) == readme


def test_the_settings_table_shows_declared_defaults_and_escapes_its_cells() -> None:
    rows = {
        line.split(" | ")[0].strip("| `"): line
        for line in markdown_table().splitlines()
        if line.startswith("| `")
    }
    assert rows["PORT"].startswith("| `PORT` | `8000` | ")
    assert rows["REQUIRE_EMAIL_MATCH"].startswith("| `REQUIRE_EMAIL_MATCH` | `false` | ")
    assert rows["SLACK_BOT_TOKEN"].startswith("| `SLACK_BOT_TOKEN` | unset | ")
    assert rows["SECRET_KEY"].startswith("| `SECRET_KEY` | generated | ")
    assert rows["IMPERSONATE_HEADER"].startswith("| `IMPERSONATE_HEADER` | `Impersonate-User` | ")
    for line in rows.values():  # three cells: a | inside a cell is escaped
        assert len(re.findall(r"(?<!\\)\|", line)) == 4, line


def test_ci_runs_the_readme_test_command(project_root: Path) -> None:
    readme = (project_root / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^(make \w+)", quick_start, re.MULTILINE)
    assert commands == ["make run", "make test"]
    assert re.search(r"^make test$", (project_root / ".ci" / "run").read_text(), re.MULTILINE)


def test_every_test_security_md_names_exists(project_root: Path) -> None:
    text = (project_root / "SECURITY.md").read_text()
    named = set(re.findall(r"`(test_\w+\.py)::(test_\w+)`", text))
    files = set(re.findall(r"`(test_\w+\.py)`", text))
    assert len(named) >= 30
    for file, test in sorted(named):
        source = (project_root / "tests" / file).read_text()
        assert re.search(rf"^(async )?def {test}\(", source, re.MULTILINE), f"{file}::{test}"
    for file in files:
        assert (project_root / "tests" / file).is_file(), file
