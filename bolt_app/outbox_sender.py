"""Sends the outbox's confirmation DMs (account_binding.outbox) with `chat.postMessage`.

Each row is delivered at least once:
- the change's transaction wrote it, and the store wakes the sender at once (`wake`), so a
  DM normally leaves as soon as its change commits; a timer also runs the sender at the next
  retry and every `poll_seconds`, which picks up what another process wrote and what a
  previous run left (after a restart, the start itself);
- a sender leases the rows it sends (`lease_seconds`), so that two senders sharing the
  database (in one process or several) do not send one row at once;
- a row is deleted right after Slack accepts the message. `chat.postMessage` has no
  idempotency key, so a sender that dies in the instant between Slack's answer and that
  delete leaves the row, which is sent again once its lease ends: the person gets that DM
  twice. A request that timed out after Slack had in fact posted it is repeated the same way;
- while Slack refuses with an error that may pass (429 `ratelimited`, a 5xx, a timeout, a
  dropped connection; `slack_directory.TEMPORARY_ERRORS`), the row waits and is tried again
  with a growing backoff (`Backoff`), never before Slack's `Retry-After`;
- an error that trying again cannot change (`channel_not_found`, `user_not_found`,
  `account_inactive`, `not_authed`, `invalid_auth`, any other Slack error) drops the row at
  once, logged as a WARNING;
- a row not sent within `max_age_seconds` (OUTBOX_MAX_AGE) of its change is dropped, logged
  as a WARNING naming its kind, binding and Slack user and the last error.

Each attempt is one `chat.postMessage` path (bolt_app.slack_calls) bounded by
`attempt_seconds`, within which the client itself retries a rate limit, a 5xx or a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from account_binding.errors import StoreBusy
from account_binding.outbox import KINDS, OutboxEntry, OutboxStore
from monitoring.metrics import Metrics

from . import messages
from .slack_calls import within
from .slack_directory import TEMPORARY_ERRORS

log = logging.getLogger(__name__)

#: One attempt at one DM, the client's own retries included (seconds).
OUTBOX_ATTEMPT_SECONDS = 30.0
#: The longest the sender sleeps between passes: how late it sees rows another process
#: wrote, or a lease that ended (seconds).
POLL_SECONDS = 10.0
#: DMs in flight at once: the sender's slots, each refilled as soon as its DM is done.
CONCURRENCY = 4

#: Slack errors that mean the bot's token or scopes are wrong: the log line says so.
TOKEN_ERRORS = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "missing_scope",
        "not_allowed_token_type",
        "no_permission",
        "ekm_access_denied",
    }
)

Outcome = Literal["sent", "retrying", "dropped", "unmarked"]

_random = random.SystemRandom()


@dataclass(frozen=True)
class Backoff:
    """Seconds before the next attempt after `attempts` failed ones: `first`, doubling each
    time up to `cap`, plus up to a quarter more at random (so that senders do not march in
    step)."""

    first: float = 5.0
    cap: float = 900.0

    def after(self, attempts: int) -> float:
        base = min(self.cap, self.first * 2.0 ** max(0, attempts - 1))
        return base * (1.0 + _random.uniform(0.0, 0.25))


class OutboxSender:
    """Delivers the outbox (see the module). `run()` is the background task; `send_due()` one
    pass, for a command-line process that sends what it just wrote. `depth` is the number of
    rows in the outbox (waiting or being sent) as the sender last looked, which it does
    whenever a DM is done (`Metrics.watch_outbox` reads it)."""

    def __init__(
        self,
        store: OutboxStore,
        client: AsyncWebClient,
        app_name: str,
        *,
        max_age_seconds: float,
        metrics: Metrics | None = None,
        attempt_seconds: float = OUTBOX_ATTEMPT_SECONDS,
        backoff: Backoff | None = None,
        poll_seconds: float = POLL_SECONDS,
        lease_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._client = client
        self._app_name = app_name
        self._max_age = max_age_seconds
        self._metrics = metrics
        self._attempt = attempt_seconds
        self._backoff = backoff or Backoff()
        self._poll = poll_seconds
        #: Long enough for one attempt and the writes after it (each within the store's
        #: busy timeout); a sender that died holding it leaves the rows this long.
        self._lease = lease_seconds if lease_seconds is not None else attempt_seconds + 30.0
        self._clock = clock
        self._woken = asyncio.Event()
        self.depth = 0
        #: Looks `run()` has taken for due rows (each starts sending what fits in the free slots).
        self.passes = 0

    def wake(self) -> None:
        """A row was written: send now (called by the store after the transaction)."""
        self._woken.set()

    async def run(self) -> None:
        """Send what is due, until cancelled (which gives back the rows it was sending).

        Up to CONCURRENCY DMs are in flight at once, and each slot is refilled as soon as it
        frees: the sender looks for due rows whenever woken (a row written, a send
        finished), at the next retry, and at least every `poll_seconds`. So a DM that Slack
        sits on holds one slot for up to `attempt_seconds`, never the others' DMs."""
        sending: dict[asyncio.Task[Outcome], OutboxEntry] = {}
        try:
            while True:
                self._woken.clear()
                try:
                    for task in [task for task in sending if task.done()]:
                        del sending[task]
                    await self._fill(sending, self._clock())
                    self.depth = await self._store.outbox_depth()
                    self.passes += 1
                    delay = (
                        self._poll  # a slot freeing wakes it
                        if len(sending) >= CONCURRENCY
                        else await self._until_next_due()
                    )
                except StoreBusy:  # another process holds the database: expected, said in one line
                    log.warning(
                        "The outbox could not be read: the database is locked by another "
                        "process; trying again in %ss",
                        self._poll,
                    )
                    delay = self._poll
                except Exception:  # the database or a bug: try again later, the cause logged
                    log.exception("Sending the outbox failed; trying again in %ss", self._poll)
                    delay = self._poll
                # asyncio.timeout, not wait_for: Python 3.11's wait_for loses a cancellation
                # that comes as the event is set, and this loop would then never end.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._woken.wait()
        finally:
            await self._give_back(sending)

    async def send_due(self) -> list[tuple[OutboxEntry, Outcome]]:
        """Send every row due as this pass starts, CONCURRENCY at a time (a slot refilled as
        soon as it frees, until a claim finds no more); what became of each. Cancelled, it
        gives back the rows it was sending."""
        start = self._clock()
        done: list[tuple[OutboxEntry, Outcome]] = []
        sending: dict[asyncio.Task[Outcome], OutboxEntry] = {}
        more = True  # until a claim finds fewer due rows than free slots: then none is left
        try:
            while True:
                if more:
                    free = CONCURRENCY - len(sending)
                    more = await self._fill(sending, start) >= free
                if not sending:
                    break
                finished, _ = await asyncio.wait(sending, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    done.append((sending.pop(task), task.result()))
        finally:
            await self._give_back(sending)
        self.depth = await self._store.outbox_depth()
        return done

    async def _fill(self, sending: dict[asyncio.Task[Outcome], OutboxEntry], due: float) -> int:
        """Lease the rows due at `due` (Unix seconds) that fit in the free slots, and start
        sending each in a task of its own, added to `sending`; each task wakes `run` when it
        ends, to fill its slot. The number of rows leased."""
        free = CONCURRENCY - len(sending)
        if free <= 0:
            return 0
        owner = uuid.uuid4().hex
        lease_until = self._clock() + self._lease
        entries = await self._store.claim_outbox(due, lease_until, owner, KINDS, free)
        for entry in entries:
            task = asyncio.create_task(self._recorded(entry))
            task.add_done_callback(lambda _: self.wake())
            sending[task] = entry
        return len(entries)

    async def _give_back(self, sending: dict[asyncio.Task[Outcome], OutboxEntry]) -> None:
        """Stopping mid-send: cancel the sends still in flight, and make their rows due again
        at once, for whoever runs next (one that Slack took meanwhile is sent again: see the
        module)."""
        if not sending:
            return
        for task in sending:
            task.cancel()
        await asyncio.gather(*sending, return_exceptions=True)
        owners = {entry.owner for entry in sending.values()}
        with contextlib.suppress(Exception):
            await asyncio.shield(self._release(owners))

    async def _release(self, owners: set[str]) -> None:
        for owner in owners:
            await self._store.outbox_release(owner)

    async def _until_next_due(self) -> float:
        due = await self._store.outbox_next_due(KINDS)
        if due is None:
            return self._poll
        return min(self._poll, max(0.05, due - self._clock()))

    async def _recorded(self, entry: OutboxEntry) -> Outcome:
        """`_deliver`, whose writes to the store may fail: the row then keeps its lease and
        is tried again when it ends."""
        try:
            return await self._deliver(entry)
        except Exception:
            log.exception(
                "Could not record what became of %s; it is tried again within %ss",
                entry.about,
                self._lease,
            )
            return "unmarked"

    async def _deliver(self, entry: OutboxEntry) -> Outcome:
        user_id = entry.identity.user_id
        if self._clock() - entry.created_at > self._max_age:
            return await self._drop_old(entry)
        reply = messages.notice_dm(self._app_name, entry)
        if reply is None:
            log.error(
                "Dropped %s to Slack user %s: this version cannot write it", entry.about, user_id
            )
            return await self._drop(entry)
        try:
            await within(
                self._attempt,
                self._client.chat_postMessage(
                    channel=user_id, text=reply.text, blocks=reply.blocks
                ),
                metrics=self._metrics,
                method="chat.postMessage",
            )
        except SlackApiError as error:
            code = error.response.get("error")
            status = error.response.status_code
            if status == 429 or status >= 500 or code in TEMPORARY_ERRORS:
                wait = _retry_after(error) if status == 429 else 0
                return await self._retry(entry, str(code or f"http_{status}"), wait)
            hint = (
                " (check SLACK_BOT_TOKEN and its chat:write scope)" if code in TOKEN_ERRORS else ""
            )
            log.warning(
                "Could not DM Slack user %s about binding %s: %s; dropped the %s DM, as trying "
                "again cannot change that%s",
                user_id,
                entry.binding_id,
                code or f"HTTP {status}",
                entry.kind,
                hint,
            )
            return await self._drop(entry)
        except TimeoutError:
            return await self._retry(entry, "timeout")
        except (SlackClientError, aiohttp.ClientError, OSError) as error:
            return await self._retry(entry, f"connection: {type(error).__name__}")
        except Exception:  # a bug: the row waits, and the cause is logged
            log.exception("Sending %s failed", entry.about)
            return await self._retry(entry, "error")
        try:
            await self._store.outbox_done(entry.id, entry.owner)
        except Exception as error:  # the database: it is sent again when the lease ends
            log.error(
                "Sent %s to Slack user %s, but could not mark it sent (%s): it will be sent "
                "again when its lease ends, within %ss",
                entry.about,
                user_id,
                type(error).__name__,
                self._lease,
            )
            return "unmarked"
        log.debug("Sent %s to Slack user %s", entry.about, user_id)
        return "sent"

    async def _retry(self, entry: OutboxEntry, error: str, at_least: float = 0) -> Outcome:
        now = self._clock()
        delay = max(self._backoff.after(entry.attempts), at_least)
        if now + delay - entry.created_at > self._max_age:
            return await self._drop_old(entry, error)
        log.info(
            "Slack did not take %s to Slack user %s (%s, attempt %d); trying again in %.0fs",
            entry.about,
            entry.identity.user_id,
            error,
            entry.attempts,
            delay,
        )
        await self._store.outbox_retry(entry.id, entry.owner, now + delay, error)
        return "retrying"

    async def _drop_old(self, entry: OutboxEntry, error: str | None = None) -> Outcome:
        log.warning(
            "Could not DM Slack user %s about binding %s within OUTBOX_MAX_AGE (%ss): dropped "
            "the %s DM after %d attempt(s); the last error: %s",
            entry.identity.user_id,
            entry.binding_id,
            f"{self._max_age:g}",
            entry.kind,
            entry.attempts,
            error or entry.last_error or "none",
        )
        return await self._drop(entry)

    async def _drop(self, entry: OutboxEntry) -> Outcome:
        await self._store.outbox_done(entry.id, entry.owner)
        return "dropped"


def _retry_after(error: SlackApiError) -> float:
    value = error.response.headers.get("Retry-After") or error.response.headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(0.0, float(value)) if value is not None else 1.0
    except ValueError:
        return 1.0
