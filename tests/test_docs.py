"""The README stays true: every setting is documented, and CI runs the README's test command."""

from __future__ import annotations

import re
from pathlib import Path


def test_every_setting_is_in_the_readme_configuration_table(project_root: Path) -> None:
    source = (project_root / "account_binding" / "settings.py").read_text()
    settings = set(re.findall(r'get\("([A-Z_]+)"\)', source))
    assert {"SLACK_BOT_TOKEN", "PUBLIC_URL", "BINDING_TTL", "SECRET_KEY"} <= settings
    readme = (project_root / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", table, re.MULTILINE))
    assert settings == documented


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
