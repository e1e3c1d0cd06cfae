"""Too many links for one Slack person: the command says so, ephemerally, with the domain's
message (LinkRateLimited), and issues no link."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import find_link, run_app


async def test_too_many_links_are_refused_with_the_limits_message(tmp_path: Path) -> None:
    async with run_app(tmp_path, LINKS_PER_HOUR="2") as app:
        for _ in range(2):
            assert find_link(await app.command("U0ADA", "link"))
        refused = await app.command("U0ADA", "link")
        assert len(refused) == 1 and refused[0].where == "ephemeral"
        assert "many links in a short time" in refused[0].text
        with pytest.raises(AssertionError):
            find_link(refused)
        assert app.query("SELECT count(*) FROM binding_requests") == [(2,)]
        # Someone else is not limited by it.
        assert find_link(await app.command("U0GRACE", "link"))
