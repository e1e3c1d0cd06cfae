"""manifest.yml is a valid Slack app manifest for what the app does."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "slack" / "manifest.schema.1.0.0.json"


@pytest.fixture
def manifest(project_root: Path) -> dict[str, Any]:
    loaded = yaml.safe_load((project_root / "manifest.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_manifest_matches_slacks_schema(manifest: dict[str, Any]) -> None:
    if not SCHEMA.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Slack's manifest schema is missing at {SCHEMA}")
        pytest.skip(
            f"Slack's manifest schema is not at {SCHEMA} (it sits beside the project in CI)"
        )
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(manifest), key=str)
    assert not errors, "\n".join(e.message for e in errors)


def test_schema_check_catches_a_bad_manifest(manifest: dict[str, Any]) -> None:
    if not SCHEMA.is_file():
        pytest.skip(f"Slack's manifest schema is not at {SCHEMA}")
    schema = json.loads(SCHEMA.read_text())
    broken = {**manifest, "settings": {**manifest["settings"], "socket_mode": True}}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_manifest_declares_what_the_app_uses(manifest: dict[str, Any]) -> None:
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True  # the link button
    commands = manifest["features"]["slash_commands"]
    assert len(commands) == 1 and "url" not in commands[0]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert scopes == {"commands", "chat:write", "users:read"}  # least privilege
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True  # where the DMs land
