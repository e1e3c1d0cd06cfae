"""Single sign-on journeys in a real browser (Debian's Chromium driven by Playwright), through
the sandbox page and the real app running as `account-binding run`, with axe-core on every
page of this site a journey visits.

- `AUTH=oidc`: the sandbox starts the loopback OpenID provider (tools/oidc-provider); the
  person signs in there by its one-field form, as a person would, and comes back.
- `AUTH=proxy`: Chromium's requests carry the header an authenticating proxy on loopback
  (in TRUSTED_PROXIES) would add.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, expect
from processes import AppProcess, free_port
from test_browser_journeys import (
    DESKTOP,
    SITE_HOST,
    accessible,
    browser,
    log_in,
    open_link,
    run_command,
)

from tests.oidc_provider import node_command

__all__ = ["browser"]  # the fixture, imported for the tests here


async def new_context(browser: Browser) -> BrowserContext:
    """A desktop-sized browser context whose waits allow for a provider round trip."""
    context = await browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    return context


async def start_sandbox(tmp_path: Path, **settings: str) -> tuple[AppProcess, str, str]:
    """The sandbox with `settings`; returns it, the sandbox page's URL and the site's."""
    port = free_port()
    site_url = f"http://{SITE_HOST}:{port}"
    app = AppProcess(
        tmp_path,
        PORT=str(port),
        PUBLIC_URL=site_url,
        SANDBOX_PORT=str(free_port()),
        SANDBOX_OIDC_PORT=str(free_port()),
        **settings,
    )
    await app.start()
    slack = re.search(r"Try the app as a Slack user:\s+(\S+)", app.output)
    assert slack, app.output
    return app, slack.group(1).rstrip("/"), site_url


@pytest.fixture
async def oidc_sandbox(tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    node_command()  # fails in CI, skips elsewhere, when the provider is not installed
    app, slack_url, site_url = await start_sandbox(tmp_path, AUTH="oidc")
    try:
        assert "sign in with the test provider" in app.output
        yield slack_url, site_url
    finally:
        await app.stop()
    assert "Traceback" not in app.output, app.output


async def sign_in_at_the_test_provider(page: Page, account: str) -> None:
    """The provider's own page (not this site's: no axe here): type the account, submit."""
    await expect(page.get_by_role("heading", name="Sign in to the test provider")).to_be_visible()
    await page.get_by_label("Account").fill(account)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state()


async def test_sign_in_with_the_provider_then_bind_and_log_out(
    browser: Browser, oidc_sandbox: tuple[str, str]
) -> None:
    slack_url, site_url = oidc_sandbox
    context = await new_context(browser)
    try:
        slack = await context.new_page()
        await slack.goto(f"{slack_url}/?user=U0ADA")
        await expect(slack.get_by_text("sign in with the test provider as ada")).to_be_visible()
        await run_command(slack, "whoami")
        site = await open_link(context, slack)

        # The login page is one button that goes to the provider.
        await expect(site.get_by_role("heading", name="Log in to Acme")).to_be_visible()
        await accessible(site)
        await site.get_by_role("button", name="Sign in with the test provider").click()
        await site.wait_for_load_state()
        await sign_in_at_the_test_provider(site, "ada")

        # Back on this site, the link survived the round trip: the confirm page.
        await expect(
            site.get_by_role("heading", name="Connect a Slack account to Acme?")
        ).to_be_visible()
        assert site.url.startswith(site_url)
        await expect(site.locator("dd").filter(has_text="ada@example.com")).to_be_visible()
        await accessible(site)
        await site.get_by_role("button", name="Connect").click()
        await site.wait_for_load_state()
        await expect(site.get_by_role("heading", name="Connected")).to_be_visible()
        await expect(site.get_by_role("status")).to_contain_text(
            "now connected to your Acme account ada"
        )
        await accessible(site)

        # The command acts as the account single sign-on made.
        await run_command(slack, "whoami")
        # (the whoami that started binding ran by itself too: the newest answer is this one)
        await expect(
            slack.locator("#latest").get_by_text("You are connected to Acme as ada")
        ).to_be_visible()

        # Log out: the session ends here, and the provider's sign-out is offered.
        await site.goto(f"{site_url}/")
        await site.get_by_role("button", name="Log out").click()
        await site.wait_for_load_state()
        await expect(site.get_by_role("heading", name="You are logged out")).to_be_visible()
        sign_out = site.get_by_role("link", name="Sign out of the test provider too")
        await expect(sign_out).to_be_visible()
        assert "/session/end" in (await sign_out.get_attribute("href") or "")
        await accessible(site)
    finally:
        await context.close()


@pytest.fixture
async def proxy_sandbox(tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    app, slack_url, site_url = await start_sandbox(
        tmp_path, AUTH="proxy", TRUSTED_PROXIES="127.0.0.1"
    )
    try:
        yield slack_url, site_url
    finally:
        await app.stop()
    assert "Traceback" not in app.output, app.output


async def test_behind_an_authenticating_proxy_the_login_step_is_automatic(
    browser: Browser, proxy_sandbox: tuple[str, str]
) -> None:
    slack_url, site_url = proxy_sandbox
    # What an authenticating proxy on loopback adds to every request it forwards.
    context: BrowserContext = await browser.new_context(
        viewport=DESKTOP,
        extra_http_headers={"X-Forwarded-User": "grace", "X-Forwarded-Email": "grace@example.com"},
    )
    context.set_default_timeout(15_000)
    try:
        slack = await context.new_page()
        await slack.goto(f"{slack_url}/?user=U0GRACE")
        await run_command(slack, "whoami")
        site = await open_link(context, slack)
        # No login page: the proxy said who this is.
        await expect(
            site.get_by_role("heading", name="Connect a Slack account to Acme?")
        ).to_be_visible()
        await expect(site.locator("dd").filter(has_text="grace@example.com")).to_be_visible()
        await accessible(site)
        await site.get_by_role("button", name="Connect").click()
        await site.wait_for_load_state()
        await expect(site.get_by_role("status")).to_contain_text(
            "now connected to your Acme account grace"
        )
        await accessible(site)
        await site.goto(f"{site_url}/")
        await site.get_by_role("button", name="Log out").click()
        await site.wait_for_load_state()
        await expect(site.get_by_text("still knows you")).to_be_visible()
        await accessible(site)
    finally:
        await context.close()


async def bind_in_the_browser(context: BrowserContext, slack: Page) -> Page:
    """Run `whoami` as the Slack user of `slack` and open the link; returns the site's tab."""
    await run_command(slack, "whoami")
    return await open_link(context, slack)


@pytest.fixture
async def oauth2_sandbox(tmp_path: Path) -> AsyncIterator[tuple[str, str, str]]:
    """ACT_AS=oauth2 with the built-in login: the sandbox's provider issues the tokens."""
    node_command()
    app, slack_url, site_url = await start_sandbox(tmp_path, ACT_AS="oauth2")
    try:
        assert "Connect grants tokens at" in app.output, app.output
        demo = re.search(r"Demo login:\s+demo / (\S+)", app.output)
        assert demo, app.output
        yield slack_url, site_url, demo.group(1)
    finally:
        await app.stop()
    assert "Traceback" not in app.output, app.output


async def test_connect_grants_the_persons_tokens_and_commands_act_with_them(
    browser: Browser, oauth2_sandbox: tuple[str, str, str]
) -> None:
    slack_url, site_url, password = oauth2_sandbox
    context = await new_context(browser)
    try:
        slack = await context.new_page()
        await slack.goto(f"{slack_url}/?user=U0ADA")
        site = await bind_in_the_browser(context, slack)
        await log_in(site, password)
        await expect(
            site.get_by_role("heading", name="Connect a Slack account to Acme?")
        ).to_be_visible()
        await accessible(site)
        # Connect leads to the authorization server for the person's consent, and back.
        await site.get_by_role("button", name="Connect").click()
        await site.wait_for_load_state()
        await sign_in_at_the_test_provider(site, "ada")
        await expect(site.get_by_role("heading", name="Connected")).to_be_visible()
        assert site.url.startswith(site_url)
        await accessible(site)

        # The stand-in takes the provider's access token: the to-do commands work as demo.
        await run_command(slack, "todo add water the plants")
        await run_command(slack, "todo")
        await expect(slack.get_by_text("water the plants").last).to_be_visible()
    finally:
        await context.close()


async def test_one_consent_signs_in_and_grants_the_tokens(browser: Browser, tmp_path: Path) -> None:
    node_command()
    app, slack_url, _ = await start_sandbox(tmp_path, AUTH="oidc", ACT_AS="oauth2")
    context = await new_context(browser)
    try:
        slack = await context.new_page()
        await slack.goto(f"{slack_url}/?user=U0GRACE")
        site = await bind_in_the_browser(context, slack)
        await site.get_by_role("button", name="Sign in with the test provider").click()
        await site.wait_for_load_state()
        await sign_in_at_the_test_provider(site, "ada")
        await expect(
            site.get_by_role("heading", name="Connect a Slack account to Acme?")
        ).to_be_visible()
        await accessible(site)
        # The sign-in's consent covered the tokens too: Connect binds at once.
        await site.get_by_role("button", name="Connect").click()
        await site.wait_for_load_state()
        await expect(site.get_by_role("heading", name="Connected")).to_be_visible()
        await run_command(slack, "todo add one consent")
        await run_command(slack, "todo")
        await expect(slack.get_by_text("one consent").last).to_be_visible()
    finally:
        await context.close()
        await app.stop()
    assert "Traceback" not in app.output, app.output


async def test_sign_in_with_slack_before_connect(browser: Browser, tmp_path: Path) -> None:
    """VERIFY_SLACK_IDENTITY through a provider on loopback posing as Slack."""
    from tests.oidc_provider import running_provider

    user_id, team_id = "https://slack.com/user_id", "https://slack.com/team_id"
    port = free_port()
    site_url = f"http://{SITE_HOST}:{port}"
    accounts = {
        "U0ADA": {user_id: "U0ADA", team_id: "T0SANDBOX"},
        "U0GRACE": {user_id: "U0GRACE", team_id: "T0SANDBOX"},
    }
    with running_provider(
        tmp_path,
        redirect_uris=[f"{site_url}/slack-identity/callback"],
        accounts=accounts,
        claims={"openid": ["sub", user_id, team_id]},
    ) as slack_provider:
        app = AppProcess(
            tmp_path,
            PORT=str(port),
            PUBLIC_URL=site_url,
            SANDBOX_PORT=str(free_port()),
            VERIFY_SLACK_IDENTITY="true",
            SLACK_CLIENT_ID=slack_provider.client_id,
            SLACK_CLIENT_SECRET=slack_provider.client_secret,
            SLACK_OPENID_ISSUER=slack_provider.issuer,
        )
        await app.start()
        context = await new_context(browser)
        try:
            demo = re.search(r"Demo login:\s+demo / (\S+)", app.output)
            slack_url = re.search(r"Try the app as a Slack user:\s+(\S+)", app.output)
            assert demo and slack_url, app.output
            slack = await context.new_page()
            await slack.goto(f"{slack_url.group(1).rstrip('/')}/?user=U0ADA")
            # SLACK_CLIENT_ID and _SECRET are in the app's environment, where Bolt would
            # turn them into an OAuth installation flow that answers no command.
            # Ada's link, forwarded to Grace: Grace signs in with Slack as herself.
            site = await bind_in_the_browser(context, slack)
            await log_in(site, demo.group(1))
            await site.get_by_role("button", name="Sign in with Slack").click()
            await site.wait_for_load_state()
            await sign_in_at_the_test_provider(site, "U0GRACE")
            await expect(site.get_by_text("someone other than the person")).to_be_visible()
            await accessible(site)
            await context.close()

            # Ada asks for a new link, in a browser of her own, and signs in with Slack as herself.
            context = await new_context(browser)
            slack = await context.new_page()
            await slack.goto(f"{slack_url.group(1).rstrip('/')}/?user=U0ADA")
            site = await bind_in_the_browser(context, slack)
            await log_in(site, demo.group(1))
            # First the Slack step: no Connect button yet.
            await expect(site.get_by_role("button", name="Sign in with Slack")).to_be_visible()
            await expect(site.get_by_role("button", name="Connect")).to_have_count(0)
            await accessible(site)
            await site.get_by_role("button", name="Sign in with Slack").click()
            await site.wait_for_load_state()
            await sign_in_at_the_test_provider(site, "U0ADA")
            # Slack said this is U0ADA of the link's workspace: now Connect.
            await site.get_by_role("button", name="Connect").click()
            await site.wait_for_load_state()
            await expect(site.get_by_role("heading", name="Connected")).to_be_visible()
            await accessible(site)
        finally:
            await context.close()
            await app.stop()
    assert "Traceback" not in app.output, app.output


async def test_the_continuing_and_refusal_pages_are_accessible(
    browser: Browser, oauth2_sandbox: tuple[str, str, str]
) -> None:
    """The pages a person sees only for a moment or when something went wrong: "Continuing
    to …" (held here by not letting the browser reach the provider) and the grant's refusal."""
    slack_url, site_url, password = oauth2_sandbox
    context = await new_context(browser)
    try:
        slack = await context.new_page()
        await slack.goto(f"{slack_url}/?user=U0ALAN")
        site = await bind_in_the_browser(context, slack)
        await log_in(site, password)

        async def without_refresh(route: Route) -> None:
            """The Connect post's answer, less its meta refresh: the page stays to be read."""
            if route.request.method != "POST":
                await route.continue_()
                return
            # Fetched by Playwright itself, which does not share Chromium's host mapping.
            answer = await route.fetch(
                url=route.request.url.replace(SITE_HOST, "127.0.0.1"),
                headers=await route.request.all_headers(),
            )
            page = (await answer.text()).replace('http-equiv="refresh"', 'name="held"')
            await route.fulfill(response=answer, body=page)

        await context.route(f"{site_url}/bind", without_refresh)
        await site.get_by_role("button", name="Connect").click()
        await expect(site.get_by_role("heading", name=re.compile("Continuing to"))).to_be_visible()
        await expect(site.get_by_role("link", name=re.compile("Continue to"))).to_be_visible()
        await accessible(site)

        await site.goto(f"{site_url}/grant/callback?error=access_denied&state=not-a-flow")
        await expect(site.get_by_role("heading", name="Not connected")).to_be_visible()
        await accessible(site)
    finally:
        await context.close()
