"""/healthz, /readyz and /metrics (issue 11) through the real app over real HTTP: liveness
that depends on nothing, readiness that names what fails (a database another connection has
locked, a Slack connection that is not serving, link_disabled), Prometheus metrics that count
what really happened, closed by METRICS_TOKEN, and that carry no identifier or secret."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import RunningApp, free_socket, run_app, write_lock_held
from prometheus_client.parser import text_string_to_metric_families
from unbinding import disconnect, unlink_question

from account_binding.tokens import digest
from bolt_app import socket_connection
from bolt_app.socket_connection import SocketTimings
from monitoring.connection import STATES, ConnectionState, State
from web.health import DATABASE_DEADLINE_SECONDS
from web.services import WebServices

METRICS_TOKEN = "metrics-token-" + "x7Qp" * 8
#: Socket Mode's timings, short: a reconnect takes a fraction of a second.
FAST = SocketTimings(
    ping_interval=0.2,
    receive_timeout=1.5,
    backoff_base=0.05,
    backoff_cap=0.4,
    open_timeout=3.0,
    close_timeout=0.3,
    drain=3.0,
)
#: How long a test waits for /readyz at most: its deadline, with generous slack for a busy
#: machine. An answer within it proves the check did not hang on the lock.
READYZ_WAIT_SECONDS = DATABASE_DEADLINE_SECONDS + 8
#: What a Slack ID looks like (users, bots, workspaces, organisations, channels).
SLACK_ID = re.compile(r"\b[UWBTEC][A-Z0-9]{6,}\b")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def services_of(app: RunningApp) -> WebServices:
    assert app.site is not None
    services = app.site.state.services
    assert isinstance(services, WebServices)
    return services


def connection_of(app: RunningApp) -> ConnectionState:
    return services_of(app).connection


def samples(body: str) -> Samples:
    """Every sample of a text-format exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def scrape(app: RunningApp, token: str | None = None) -> Samples:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = await app.http.get("/metrics", headers=headers, timeout=READYZ_WAIT_SECONDS)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(answer.text)


async def scrape_until(
    app: RunningApp, condition: Callable[[Samples], bool], seconds: float = 10.0
) -> Samples:
    """Scrape until `condition` holds of the samples (what the app does after an ack)."""
    deadline = time.monotonic() + seconds
    while not condition(found := await scrape(app)):
        assert time.monotonic() < deadline, "the metrics did not show it in time"
        await asyncio.sleep(0.05)
    return found


async def readyz(app: RunningApp) -> httpx.Response:
    return await app.http.get("/readyz", timeout=READYZ_WAIT_SECONDS)


async def state_is(app: RunningApp, wanted: State, seconds: float = 10.0) -> None:
    """Wait until the Socket Mode side sets `wanted` (at once when it is the state now)."""
    reached = asyncio.Event()
    connection_of(app).on_change(lambda state: reached.set() if state == wanted else None)
    await asyncio.wait_for(reached.wait(), seconds)


@pytest.fixture
async def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunningApp]:
    monkeypatch.setattr(socket_connection, "TIMINGS", FAST)
    async with run_app(tmp_path) as running:
        await state_is(running, "connected")  # Slack said hello
        yield running


# /healthz


async def test_healthz_answers_ok_whatever_the_database_and_slack_do(app: RunningApp) -> None:
    connection_of(app).set("link_disabled")
    with write_lock_held(app.settings.database):
        for method in ("GET", "HEAD"):
            answer = await app.http.request(method, "/healthz", timeout=READYZ_WAIT_SECONDS)
            assert answer.status_code == 200
            assert answer.text == ("ok" if method == "GET" else "")
            assert "set-cookie" not in answer.headers


# /readyz


async def test_readyz_is_ready_with_the_database_writable_and_slack_serving(
    app: RunningApp,
) -> None:
    answer = await readyz(app)
    assert answer.status_code == 200
    assert answer.json() == {
        "ready": True,
        "checks": {"database": {"ok": True}, "slack": {"ok": True, "state": "connected"}},
    }
    assert "set-cookie" not in answer.headers
    assert answer.headers["cache-control"] == "no-store"
    assert (await app.http.head("/readyz")).status_code == 200


async def test_readyz_maps_each_connection_state(app: RunningApp) -> None:
    """Serving ("connected", or "sandbox": the fake Slack on loopback) is ready; every other
    state is 503 naming it, link_disabled with what to do. (The states set here by hand; the
    tests below reach them for real.)"""
    for state in STATES:
        connection_of(app).set(state)
        answer = await readyz(app)
        body = answer.json()
        slack = body["checks"]["slack"]
        assert slack["state"] == state
        assert body["checks"]["database"] == {"ok": True}
        if state in ("connected", "sandbox"):
            assert answer.status_code == 200 and body["ready"] is True
            assert slack == {"ok": True, "state": state}
        else:
            assert answer.status_code == 503, state
            assert body["ready"] is False and slack["ok"] is False
            assert slack["detail"]
    connection_of(app).set("link_disabled")
    slack = (await readyz(app)).json()["checks"]["slack"]
    assert "link_disabled" in slack["detail"] and "turn it on again" in slack["detail"]


async def test_readyz_names_slack_while_the_connection_is_gone_and_recovers_with_it(
    app: RunningApp,
) -> None:
    """The Socket Mode connection dropped, and Slack refusing new ones for a while: 503 naming
    Slack ("reconnecting") until the app is connected again, then 200."""
    fake = app.fake
    fake.fail("apps.connections.open", "service_unavailable", times=8, status=503)
    reconnecting = asyncio.Event()
    connection_of(app).on_change(
        lambda state: reconnecting.set() if state == "reconnecting" else None
    )
    fake.drop_connections()
    await asyncio.wait_for(reconnecting.wait(), 10)
    answer = await readyz(app)
    assert answer.status_code == 503
    assert answer.json()["checks"]["slack"]["ok"] is False
    assert answer.json()["checks"]["slack"]["state"] == "reconnecting"
    assert answer.json()["checks"]["database"] == {"ok": True}
    await state_is(app, "connected", 30)
    answer = await readyz(app)
    assert answer.status_code == 200 and answer.json()["checks"]["slack"]["state"] == "connected"


async def test_link_disabled_keeps_the_process_up_and_not_ready(app: RunningApp) -> None:
    await app.fake.send_disconnect("link_disabled", close_after=0.0)
    await state_is(app, "link_disabled")
    answer = await readyz(app)
    assert answer.status_code == 503
    slack = answer.json()["checks"]["slack"]
    assert slack["ok"] is False and slack["state"] == "link_disabled"
    assert "turn it on again" in slack["detail"]
    assert (await app.http.get("/healthz")).status_code == 200
    found = await scrape(app)
    assert value(found, "account_binding_socket_mode_state", state="link_disabled") == 1
    assert value(found, "account_binding_socket_mode_state", state="connected") == 0
    assert value(found, "account_binding_ready") == 0


async def test_readyz_names_the_database_when_it_cannot_be_written_within_its_deadline(
    app: RunningApp,
) -> None:
    with write_lock_held(app.settings.database):
        answer = await readyz(app)  # answered, not hung on the lock
        assert answer.status_code == 503
        body = answer.json()
        assert body["ready"] is False
        assert body["checks"]["slack"] == {"ok": True, "state": "connected"}
        database = body["checks"]["database"]
        assert database["ok"] is False and database["error"] == "locked"
        assert str(app.settings.database) not in answer.text
        # Probes that come at once share one check of the lock.
        metrics = await scrape(app)
        assert value(metrics, "account_binding_database_writable") == 0
        assert value(metrics, "account_binding_ready") == 0
        assert (await app.http.get("/healthz")).status_code == 200
    answer = await readyz(app)
    assert answer.status_code == 200 and answer.json()["ready"] is True
    metrics = await scrape(app)
    assert value(metrics, "account_binding_database_writable") == 1
    assert value(metrics, "account_binding_ready") == 1


async def test_readyz_says_unwritable_when_the_database_file_is_gone(app: RunningApp) -> None:
    database = app.settings.database
    moved = database.with_name("moved.sqlite3")
    database.rename(moved)
    try:
        answer = await readyz(app)
        assert answer.status_code == 503
        assert answer.json()["checks"]["database"]["error"] == "unwritable"
        assert str(database) not in answer.text
    finally:
        moved.rename(database)
    assert (await readyz(app)).status_code == 200


# /metrics


@pytest.fixture
async def closed_port() -> AsyncIterator[int]:
    """A loopback port nothing listens on: the internal application is down."""
    sock: socket.socket = free_socket()
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


async def test_metrics_count_commands_by_outcome_and_bindings_made_and_removed(
    tmp_path: Path, closed_port: int
) -> None:
    sent = 7  # slash commands below: two links, whoami, frobnicate, remote, fails, unlink
    async with run_app(
        tmp_path,
        COMMAND_PLUGINS="sample_plugins:sample",
        INTERNAL_API_URL=f"http://127.0.0.1:{closed_port}",
    ) as app:
        before = await scrape(app)
        for outcome in ("answered", "link_sent", "refused", "unavailable", "failed"):
            assert value(before, "account_binding_commands_total", outcome=outcome) == 0
        assert value(before, "account_binding_bindings_made_total") == 0

        await app.bind("ada", "U0ADA")  # `link`: a link sent; Connect: a binding made
        await app.command("U0ADA", "whoami")  # answered
        await app.command("U0ADA", "frobnicate")  # an unknown subcommand: refused
        await app.command("U0ADA", "remote")  # the internal application is down: unavailable
        await app.command("U0ADA", "fails")  # the plugin raises: failed
        await app.bind("alan", "U0ALAN")
        await disconnect(app, "U0ADA", await unlink_question(app, "U0ADA"))  # unbound
        assert (await app.fake.send_event(app.fake.user_change_event("U0ALAN", deleted=True))).acked
        # handled after its acknowledgement: lifecycle
        found = await scrape_until(
            app,
            lambda found: (
                value(found, "account_binding_bindings_removed_total", reason="lifecycle") > 0
            ),
        )
        commands = {
            outcome: value(found, "account_binding_commands_total", outcome=outcome)
            for outcome in ("answered", "link_sent", "refused", "unavailable", "failed")
        }
        # whoami and the unlink question; a link each for ada and alan
        assert commands == {
            "answered": 2,
            "link_sent": 2,
            "refused": 1,
            "unavailable": 1,
            "failed": 1,
        }
        assert value(found, "account_binding_bindings_made_total") == 2
        assert value(found, "account_binding_bindings_removed_total", reason="unbound") == 1
        assert value(found, "account_binding_bindings_removed_total", reason="lifecycle") == 1
        assert value(found, "account_binding_bindings_removed_total", reason="admin") == 0
        state = {s: value(found, "account_binding_socket_mode_state", state=s) for s in STATES}
        assert sum(state.values()) == 1
        assert not any(name.endswith("_created") for name, _ in found)
        # Each slash command's acknowledgement timed (the Socket Mode side records it).
        acks = value(found, "account_binding_ack_seconds_count", type="slash_commands")
        assert acks >= sent
        assert value(found, "account_binding_ack_seconds_sum", type="slash_commands") > 0
        inf = value(found, "account_binding_ack_seconds_bucket", type="slash_commands", le="+Inf")
        assert inf == acks
        assert value(found, "account_binding_socket_mode_state", state="connected") == 1


async def test_metrics_closed_by_metrics_token(tmp_path: Path) -> None:
    async with run_app(tmp_path, METRICS_TOKEN=METRICS_TOKEN) as app:
        for headers in (
            {},
            {"Authorization": "Bearer"},
            {"Authorization": f"Basic {METRICS_TOKEN}"},
            {"Authorization": METRICS_TOKEN},
        ):
            refused = await app.http.get("/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["www-authenticate"] == 'Bearer realm="metrics"'
            assert "account_binding" not in refused.text
        for wrong in (METRICS_TOKEN[:-1], METRICS_TOKEN + "x", "x" * len(METRICS_TOKEN)):
            refused = await app.http.get("/metrics", headers={"Authorization": f"Bearer {wrong}"})
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == (
                'Bearer realm="metrics", error="invalid_token"'
            )
            assert METRICS_TOKEN not in refused.text
        two = [("Authorization", f"Bearer {METRICS_TOKEN}")] * 2
        assert (await app.http.get("/metrics", headers=two)).status_code == 401
        await scrape(app, METRICS_TOKEN)
        lower = {"Authorization": f"bearer {METRICS_TOKEN}"}
        assert (await app.http.get("/metrics", headers=lower)).status_code == 200
        assert (await app.http.head("/metrics")).status_code == 401
        # Only /metrics is closed: the probes stay open to the supervisor.
        assert (await app.http.get("/healthz")).status_code == 200
        assert (await app.http.get("/readyz")).status_code in (200, 503)


async def test_metrics_without_a_token_are_open(app: RunningApp) -> None:
    found = await scrape(app)
    assert value(found, "account_binding_ready") == 1


async def test_metrics_and_readyz_carry_no_identifier_or_secret_after_a_full_flow(
    tmp_path: Path,
) -> None:
    """A bind and an unbind, then every byte /metrics and /readyz give: no Slack user or
    team ID, user name, email address, link nonce, API token or secret setting's value. A
    label with any of them (such as the Slack user on the command counter) fails this."""
    secret_key = "health-test-secret-key-" + "k3y" * 8
    async with run_app(tmp_path, METRICS_TOKEN=METRICS_TOKEN, SECRET_KEY=secret_key) as app:
        await state_is(app, "connected")
        slack_user, username, email = "U0ZQ7XK2P", "quilla_vorn", "quilla.vorn@acme.example"
        await app.add_user(username, email)
        url = await app.link_for(slack_user)
        nonce = urlsplit(url).path.rsplit("/", 1)[1]
        # Slack fails the confirmation DM once (the outbox sends it again): an API error.
        app.fake.fail("chat.postMessage", "internal_error", status=500)
        api_token = await app.bind(username, slack_user)
        await app.command(slack_user, "whoami")
        await app.command(slack_user, f"unknown-{slack_user}")
        await disconnect(app, slack_user, await unlink_question(app, slack_user))

        headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        metrics = await app.http.get("/metrics", headers=headers, timeout=READYZ_WAIT_SECONDS)
        assert metrics.status_code == 200
        ready = await readyz(app)
        found = samples(metrics.text)
        assert value(found, "account_binding_bindings_made_total") == 1
        assert value(found, "account_binding_bindings_removed_total", reason="unbound") == 1
        errors = {"method": "chat.postMessage", "error": "http_5xx"}
        assert value(found, "account_binding_slack_api_errors_total", **errors) == 1
        assert ("account_binding_outbox_depth", frozenset()) in found

        forbidden = {
            "the Slack user ID": slack_user,
            "the workspace ID": app.fake.workspace.team_id,
            "the user name": username,
            "the email address": email,
            "the link's nonce": nonce,
            "the link's hash": digest(nonce),
            "the API token": api_token,
            "SECRET_KEY": secret_key,
            "METRICS_TOKEN": METRICS_TOKEN,
            "the bot token": "xoxb-test-bot-token",
            "the app token": "xapp-test-app-token",
            "the database's path": str(app.settings.database),
        }
        for body in (metrics.text, ready.text):
            for what, text in forbidden.items():
                assert text not in body, f"{what} is in {body[:200]!r}"
            assert not SLACK_ID.search(body), SLACK_ID.search(body)
            assert "@" not in body
        # Every label value is one of a few fixed words or a number (a bucket's bound).
        for (_, labels), _ in found.items():
            for label, text in labels:
                assert re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-zA-Z0-9]+)*|[0-9.]+|\+Inf", text), (
                    label,
                    text,
                )


# Machine paths: no login, any AUTH mode; the Host check still applies


async def test_probes_and_metrics_need_no_login_header_under_auth_proxy(tmp_path: Path) -> None:
    async with run_app(tmp_path, AUTH="proxy", TRUSTED_PROXIES="127.0.0.1") as app:
        await state_is(app, "connected")
        named = {"X-Forwarded-User": "ada", "X-Forwarded-Email": "ada@acme.example"}
        for headers in ({}, named):
            assert (await app.http.get("/healthz", headers=headers)).status_code == 200
            assert (await app.http.get("/readyz", headers=headers)).status_code == 200
            assert (await app.http.get("/metrics", headers=headers)).status_code == 200
        # The probes authenticated nobody: no account was made from the proxy's header.
        assert app.query("SELECT count(*) FROM users") == [(0,)]


async def test_probes_and_metrics_answer_only_the_sites_host_names(app: RunningApp) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        forged = await app.http.get(path, headers={"Host": "attacker.example"})
        assert forged.status_code == 400, path
        local = await app.http.get(path, headers={"Host": "localhost:8000"})
        assert local.status_code == 200, path


# Issue 11, review: what answers at SLACK_API_URL cannot add series


async def test_unknown_slack_error_codes_and_statuses_add_no_series(app: RunningApp) -> None:
    """40 made-up error codes from Slack (or whatever answers at SLACK_API_URL) and odd
    HTTP statuses are counted, as "other" or their status class, not as 40 new series."""
    for n in range(40):
        app.fake.fail("views.publish", f"made_up_error_{n:03d}")
        await app.fake.send_event(app.fake.app_home_opened_event(f"U0CARD{n:03d}"))

    def counted(found: Samples) -> float:
        return sum(
            count
            for (name, labels), count in found.items()
            if name == "account_binding_slack_api_errors_total"
        )

    found = await scrape_until(app, lambda found: counted(found) >= 40)
    errors = {
        dict(labels)["error"]
        for (name, labels), _ in found.items()
        if name == "account_binding_slack_api_errors_total"
    }
    assert errors == {"other"}, errors
    assert (
        value(
            found, "account_binding_slack_api_errors_total", method="views.publish", error="other"
        )
        >= 40
    )


def test_error_labels_are_known_codes_or_status_classes_only() -> None:
    from monitoring.metrics import Metrics

    metrics = Metrics()
    for method, error in (
        ("chat.postMessage", "ratelimited"),
        ("chat.postMessage", "http_503"),
        ("chat.postMessage", "http_418"),
        ("users.info", "http_302"),
        ("made.upMethod", "invalid_auth"),
        ("views.publish", "x" * 40),
    ):
        metrics.slack_api_error(method, error)
    found = samples(metrics.exposition()[0].decode())
    labels = {
        (dict(key)["method"], dict(key)["error"])
        for (name, key), _ in found.items()
        if name == "account_binding_slack_api_errors_total"
    }
    assert labels == {
        ("chat.postMessage", "ratelimited"),
        ("chat.postMessage", "http_5xx"),
        ("chat.postMessage", "http_4xx"),
        ("users.info", "other"),
        ("other", "invalid_auth"),
        ("views.publish", "other"),
    }


# Issue 11, review: a database SQLite can only open read-only is not writable


def test_the_write_probe_refuses_a_database_sqlite_opened_read_only(tmp_path: Path) -> None:
    """When the file cannot be written (read-only file or file system, another owner),
    SQLite opens it read-only without a word, and BEGIN IMMEDIATE still succeeds there: the
    probe must try a write. A connection opened `mode=ro` is what SQLite falls back to."""
    import sqlite3

    from account_binding.sqlite_store import probe_write
    from account_binding.store import StoreUnavailable

    database = tmp_path / "probe.sqlite3"
    sqlite3.connect(database).close()
    writable = sqlite3.connect(database, isolation_level=None)
    probe_write(writable, database)  # no error
    writable.close()
    read_only = sqlite3.connect(f"file:{database}?mode=ro", uri=True, isolation_level=None)
    try:
        with pytest.raises(StoreUnavailable):
            probe_write(read_only, database)
    finally:
        read_only.close()


# Issue 11, review: the refusal's log line reads as written, once per kind and window


async def test_metrics_refusals_are_logged_readably_once_per_kind(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with run_app(tmp_path, METRICS_TOKEN=METRICS_TOKEN) as app:
        with caplog.at_level("WARNING", logger="web.health"):
            for _ in range(2):
                await app.http.get("/metrics")
                await app.http.get("/metrics", headers={"Authorization": "Bearer wrong"})
        lines = [r.getMessage() for r in caplog.records if r.name == "web.health"]
        refused = [line for line in lines if line.startswith("Refused a /metrics request")]
        assert len(refused) == 2, lines
        assert "without an Authorization header" in refused[0], refused
        assert "with a wrong token" in refused[1], refused
        assert all("[redacted]" not in line for line in refused), refused


# Issue 11, review: the start says whether /metrics is open, and warns of defeating timeouts


async def test_the_start_says_whether_metrics_are_open_and_warns_of_timeouts_that_clash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from launcher.logs import install_redaction

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    install_redaction()  # as `account-binding run` has it, whichever tests ran before
    logger = logging.getLogger("launcher.compose")
    keep, level = Keep(logging.INFO), logger.level
    logger.addHandler(keep)  # on the logger itself: whatever earlier tests did to the root
    logger.setLevel(logging.INFO)
    try:
        async with run_app(tmp_path / "open", COMMAND_TIMEOUT="5", INTERNAL_API_TIMEOUT="10"):
            pass
        async with run_app(tmp_path / "closed", METRICS_TOKEN=METRICS_TOKEN):
            pass
    finally:
        logger.removeHandler(keep)
        logger.setLevel(level)
    lines = [r.getMessage() for r in records]
    assert any(line.startswith("/metrics is open to whoever") for line in lines), lines
    assert any(
        line.startswith("/metrics is closed: it answers only requests carrying") for line in lines
    )
    clash = [line for line in lines if line.startswith("COMMAND_TIMEOUT (5s) is not above")]
    assert len(clash) == 1, lines
    assert METRICS_TOKEN not in "\n".join(lines)
