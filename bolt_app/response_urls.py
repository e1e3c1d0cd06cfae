"""Which response_urls the app posts to: Slack's own, never a URL a payload merely names.

Slack gives every slash command and message interaction a `response_url` on its hooks host
(`https://hooks.slack.com/commands/T…/…/…`, `https://hooks.slack.com/actions/T…/…/…`;
GovSlack's on `hooks.slack-gov.com`). The app keeps one for later (a resumed command) and
posts late answers to it; a payload naming any other host would have the app POST a person's
data there. Only the Socket Mode connection (opened with the app-level token) carries
payloads, so this is defence in depth.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def is_slack_response_url(url: object, slack_api_url: str) -> bool:
    """Whether `url` is a response_url of the Slack that SLACK_API_URL names: `https://` on
    that API host's `hooks.` host (slack.com: hooks.slack.com), or on the API's own origin
    (scheme, host and port: a fake Slack on loopback in tests and the sandbox)."""
    if not isinstance(url, str) or len(url) > 2000:
        return False
    try:
        target, api = urlsplit(url), urlsplit(slack_api_url)
        target_port, api_port = target.port, api.port
    except ValueError:
        return False
    if not target.hostname or target.username is not None or target.password is not None:
        return False
    if (target.scheme, target.hostname, target_port) == (api.scheme, api.hostname, api_port):
        return True
    return (
        target.scheme == "https"
        and api.hostname is not None
        and target.hostname == f"hooks.{api.hostname}"
        and target_port in (None, 443)
    )
