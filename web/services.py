"""What the routes need, kept on the Starlette app's state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

from account_binding.accounts import AccountService
from account_binding.api_tokens import ApiTokenAuthenticator
from account_binding.audit import AuditLog
from account_binding.authorization_flows import AuthorizationFlows
from account_binding.binding import BindingService, Notifier
from account_binding.introspection import IntrospectionClient, TokenIntrospector
from account_binding.login import LoginService
from account_binding.models import SlackIdentity, SlackProfile
from account_binding.resume import Resumer
from account_binding.sessions import SessionService
from account_binding.slack_proof import SlackProofs
from monitoring.connection import ConnectionState
from monitoring.metrics import Metrics
from relying_party import Provider

if TYPE_CHECKING:
    from .authentication import LoginBackend
    from .grant_pages import GrantServices
    from .health import Health
    from .link_resend import LinkResends


@dataclass(frozen=True)
class OAuthServices:
    """What web.oauth needs: token introspection (RFC 7662) and its metadata (RFC 8414)."""

    introspector: TokenIntrospector
    #: The one client allowed to introspect; None when INTROSPECTION_CLIENT_ID and _SECRET
    #: are unset: then every client is refused.
    client: IntrospectionClient | None
    #: The issuer identifier: PUBLIC_URL (scheme, host, port; no path, no trailing slash).
    issuer: str


@dataclass(frozen=True)
class SlackSignIn:
    """What Sign in with Slack needs (VERIFY_SLACK_IDENTITY; see web.slack_identity)."""

    #: Slack's OpenID provider (SLACK_OPENID_ISSUER) and the app's client there
    #: (SLACK_CLIENT_ID, SLACK_CLIENT_SECRET).
    provider: Provider
    #: PUBLIC_URL/slack-identity/callback, as registered in the manifest's redirect_urls.
    redirect_uri: str
    proofs: SlackProofs


@dataclass(frozen=True)
class WebServices:
    accounts: AccountService
    login: LoginService
    audit: AuditLog
    sessions: SessionService
    bindings: BindingService
    api_tokens: ApiTokenAuthenticator
    notifier: Notifier
    internal_app_name: str
    secure_cookies: bool
    #: scheme://host[:port] of PUBLIC_URL, the origin a browser posts the forms from
    site_origin: str
    require_email_match: bool
    #: Where "Back to Slack" goes for this Slack identity.
    slack_return_url: Callable[[SlackIdentity, SlackProfile], str]
    #: Authorization requests under way (OIDC login, the OAuth grant, Sign in with Slack).
    flows: AuthorizationFlows
    #: Token introspection and metadata; None: /oauth/introspect refuses everyone and the
    #: metadata is not served.
    oauth: OAuthServices | None = None
    #: Sign in with Slack before Connect; None unless VERIFY_SLACK_IDENTITY=true.
    slack_sign_in: SlackSignIn | None = None
    #: How people log in (AUTH): `web.auth.LocalLogin` (the default, also when None),
    #: `web.oidc_login.OidcLogin` or `web.proxy_identity.ProxyLogin`.
    login_backend: LoginBackend | None = None
    #: ACT_AS=oauth2: binding with the person's grant (web.grant_pages); None otherwise.
    grants: GrantServices | None = None
    # Issue 10, never a dead button (helper "links")
    #: "Send me a new link in Slack" on the expired-link page (web.link_resend); None: the
    #: page does not offer it.
    link_resends: LinkResends | None = None
    # Issue 10, the tutorial's options: BINDING_TRIGGERS, so that pages say how to ask for a
    # new link in the ways that are enabled.
    binding_triggers: tuple[str, ...] = ("command", "link", "home")
    # Issue 10, resume: runs the link's command once the binding is made (web.resume);
    # None: no command is ever resumed.
    resumer: Resumer | None = None
    # Issue 11, reliability and operations: /metrics and /readyz (one of each per site,
    # shared with the Slack side).
    metrics: Metrics = field(default_factory=Metrics)
    connection: ConnectionState = field(default_factory=ConnectionState)
    # Issue 11, health: /readyz's database check and METRICS_TOKEN (web.health); None: the
    # site checks no database, so /readyz never says ready, and /metrics is open.
    health: Health | None = None


def services_of(connection: HTTPConnection) -> WebServices:
    services = connection.app.state.services
    assert isinstance(services, WebServices)
    return services
