"""Which Events API deliveries the app has handled, by Slack's `event_id`.

Slack retries an Events API delivery it thinks went unacknowledged (up to three times, with
the same `event_id` and a `retry_attempt`), so a delivery is acted on once: its `event_id`
is looked up before it is handled and recorded once it was. The record is the lifecycle
events' table (`slack_events`, written by `Store.note_slack_event`), forgotten after
`lifecycle.EVENT_MEMORY_SECONDS` by `Lifecycle.purge`; it outlives a restart.
"""

from __future__ import annotations

from .clock import Clock, system_clock
from .store import Store


class EventDeliveries:
    def __init__(self, store: Store, *, clock: Clock = system_clock) -> None:
        self._store = store
        self._clock = clock

    async def handled(self, event_id: str) -> bool:
        """Whether the delivery `event_id` was recorded as handled (a read: it never waits
        for another process's write lock)."""
        return await self._store.slack_event_noted(event_id)

    async def record(self, event_id: str) -> None:
        """Record the delivery `event_id` as handled (once; recording it again does
        nothing). Raises StoreBusy when the database stays locked."""
        await self._store.note_slack_event(event_id, self._clock())
