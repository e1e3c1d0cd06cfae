"""Each envelope acts once: repeated Socket Mode envelopes are acknowledged and dropped.

Two kinds of repeat, checked by the Socket Mode handler before Bolt sees an envelope:

- **Events API retries.** Slack redelivers an event it thinks went unacknowledged, with the
  same `event_id` in the payload and `retry_attempt` 1 to 3 on the envelope
  (https://docs.slack.dev/apis/events-api/#retries). An `event_id` is dropped when it is
  in memory (being handled, or handled in the last `window_seconds`) or recorded in the
  store as handled (`account_binding.deliveries.EventDeliveries`), which outlives a restart.

  *When the record is written:* once Bolt has taken the delivery (a listener ran and
  acknowledged it, answering 200), just before the acknowledgement goes to Slack; not when
  it arrives. A delivery that never got that far leaves no record, so Slack's retry of it
  acts: the process stopped or the connection dropped before the acknowledgement, or Bolt
  failed it (an exception, a 5xx; it is still acknowledged and logged, as before) or had no
  listener for it (404). Recording first would have made a delivery lost in a crash
  impossible to retry; recording after means a crash between the listener's start and the
  record can act twice, the lesser harm for the events this app handles (a Home tab
  published again). The lifecycle events (`app_uninstalled`, `tokens_revoked`,
  `user_change`) keep their own record, written in the same write that checks it before
  they remove anything (`bolt_app.listeners.events.lifecycle`), so they are only looked up
  here. A store that does not answer the lookup within `store_deadline` lets the delivery
  act (logged); one that does not take the record within it lets the acknowledgement go
  (the write finishes on its own).

- **Repeated envelope_ids.** Slack does not redeliver slash commands or interactions, but an
  `envelope_id` seen in the last `window_seconds` (any type) is dropped all the same. This
  check is a dictionary lookup in memory (`RecentIds`): no store call, nothing on the
  acknowledgement's path that could wait.

A dropped envelope is acknowledged empty, logged at INFO and counted in
`Metrics.events_deduplicated` by envelope type.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Protocol

from account_binding.lifecycle import SLACK_EVENTS

log = logging.getLogger("bolt_app.redelivery")

#: How long an envelope_id or event_id is remembered in memory, in seconds.
WINDOW_SECONDS = 600.0
#: How many of each are remembered at most (the oldest are forgotten first).
MAX_REMEMBERED = 10_000
#: Seconds a store lookup or record may take before the envelope goes on without it.
STORE_DEADLINE_SECONDS = 1.0


class RecentIds:
    """Keys seen within `window_seconds`, at most `max_size` of them: each call O(1)
    (amortised: expired keys are forgotten oldest first as new ones come)."""

    def __init__(
        self,
        window_seconds: float = WINDOW_SECONDS,
        max_size: int = MAX_REMEMBERED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window = window_seconds
        self._max_size = max_size
        self._clock = clock
        self._seen: dict[str, float] = {}  # insertion order is time order

    def add(self, key: str) -> bool:
        """True when `key` is new (it is remembered from now); False when it was seen within
        the window."""
        now = self._clock()
        self._forget_old(now)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True

    def discard(self, key: str) -> None:
        self._seen.pop(key, None)

    def __len__(self) -> int:
        return len(self._seen)

    def _forget_old(self, now: float) -> None:
        seen = self._seen
        while seen:
            oldest = next(iter(seen))
            if now - seen[oldest] < self._window and len(seen) < self._max_size:
                return
            del seen[oldest]


class EventLedger(Protocol):
    """Where handled Events API deliveries are recorded (`EventDeliveries`)."""

    async def handled(self, event_id: str) -> bool: ...

    async def record(self, event_id: str) -> None: ...


class Redeliveries:
    """The handler's memory of envelopes and events (see the module)."""

    def __init__(
        self,
        ledger: EventLedger | None = None,
        *,
        window_seconds: float = WINDOW_SECONDS,
        max_remembered: int = MAX_REMEMBERED,
        store_deadline: float = STORE_DEADLINE_SECONDS,
    ) -> None:
        self._ledger = ledger
        self._envelopes = RecentIds(window_seconds, max_remembered)
        self._events = RecentIds(window_seconds, max_remembered)
        self._deadline = store_deadline
        self._writes: set[asyncio.Task[None]] = set()

    def repeated_envelope(self, envelope_id: str) -> bool:
        """Whether `envelope_id` came moments ago (it is remembered from now if not). An ID
        longer than Slack's (UUIDs, 36 characters) is remembered by its SHA-256, so that the
        window holds at most MAX_REMEMBERED short keys whatever the IDs' length."""
        return not self._envelopes.add(_short_key(envelope_id))

    async def repeated_event(self, event_id: str) -> bool:
        """Whether the delivery `event_id` is being handled or was handled. When not, it is
        remembered as being handled from now: `taken` or `failed` must follow."""
        if not self._events.add(event_id):
            return True
        if self._ledger is None:
            return False
        try:
            handled = await asyncio.wait_for(self._ledger.handled(event_id), self._deadline)
        except Exception as error:  # the store unusable: acting twice beats never acting
            log.warning(
                "Could not look up event %s among those handled (%s); handling it",
                event_id,
                type(error).__name__,
            )
            return False
        return handled

    async def taken(self, event_id: str, event_type: str | None) -> None:
        """Bolt took the delivery `event_id`: record it (unless its listener records it
        itself), within the store deadline."""
        if self._ledger is None or event_type in SLACK_EVENTS:
            return
        write = asyncio.ensure_future(self._record(self._ledger, event_id))
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)
        done, _ = await asyncio.wait({write}, timeout=self._deadline)
        if not done:
            log.warning(
                "Recording event %s as handled took over %ss; acknowledging it meanwhile",
                event_id,
                self._deadline,
            )

    def failed(self, event_id: str) -> None:
        """Bolt did not take the delivery `event_id`: a retry of it will act."""
        self._events.discard(event_id)

    @staticmethod
    async def _record(ledger: EventLedger, event_id: str) -> None:
        try:
            await ledger.record(event_id)
        except Exception as error:  # the delivery was handled; a retry may act again
            log.warning(
                "Could not record event %s as handled (%s): a retry of it would act again",
                event_id,
                type(error).__name__,
            )


#: The longest envelope ID remembered as it is; longer ones are remembered by digest.
MAX_KEY_LENGTH = 64


def _short_key(envelope_id: str) -> str:
    if len(envelope_id) <= MAX_KEY_LENGTH:
        return envelope_id
    return "sha256:" + hashlib.sha256(envelope_id.encode("utf-8", "surrogatepass")).hexdigest()
