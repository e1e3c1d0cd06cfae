"""Check the OpenID providers and authorization servers the settings name before serving, so
that a wrong issuer stops the start with one line instead of failing every sign-in later."""

from __future__ import annotations

from account_binding.settings import Settings
from relying_party import Provider, ProviderUnavailable

from .slack_check import StartError


def providers_in_use(settings: Settings) -> list[tuple[str, str]]:
    """(setting, issuer) of each provider the settings use: OIDC_ISSUER with AUTH=oidc,
    OAUTH2_ISSUER with ACT_AS=oauth2, SLACK_OPENID_ISSUER with VERIFY_SLACK_IDENTITY."""
    found = []
    if settings.auth == "oidc":
        found.append(("OIDC_ISSUER", settings.oidc_issuer))
    same_as_login = settings.auth == "oidc" and settings.oauth2_issuer == settings.oidc_issuer
    if settings.act_as == "oauth2" and not same_as_login:
        found.append(("OAUTH2_ISSUER", settings.oauth2_issuer))
    if settings.verify_slack_identity:
        found.append(("SLACK_OPENID_ISSUER", settings.slack_openid_issuer))
    return found


async def check_providers(settings: Settings) -> None:
    """Read each provider's metadata (within PROVIDER_TIMEOUT). Raises StartError naming the
    setting when it cannot be read or names another issuer (OpenID Connect Discovery 1.0
    section 4.3: the issuer must be written exactly as the provider writes it)."""
    for setting, issuer in providers_in_use(settings):
        provider = Provider(issuer, "start-check", "unused", timeout=settings.provider_timeout)
        try:
            await provider.metadata()
        except ProviderUnavailable as error:
            raise StartError(f"{setting}={issuer} cannot be used: {error}") from None
