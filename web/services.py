"""What the routes need, kept on the Starlette app's state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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
from account_binding.sessions import SessionService

if TYPE_CHECKING:
    from .grant_pages import GrantServices


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
    #: ACT_AS=oauth2: binding with the person's grant (web.grant_pages); None otherwise.
    grants: GrantServices | None = None


def services_of(connection: HTTPConnection) -> WebServices:
    services = connection.app.state.services
    assert isinstance(services, WebServices)
    return services
