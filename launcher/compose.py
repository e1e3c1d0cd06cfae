"""The composition root: one process serving the site while the Bolt app talks to Slack."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette

from account_binding.accounts import AccountService
from account_binding.api_tokens import ApiTokenAuthenticator
from account_binding.audit import AuditLog, AuditObserver
from account_binding.authorization_flows import AuthorizationFlows
from account_binding.binding import BindingPolicy, BindingService
from account_binding.crypto import TokenCipher
from account_binding.deliveries import EventDeliveries
from account_binding.introspection import IntrospectionClient, TokenIntrospector
from account_binding.lifecycle import EndedNotifier, Lifecycle
from account_binding.link_renewal import LinkRenewal, ResentLink
from account_binding.login import LoginLimits, LoginService
from account_binding.models import SlackIdentity, SlackProfile
from account_binding.oauth_grants import GrantTimings, OAuthGrants, PendingGrants
from account_binding.sessions import SessionService
from account_binding.settings import Settings
from account_binding.slack_proof import SlackProofs
from account_binding.sqlite_store import SQLiteStore
from account_binding.store import Store
from account_binding.tokens import digest
from bolt_app import messages, response_session
from bolt_app.acting import ActAsOAuth2, ActAsService, ActAsToken, ActingMode
from bolt_app.app import build_bolt_app, build_socket_mode_handler, build_web_client
from bolt_app.commands import CommandPlugin, core
from bolt_app.commands.loading import load_plugins
from bolt_app.commands.runner import PluginRunner
from bolt_app.commands.table import CommandTable
from bolt_app.draining import Draining
from bolt_app.home_tab import HomeContent, HomeTab, default_slash_command
from bolt_app.in_flight import InFlight
from bolt_app.internal_api import InternalApiConnection
from bolt_app.lifecycle import SlackLifecycle
from bolt_app.notifications import SlackNotifier
from bolt_app.outbox_sender import OutboxSender
from bolt_app.resume import SlackResumer
from bolt_app.services import SlackServices
from bolt_app.slack_directory import SlackUsersDirectory
from monitoring.bindings import count_bindings
from monitoring.connection import ConnectionState
from monitoring.metrics import Metrics
from relying_party import Provider
from stand_in.app import StandIn
from stand_in.auth import ProviderTokenUsers
from web.app import build_web_app
from web.auth import LocalLogin
from web.authentication import LoginBackend
from web.grant_pages import CALLBACK_PATH as GRANT_CALLBACK_PATH
from web.grant_pages import GrantServices
from web.health import Health
from web.link_resend import LinkResends
from web.oidc_login import CALLBACK_PATH, OidcLogin
from web.proxy_identity import ProxyLogin
from web.services import OAuthServices, SlackSignIn, WebServices
from web.slack_identity import redirect_uri as slack_identity_redirect_uri

from .stopping import Stopping

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_SECONDS = 5.0
#: Issue 11, shutdown: seconds the plugin runner's cancelled handlers get once the Slack
#: work in flight is done or cut off (a handler stuck in a blocking call is left behind on
#: its daemon thread).
RUNNER_STOP_SECONDS = 1.0
PURGE_EVERY_SECONDS = 3600

ReturnUrl = Callable[[SlackIdentity, SlackProfile], str]


def slack_app_redirect(identity: SlackIdentity, profile: SlackProfile) -> str:
    """Slack's documented redirect that opens the app's DM in the right workspace."""
    query = {"team": identity.team_id}
    if profile.app_id:
        query["app"] = profile.app_id
    return "https://slack.com/app_redirect?" + urlencode(query)


@dataclass(frozen=True)
class SlackConnection:
    bot_token: str = field(repr=False)
    app_token: str = field(repr=False)
    api_url: str
    #: The sandbox's fake Slack on loopback: readiness and metrics say "sandbox", not
    #: "connected", once it said hello.
    sandbox: bool = False


def store_for(settings: Settings, *, create: bool = True) -> SQLiteStore:
    """The store DATABASE names, not opened yet: it opens at its first use or `open()`."""
    return SQLiteStore(settings.database, create=create)


async def open_store(settings: Settings, *, create: bool = True) -> SQLiteStore:
    """The one store of the process, opened and migrated: `run` and every CLI command use it.

    With `create` false (commands that only read), a missing database is not made.
    Raises NoDatabase, or StoreUnavailable with one line naming DATABASE and the reason.
    """
    store = store_for(settings, create=create)
    try:
        await store.open()
    except BaseException:
        await store.close()
        raise
    return store


def build_site(
    settings: Settings,
    slack: SlackConnection,
    *,
    slack_return_url: ReturnUrl = slack_app_redirect,
    store: SQLiteStore | None = None,
    commands: CommandTable | None = None,
    stopping: Stopping | None = None,
) -> Starlette:
    """The ASGI app. Its lifespan opens the database (unless `store` is given opened) and the
    Socket Mode connection, and closes both. `commands` defaults to `command_table(settings)`
    (which raises PluginLoadError or CommandClash).

    When `settings.serves_stand_in` (INTERNAL_API_URL unset), the site also serves the stand-in
    internal application's API at /api, and the lifespan opens its store (making its tables);
    otherwise neither exists.

    Issue 11, shutdown: `stopping` (`run` passes the one its server begins on SIGTERM; by
    default the lifespan's end begins it) stops the Slack side taking envelopes; the
    lifespan's end waits for the Slack work in flight until SHUTDOWN_TIMEOUT from then, cuts
    off the rest, then closes the socket, the plugin runner and the store (bolt_app.draining).
    """
    commands = commands or command_table(settings)
    _say_how_it_is_set(settings)  # Issue 11, review
    store = store or store_for(settings)
    policy = BindingPolicy(
        ttl_seconds=settings.binding_ttl,
        require_email_match=settings.require_email_match,
        internal_app_name=settings.internal_app_name,
        links_per_hour=settings.links_per_hour,
        issue_api_tokens=settings.act_as == "token",
        api_token_ttl=settings.api_token_ttl,
    )
    # The one rule personal tokens are judged by: by the Slack side, introspection and the
    # stand-in alike (API_TOKEN_TTL; under ACT_AS=service none is honoured).
    tokens = policy.tokens
    cipher = TokenCipher(settings.secret_key())
    # Issue 11: what /metrics and /readyz report, one of each for the whole site; bindings
    # made and removed are counted from the audit log (monitoring.bindings), here and in the
    # OAuth grants' own log.
    metrics = Metrics()
    count = count_bindings(metrics)
    oauth2 = oauth2_grants(settings, store, cipher, audit_observer=count)
    stand_in = (
        StandIn(
            settings.database,
            store,
            impersonate_header=settings.impersonate_header,
            service_token=settings.internal_api_token,
            token_validity=tokens,
            provider_tokens=oauth2.stand_in_tokens if oauth2 else None,
        )
        if settings.serves_stand_in
        else None
    )
    connection = ConnectionState("sandbox" if slack.sandbox else "starting")
    metrics.watch_connection(connection)
    # Issue 11, shutdown: what the Slack side is doing, and the stop that waits for it
    in_flight = InFlight()
    stopping = stopping or Stopping(settings.shutdown_timeout)
    audit = AuditLog(store, observer=count)
    client = build_web_client(
        slack.bot_token, slack.api_url, timeout_seconds=settings.slack_api_timeout, metrics=metrics
    )
    bindings = BindingService(
        store,
        cipher,
        audit,
        SlackUsersDirectory(client, deadline_seconds=settings.slack_page_timeout, metrics=metrics),
        policy,
        grants=oauth2.grants if oauth2 else None,
    )
    accounts = AccountService(store, audit=audit)
    login = LoginService(
        accounts,
        store,
        audit,
        LoginLimits(
            max_failures_per_account=settings.login_max_failures,
            max_failures_per_address=settings.login_max_failures_per_address,
            lockout_seconds=settings.login_lockout_seconds,
            slowdown_seconds=settings.login_slowdown_seconds,
        ),
    )
    # Issue 10, App Home: one publisher of Home tabs, shared by the listeners and the notifier
    # (which republishes a person's tab after every bind and unbind).
    home = HomeTab(
        client,
        bindings,
        HomeContent(
            app_name=settings.internal_app_name,
            command=default_slash_command(settings.internal_app_name),
            commands=commands,
            triggers=settings.binding_triggers,
            link_ttl_seconds=settings.binding_ttl,
        ),
    )
    notifier = SlackNotifier(client, settings.internal_app_name, home=home, metrics=metrics)
    # Issue 11, outbox: the confirmation DMs, sent by a background task that the store wakes
    # whenever a transaction writes one
    outbox = outbox_sender(settings, store, client, metrics)
    store.watch_outbox(outbox.wake)
    metrics.watch_outbox(lambda: outbox.depth)
    # Issue 11, internal-api: INTERNAL_API_TIMEOUT bounds each call to the internal application.
    internal_api = InternalApiConnection(
        settings.internal_api_url,
        settings.internal_app_name,
        timeout=settings.internal_api_timeout,
    )
    # Issue 12, fast: the runner's workers keep their loops, and on each the internal API's
    # pooled client, closed as the worker ends
    runner = PluginRunner(on_loop_end=[internal_api.close])
    sessions = SessionService(
        store, idle_timeout=settings.session_idle_timeout, max_age=settings.session_max_age
    )
    flows = AuthorizationFlows(store)
    lifecycle = lifecycle_of(settings, store, audit, oauth2, notifier)
    # Issue 10, never a dead button (helper "links"): fresh links for old link buttons and
    # for the expired-link page.
    renewal = LinkRenewal(store, bindings, audit, policy)
    slack_services = SlackServices(
        slack_api_url=slack.api_url,
        bindings=bindings,
        notifier=notifier,
        association_url=lambda nonce: f"{settings.public_url}/bind/{nonce}",
        internal_app_name=settings.internal_app_name,
        link_ttl_seconds=settings.binding_ttl,
        commands=commands,
        acting=acting_mode(settings, oauth2.grants if oauth2 else None),
        api=internal_api,
        runner=runner,
        command_timeout=settings.command_timeout,
        dm=notifier.direct_message,
        lifecycle=SlackLifecycle(lifecycle),
        home=home,
        # Issue 10, the tutorial's options and never a dead button (helper "links")
        binding_triggers=settings.binding_triggers,
        link_delivery=settings.link_delivery,
        link_renewal=renewal,
        metrics=metrics,
        connection=connection,
        in_flight=in_flight,
        slack_api_timeout=settings.slack_api_timeout,  # Issue 11, outbox
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        await runner.start()
        response_session.hold()  # Issue 12, fast: one session for the response_url answers
        sending = asyncio.create_task(outbox.run())  # Issue 11, outbox
        purger = asyncio.create_task(
            _purge_forever(
                bindings,
                login,
                sessions,
                flows,
                audit,
                settings.audit_retention_days,
                slack_events=lifecycle,
            )
        )
        handler = None
        draining = None
        try:
            if stand_in is not None:
                await stand_in.open()  # its tables, before the first request or command
            handler = build_socket_mode_handler(
                build_bolt_app(client, slack_services),
                slack.app_token,
                slack.api_url,
                metrics=metrics,
                connection=connection,
                events=EventDeliveries(store),  # Issue 11, socket: each event acts once
                in_flight=in_flight,
            )
            # Issue 11, shutdown: the stop's beginning takes the Slack side off at once
            draining = Draining(
                handler, in_flight, connection, timeout_seconds=settings.shutdown_timeout
            )
            stopping.on_begin(draining.begin)
            await handler.connect_async()  # type: ignore[no-untyped-call]
            log.info("Connected to Slack over Socket Mode")
            yield
        finally:
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
            if draining is not None:  # Issue 11, shutdown: the Slack work in flight first
                stopping.begin("the site is stopping")
                await draining.finish()  # which closed the socket
            elif handler is not None:
                await _close(handler)
            await runner.stop(RUNNER_STOP_SECONDS)
            # Issue 11, outbox: after the work in flight, which may have written rows; those it
            # was sending are due again at once, and the next start sends what is left
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sending
            await response_session.release()  # Issue 12, fast
            if stand_in is not None:
                await stand_in.close()
            await store.close()

    services = WebServices(
        accounts=accounts,
        login=login,
        audit=audit,
        sessions=sessions,
        bindings=bindings,
        api_tokens=ApiTokenAuthenticator(store, validity=tokens),
        notifier=notifier,
        internal_app_name=settings.internal_app_name,
        secure_cookies=settings.secure_cookies,
        site_origin=settings.public_origin,
        require_email_match=settings.require_email_match,
        slack_return_url=slack_return_url,
        flows=flows,
        oauth=OAuthServices(
            introspector=TokenIntrospector(store, validity=tokens),
            client=_introspection_client(settings),
            issuer=settings.public_url,
        ),
        slack_sign_in=slack_sign_in(settings, store, audit),
        login_backend=one_consent(login_backend(settings), settings, oauth2),
        grants=oauth2.web if oauth2 else None,
        link_resends=link_resends(settings, renewal, notifier),
        # Issue 10, resume: the web side runs a link's command through the Slack side's own
        # path once the binding is made.
        resumer=SlackResumer(slack_services, audit),
        binding_triggers=settings.binding_triggers,
        metrics=metrics,
        connection=connection,
        # Issue 11, health: /readyz takes the database's write lock; METRICS_TOKEN closes
        # /metrics
        health=Health(
            store.check_writable,
            metrics_token=_secret(settings.metrics_token) if settings.metrics_token else None,
        ),
    )
    return build_web_app(
        services,
        lifespan,
        allowed_hosts=settings.allowed_hosts,
        max_body_bytes=settings.max_body_bytes,
        extra_routes=stand_in.routes if stand_in is not None else (),
        trusted_proxies=settings.trusted_proxies,
    )


def slack_sign_in(settings: Settings, store: SQLiteStore, audit: AuditLog) -> SlackSignIn | None:
    """Sign in with Slack before Connect (VERIFY_SLACK_IDENTITY); None when it is off.

    Slack's OpenID provider is SLACK_OPENID_ISSUER (discovery at
    /.well-known/openid-configuration), the client SLACK_CLIENT_ID and SLACK_CLIENT_SECRET
    (settings refuse VERIFY_SLACK_IDENTITY without them), every call bounded by
    PROVIDER_TIMEOUT; the redirect URL is PUBLIC_URL/slack-identity/callback.
    """
    if not settings.verify_slack_identity:
        return None
    assert settings.slack_client_id and settings.slack_client_secret  # settings check both
    return SlackSignIn(
        provider=Provider(
            settings.slack_openid_issuer,
            settings.slack_client_id,
            _secret(settings.slack_client_secret),
            timeout=settings.provider_timeout,
        ),
        redirect_uri=slack_identity_redirect_uri(settings.public_url),
        proofs=SlackProofs(store, audit),
    )


def command_table(settings: Settings) -> CommandTable:
    """The product's own subcommands, the stand-in's to-do plugin when the stand-in is served,
    and the plugins COMMAND_PLUGINS selects. Raises PluginLoadError or CommandClash."""
    built_in: list[CommandPlugin] = []
    if settings.serves_stand_in:
        from stand_in.commands import plugin as todo_plugin

        built_in.append(todo_plugin)
    plugins = load_plugins(settings.command_plugins)
    # BINDING_TRIGGERS without `link`: no `link` subcommand, in the help or anywhere.
    last = tuple(s for s in core.LAST if s is not core.LINK or "link" in settings.binding_triggers)
    table = CommandTable(plugins, first=core.FIRST, last=last, built_in=built_in)
    if plugins:
        log.info("Loaded command plugins: %s", ", ".join(p.name for p in plugins))
    return table


def link_resends(settings: Settings, renewal: LinkRenewal, notifier: SlackNotifier) -> LinkResends:
    """ "Send me a new link in Slack" (issue 10, helper "links"): the new link goes by DM
    through the web process's Slack client, within SLACK_PAGE_TIMEOUT."""

    async def send(link: ResentLink) -> bool:
        reply = messages.resent_link_dm(
            f"{settings.public_url}/bind/{link.nonce}",
            settings.internal_app_name,
            settings.binding_ttl,
            digest(link.nonce),
        )
        return await notifier.direct_message(
            link.identity.user_id,
            reply,
            about=" with a link asked for again",
            deadline_seconds=settings.slack_page_timeout,
        )

    return LinkResends(
        renewal=renewal,
        send=send,
        deadline_seconds=settings.slack_page_timeout,
        ttl_seconds=settings.binding_ttl,
    )


# Issue 11, outbox


def outbox_sender(
    settings: Settings, store: SQLiteStore, client: AsyncWebClient, metrics: Metrics | None = None
) -> OutboxSender:
    """The sender of the confirmation DMs in `store`'s outbox, through `client`, dropping a
    DM not sent within OUTBOX_MAX_AGE (bolt_app.outbox_sender)."""
    return OutboxSender(
        store,
        client,
        settings.internal_app_name,
        max_age_seconds=settings.outbox_max_age,
        metrics=metrics,
    )


def login_backend(settings: Settings) -> LoginBackend:
    """AUTH: how people log in to the site (web.authentication). AUTH=oidc's provider is
    OIDC_ISSUER with this site's client, its redirect URI PUBLIC_URL/login/callback."""
    if settings.auth == "proxy":
        return ProxyLogin(
            settings.proxy_user_header, settings.proxy_email_header, settings.trusted_proxies
        )
    if settings.auth == "oidc":
        # The settings refuse AUTH=oidc without these (the sandbox fills them in first).
        assert settings.oidc_client_id and settings.oidc_client_secret
        provider = Provider(
            settings.oidc_issuer,
            settings.oidc_client_id,
            _secret(settings.oidc_client_secret),
            timeout=settings.provider_timeout,
        )
        return OidcLogin(
            provider,
            redirect_uri=settings.public_url + CALLBACK_PATH,
            scopes=settings.oidc_scopes,
            username_claim=settings.oidc_username_claim,
            allowed_domains=settings.oidc_allowed_domains,
            provider_name=settings.provider_name,
            post_logout_redirect_uri=settings.public_url + "/",
        )
    return LocalLogin()


def acting_mode(settings: Settings, grants: OAuthGrants | None = None) -> ActingMode:
    """ACT_AS: the credential the Slack side presents for a bound person (`grants`: the
    bindings' OAuth grants, which ACT_AS=oauth2 needs)."""
    if settings.act_as == "oauth2":
        assert grants is not None
        return ActAsOAuth2(grants)
    if settings.act_as == "service":
        assert settings.internal_api_token is not None  # settings refuse service without one
        return ActAsService(_secret(settings.internal_api_token), settings.impersonate_header)
    return ActAsToken()


@dataclass(frozen=True)
class OAuth2Grants:
    """ACT_AS=oauth2's parts: the authorization server, the bindings' grants, the grants
    kept with sessions, what the binding pages and the stand-in need."""

    provider: Provider
    grants: OAuthGrants
    pending: PendingGrants
    web: GrantServices
    stand_in_tokens: ProviderTokenUsers


def oauth2_grants(
    settings: Settings,
    store: Store,
    cipher: TokenCipher,
    *,
    audit_observer: AuditObserver | None = None,
) -> OAuth2Grants | None:
    """Under ACT_AS=oauth2, its parts at OAUTH2_ISSUER (every provider call within
    PROVIDER_TIMEOUT); None under another ACT_AS, and in the sandbox before `run` has started
    its provider (`account-binding unbind` then has nothing to revoke at: that provider's
    tokens ended with it). A login at the same provider (AUTH=oidc, OIDC_ISSUER ==
    OAUTH2_ISSUER) hands its grant to `pending`, and Connect binds with it.
    `audit_observer` (issue 11) is told of each audit entry the grants write."""
    if settings.act_as != "oauth2" or settings.uses_sandbox_provider:
        return None
    issuer, client_id = settings.oauth2_issuer, settings.oauth2_client_id
    assert issuer and client_id and settings.oauth2_client_secret  # settings require them
    provider = Provider(
        issuer, client_id, _secret(settings.oauth2_client_secret), timeout=settings.provider_timeout
    )
    same_as_login = settings.auth == "oidc" and issuer == settings.oidc_issuer
    name = (
        settings.provider_name
        if issuer == settings.oidc_issuer
        else urlsplit(issuer).hostname or issuer
    )
    grants = OAuthGrants(
        store,
        cipher,
        provider,
        AuditLog(store, observer=audit_observer),
        issuer=issuer,
        provider_name=name,
        timings=GrantTimings.for_provider_timeout(settings.provider_timeout),
    )
    pending = PendingGrants(store, cipher)
    return OAuth2Grants(
        provider=provider,
        grants=grants,
        pending=pending,
        web=GrantServices(
            provider=provider,
            grants=grants,
            scopes=settings.oauth2_scopes,
            redirect_uri=settings.public_url + GRANT_CALLBACK_PATH,
            pending=pending if same_as_login else None,
        ),
        stand_in_tokens=ProviderTokenUsers(provider, store, issuer, name),
    )


def one_consent(
    backend: LoginBackend, settings: Settings, oauth2: OAuth2Grants | None
) -> LoginBackend:
    """`backend`, which under AUTH=oidc at OAUTH2_ISSUER also asks OAUTH2_SCOPES when the
    login is made for a link and leaves the grant with the new session, where Connect binds
    with it: one consent logs in and grants."""
    if oauth2 is not None and oauth2.web.pending is not None and isinstance(backend, OidcLogin):
        backend.link_scopes = settings.oauth2_scopes
        backend.on_link_grant = oauth2.web.pending.keep
    return backend


def _secret(value: object) -> str:
    """A setting's secret as text, whether declared as SecretStr or str."""
    reveal = getattr(value, "get_secret_value", None)
    return str(reveal() if callable(reveal) else value)


def _introspection_client(settings: Settings) -> IntrospectionClient | None:
    """The client INTROSPECTION_CLIENT_ID and _SECRET name; None when unset, with a warning
    when ACT_AS=token and INTERNAL_API_URL points at another application (in service mode no
    personal token exists to introspect; the stand-in checks tokens in process)."""
    client_id, secret = settings.introspection_client_id, settings.introspection_client_secret
    if client_id and secret:
        return IntrospectionClient(client_id, _secret(secret))
    if settings.act_as == "token" and not settings.serves_stand_in:
        log.warning(
            "INTROSPECTION_CLIENT_ID and INTROSPECTION_CLIENT_SECRET are not set: "
            "/oauth/introspect refuses every client, so your own API cannot check the "
            "personal API tokens the Slack side presents"
        )
    return None


async def _close(handler: AsyncSocketModeHandler) -> None:
    try:
        await asyncio.wait_for(
            handler.close_async(),  # type: ignore[no-untyped-call]
            SHUTDOWN_TIMEOUT_SECONDS,
        )
    except TimeoutError:
        log.warning("The Socket Mode connection did not close within %ss", SHUTDOWN_TIMEOUT_SECONDS)


async def _purge_forever(
    bindings: BindingService,
    login: LoginService,
    sessions: SessionService,
    flows: AuthorizationFlows,
    audit: AuditLog,
    audit_retention_days: int,
    every_seconds: float = PURGE_EVERY_SECONDS,
    *,
    slack_events: Lifecycle | None = None,
) -> None:
    """Remove expired links, login failures, sessions, authorization flows and audit entries older than
    AUDIT_RETENTION_DAYS, now and then every `every_seconds`; with `slack_events`, the Events
    API deliveries handled more than a day ago."""
    while True:
        try:
            purged = await bindings.purge()
            if purged:
                log.info("Purged %d expired binding links", purged)
            await login.purge()
            await sessions.purge()
            await flows.purge()
            purged = await audit.purge(audit_retention_days)
            if purged:
                log.info("Purged %d audit entries older than %d days", purged, audit_retention_days)
            if slack_events is not None:  # Issue 10, lifecycle: handled Events API deliveries
                await slack_events.purge()
        except Exception:  # keep purging later; the cause is in the log
            log.exception("Purging expired records failed")
        await asyncio.sleep(every_seconds)


# Issue 10, lifecycle: Slack's lifecycle events and internal users disabled or removed


def lifecycle_of(
    settings: Settings,
    store: Store,
    audit: AuditLog,
    oauth2: OAuth2Grants | None,
    notifier: EndedNotifier | None,
) -> Lifecycle:
    """The lifecycle's domain service: removed bindings' grants revoked at OAUTH2_ISSUER
    (ACT_AS=oauth2), each within three PROVIDER_TIMEOUTs (discovery, then the refresh and
    the access token); `notifier` DMs the Slack people an administrator's removal concerns
    (None: none is sent)."""
    return Lifecycle(
        store,
        audit,
        grants=oauth2.grants if oauth2 else None,
        revoke_deadline_seconds=3 * settings.provider_timeout + 1,
        notifier=notifier,
    )


# Issue 10, administration: the Home tab's content as build_site makes it, for the command
# line's removals (which redraw the Slack person's Home tab as the notifier does)


def home_content(settings: Settings, commands: CommandTable) -> HomeContent:
    """What every Home tab shows alike, from the settings and the command table."""
    return HomeContent(
        app_name=settings.internal_app_name,
        command=default_slash_command(settings.internal_app_name),
        commands=commands,
        triggers=settings.binding_triggers,
        link_ttl_seconds=settings.binding_ttl,
    )


# Issue 11, review: what an operator should know at the start


def _say_how_it_is_set(settings: Settings) -> None:
    """Log whether /metrics is open, and a pair of timeouts that defeats itself."""
    if settings.metrics_token is None:
        log.info("/metrics is open to whoever can reach the site; set METRICS_TOKEN to close it")
    else:
        log.info("/metrics is closed: it answers only requests carrying METRICS_TOKEN")
    if settings.command_timeout <= settings.internal_api_timeout:
        log.warning(
            "COMMAND_TIMEOUT (%gs) is not above INTERNAL_API_TIMEOUT (%gs): a single slow call "
            "to the internal application is cut off as a slow command rather than reported "
            "as a slow call; raise COMMAND_TIMEOUT or lower INTERNAL_API_TIMEOUT",
            settings.command_timeout,
            settings.internal_api_timeout,
        )
