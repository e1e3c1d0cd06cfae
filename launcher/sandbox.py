"""The sandbox: the whole flow on one machine, with a fake Slack on loopback."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from account_binding.accounts import AccountService
from account_binding.audit import AuditLog
from account_binding.errors import UsernameTaken
from account_binding.models import SlackIdentity, SlackProfile
from account_binding.settings import Settings
from account_binding.store import Store
from bolt_app.listeners.shortcuts.connect_account import CALLBACK_ID as CONNECT_SHORTCUT
from fake_slack import FakeSlack
from fake_slack.sandbox_page import install_sandbox_page

from .compose import SlackConnection
from .sandbox_provider import SANDBOX_PERSON

DEMO_USERNAME = "demo"
DEMO_EMAIL = "demo@example.com"


@dataclass(frozen=True)
class Sandbox:
    fake: FakeSlack = field(repr=False)  # holds the fake Slack's tokens
    demo_password: str = field(repr=False)

    @property
    def slack(self) -> SlackConnection:
        return SlackConnection(
            self.fake.bot_token, self.fake.app_token, self.fake.api_url, sandbox=True
        )

    def return_url(self, identity: SlackIdentity, profile: SlackProfile) -> str:
        return f"{self.fake.base_url}/?user={identity.user_id}"


async def start_sandbox(settings: Settings, store: Store) -> Sandbox:
    """Start the fake Slack and make sure the demo user exists in `store`, with a fresh
    password."""
    password = secrets.token_urlsafe(9)
    accounts = AccountService(store, audit=AuditLog(store))
    user = await accounts.find(DEMO_USERNAME)
    if user is None:
        try:
            await accounts.add_user(DEMO_USERNAME, DEMO_EMAIL, password, added_by="sandbox")
        except UsernameTaken:  # another sandbox on this database made it meanwhile
            user = await accounts.find(DEMO_USERNAME)
    if user is not None:
        await accounts.set_password(user, password)
    fake = FakeSlack(port=settings.sandbox_port)
    # Issue 10, the shortcut: the page offers it when BINDING_TRIGGERS lists it, as the
    # manifest would declare it.
    shortcuts = (
        [(CONNECT_SHORTCUT, "Connect account")] if "shortcut" in settings.binding_triggers else []
    )
    if settings.auth == "oidc":
        # The site's login is the sandbox's OpenID provider (launcher.sandbox_provider).
        install_sandbox_page(
            fake,
            site_url=settings.public_url,
            demo_login=None,
            sign_in_hint=f"On the binding site, sign in with the test provider as {SANDBOX_PERSON}.",
            shortcuts=shortcuts,
        )
    else:
        install_sandbox_page(
            fake,
            site_url=settings.public_url,
            demo_login=(DEMO_USERNAME, password),
            shortcuts=shortcuts,
        )
    await fake.start()
    return Sandbox(fake=fake, demo_password=password)
