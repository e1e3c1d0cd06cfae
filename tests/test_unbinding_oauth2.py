"""Under ACT_AS=oauth2, removing a binding on the web page revokes the person's grant at the
provider, as unlink does (issue 10), against the real OpenID provider on loopback."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import csrf_of
from test_act_as_oauth2 import bind, oauth2_app


async def test_removing_on_the_web_revokes_the_grant_at_the_provider(tmp_path: Path) -> None:
    async with oauth2_app(tmp_path) as setup:
        browser, done = await bind(setup, "ada", "U0ADA")
        assert done.status_code == 200, done.text
        access, refresh = setup.tokens("U0ADA")
        listed = await browser.get("/connections")
        match = re.search(r'href="(/connections/[0-9a-f]{32}/remove)"', listed.text)
        assert match, listed.text
        asked = await browser.get(match.group(1))
        removed = await browser.post(match.group(1), data={"csrf_token": csrf_of(asked)})
        assert removed.status_code == 200, removed.text
        assert not setup.app.query("SELECT * FROM bindings")
        assert not setup.app.query("SELECT * FROM oauth_grants")
        assert setup.introspect(refresh)["active"] is False
        assert setup.introspect(access)["active"] is False
