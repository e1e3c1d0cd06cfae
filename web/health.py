"""What a supervisor and a monitoring system ask: `/healthz`, `/readyz` and `/metrics`.

- `GET /healthz`: 200 `ok` (text/plain) whenever the process serves HTTP at all. It touches
  nothing else, so a locked database or a lost Slack connection never gets the process
  restarted: the liveness probe.
- `GET /readyz`: 200 when the app can do its work, else 503; both with the JSON
  `{"ready": bool, "checks": {"database": {"ok": bool, ...}, "slack": {"ok": bool,
  "state": STATE, ...}}}`. "database": the write lock could be taken within
  `Health.deadline_seconds` (`Store.check_writable`; a failure adds `"error"`: "locked",
  "unwritable" or "failed", and a `"detail"` sentence). "slack": the Socket Mode connection
  is up or the sandbox is running (`ConnectionState.serving`); `state` is one of
  `monitoring.connection.STATES` ("link_disabled": Slack turned Socket Mode off for the app;
  the process stays up and not ready), with a `"detail"` sentence when it is not serving.
  Every text in it is fixed here: no path, setting value, ID or Slack message. The
  readiness probe.
- `GET /metrics`: the Prometheus text format (version 0.0.4) of `Metrics`, after a fresh
  readiness check (the `account_binding_ready` and `_database_writable` gauges). With
  METRICS_TOKEN set, only a request with `Authorization: Bearer <METRICS_TOKEN>` (compared
  in constant time) is answered; any other gets 401 with `WWW-Authenticate: Bearer`
  (RFC 6750, `error="invalid_token"` when a wrong one came).

All three answer HEAD too, set no cookie, take no login (`web.authentication.MACHINE_PATHS`)
and no CSRF token (they change nothing), and answer only the Host names the site answers.
A check never waits past its deadline, and never on the event loop.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from account_binding.errors import StoreBusy
from account_binding.store import StoreUnavailable
from monitoring.connection import ConnectionState, State

from .peer import peer_address
from .services import WebServices, services_of

log = logging.getLogger(__name__)

#: Seconds /readyz waits for the database's write lock; Kubernetes' probe timeout
#: (`timeoutSeconds`) should be longer (3 s), so that a locked database answers 503.
DATABASE_DEADLINE_SECONDS = 2.0
#: A /metrics request refused for its token is logged at most once this often, in seconds.
REFUSAL_LOG_SECONDS = 600.0

#: Why each state that is not serving keeps the app from being ready (fixed texts).
NOT_SERVING = {
    "starting": "The app has not connected to Slack over Socket Mode yet.",
    "reconnecting": "The Socket Mode connection dropped; the app is connecting again.",
    "link_disabled": (
        "Slack turned Socket Mode off for this app (link_disabled): turn it on again in the "
        "app's settings at api.slack.com, then restart the app."
    ),
    "stopped": "The app is shutting down.",
}
DATABASE_ERRORS = {
    "locked": (
        "The database's write lock could not be taken within {seconds:g} seconds: another "
        "process holds it, or the disk is not answering."
    ),
    "unwritable": "The database cannot be opened for writing (see the app's log).",
    "failed": "Checking the database failed (see the app's log).",
    "not_checked": "This site was built without a database check.",
}


class Health:
    """What /readyz and /metrics need besides `WebServices.metrics` and `.connection`:
    `check_database(seconds)` (`Store.check_writable`), `deadline_seconds` for it, and
    METRICS_TOKEN (None: /metrics is open). It remembers the last outcome, to log only
    changes."""

    def __init__(
        self,
        check_database: Callable[[float], Awaitable[None]] | None,
        *,
        metrics_token: str | None = None,
        deadline_seconds: float = DATABASE_DEADLINE_SECONDS,
    ) -> None:
        self.check_database = check_database
        self.metrics_token = metrics_token or None
        self.deadline_seconds = deadline_seconds
        self._last: dict[str, str] | None = None
        self._refusal_logged_at: dict[str, float] = {}

    def __repr__(self) -> str:
        closed = self.metrics_token is not None
        return f"Health(deadline_seconds={self.deadline_seconds}, metrics_closed={closed})"

    async def readiness(self, connection: ConnectionState) -> tuple[bool, dict[str, Any]]:
        """Whether the app is ready, and the checks as /readyz shows them."""
        database = await self._database()
        slack: dict[str, Any] = {"ok": connection.serving, "state": connection.state}
        if not connection.serving:
            slack["detail"] = _not_serving(connection.state)
        checks = {"database": database, "slack": slack}
        ready = bool(database["ok"] and slack["ok"])
        self._log_change(checks)
        return ready, checks

    async def _database(self) -> dict[str, Any]:
        if self.check_database is None:
            return _database_failure("not_checked", self.deadline_seconds)
        try:
            await self.check_database(self.deadline_seconds)
        except StoreBusy:
            return _database_failure("locked", self.deadline_seconds)
        except StoreUnavailable as error:
            if (self._last or {}).get("database") != "unwritable":
                log.error("Not ready: the database cannot be written: %s", error)
            return _database_failure("unwritable", self.deadline_seconds)
        except Exception:
            log.exception("Not ready: checking the database failed")
            return _database_failure("failed", self.deadline_seconds)
        return {"ok": True}

    def _log_change(self, checks: dict[str, dict[str, Any]]) -> None:
        """One log record when a check's outcome changes, never one per probe."""
        now = {
            "database": "ok" if checks["database"]["ok"] else str(checks["database"]["error"]),
            "slack": str(checks["slack"]["state"]),
        }
        before, self._last = self._last or {"database": "ok", "slack": "connected"}, now
        if before == now:
            return
        if before["database"] != now["database"]:
            if now["database"] == "ok":
                log.info("The database can be written again (readiness)")
            elif now["database"] == "locked":
                log.warning(
                    "Not ready: the database's write lock could not be taken within %gs "
                    "(another process holds it, or the disk is not answering)",
                    self.deadline_seconds,
                )
        if before["slack"] != now["slack"]:
            log.info("Readiness now sees the Slack connection as %s", now["slack"])

    def authorised(self, request: Request) -> bool | None:
        """For /metrics: True when no token is set or the request carries it; False when it
        carries a wrong one; None when it carries none (or not as one Bearer header)."""
        if self.metrics_token is None:
            return True
        given = _bearer(request)
        if given is None:
            self._log_refusal(request, "without an Authorization header")
            return None
        if hmac.compare_digest(given.encode(), self.metrics_token.encode()):
            return True
        self._log_refusal(request, "with a wrong token")
        return False

    def _log_refusal(self, request: Request, how: str) -> None:
        # Once per kind and window: a scraper without the token and one with a wrong token
        # are different mistakes. (The words avoid "Bearer <word>", which the log's
        # redaction takes for a credential.)
        now = time.monotonic()
        last = self._refusal_logged_at.get(how)
        if last is not None and now - last < REFUSAL_LOG_SECONDS:
            return
        self._refusal_logged_at[how] = now
        log.warning(
            "Refused a /metrics request from %s %s: give the scraper the token that "
            "METRICS_TOKEN names (each kind of refusal logged at most once in %gs)",
            peer_address(request),
            how,
            REFUSAL_LOG_SECONDS,
        )


def _not_serving(state: State) -> str:
    return NOT_SERVING.get(state, "The app is not connected to Slack.")


def _database_failure(error: str, seconds: float) -> dict[str, Any]:
    return {"ok": False, "error": error, "detail": DATABASE_ERRORS[error].format(seconds=seconds)}


def _bearer(request: Request) -> str | None:
    """The credentials of the request's one `Authorization: Bearer` header (the scheme in
    any case, RFC 7235 2.1), or None."""
    values = request.headers.getlist("authorization")
    if len(values) != 1:
        return None
    scheme, _, credentials = values[0].strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


def health_of(services: WebServices) -> Health:
    """The site's `Health`; a site built without one checks no database (never ready)."""
    return services.health or _UNCHECKED


_UNCHECKED = Health(None)


# The routes


async def healthz(request: Request) -> Response:
    """Liveness: the process answers. Touches nothing else."""
    return PlainTextResponse("ok")


async def readyz(request: Request) -> Response:
    """Readiness: 200 or 503 with the checks (see the module's docstring)."""
    services = services_of(request)
    ready, checks = await health_of(services).readiness(services.connection)
    services.metrics.readiness_checked(ready=ready, database_writable=checks["database"]["ok"])
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


async def metrics(request: Request) -> Response:
    """The Prometheus text format, behind METRICS_TOKEN when it is set."""
    services = services_of(request)
    health = health_of(services)
    allowed = health.authorised(request)
    if allowed is not True:
        challenge = 'Bearer realm="metrics"'
        if allowed is False:
            challenge += ', error="invalid_token"'
        return PlainTextResponse(
            "/metrics needs the bearer token that METRICS_TOKEN names.",
            status_code=401,
            headers={"WWW-Authenticate": challenge},
        )
    ready, checks = await health.readiness(services.connection)
    services.metrics.readiness_checked(ready=ready, database_writable=checks["database"]["ok"])
    body, content_type = services.metrics.exposition()
    return Response(body, headers={"Content-Type": content_type})


#: GET (and HEAD, which Starlette adds) for each.
routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
