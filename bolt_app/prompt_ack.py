"""Bolt's listener runner, answering as soon as a listener acknowledges (issue 12).

With `process_before_response` off (as here: a listener acknowledges, then goes on with the
work after it in a task of its own), Bolt's `AsyncioListenerRunner` starts the listener and
then looks whether `ack()` was called every 10 ms: every acknowledgement waits up to 10 ms
for nothing, which is most of a one-at-a-time command's latency. `PromptListenerRunner` does
the same thing, waiting instead on an event the `ack` sets (or the listener's end), so the
acknowledgement leaves as soon as it is ready. Everything else is Bolt's: the listener runs
in a task of its own, after the same start hook (`bolt_app.draining.count_listeners` counts
that task), with the same error and completion hooks and the same `ack_timeout`; listeners
with lazy functions, and `process_before_response` on, go to Bolt's own `run`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.listener.async_listener import AsyncListener
from slack_bolt.listener.asyncio_runner import AsyncioListenerRunner
from slack_bolt.logger.messages import warning_did_not_call_ack
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse


class _SignallingAck(AsyncAck):
    """Bolt's `ack`, which also sets `acked` once called."""

    def __init__(self, acked: asyncio.Event) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._acked = acked

    async def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        try:
            return await super().__call__(*args, **kwargs)
        finally:
            self._acked.set()


class PromptListenerRunner(AsyncioListenerRunner):
    """`AsyncioListenerRunner` without the 10 ms polling for the acknowledgement (see the
    module)."""

    def __init__(self, bolts: AsyncioListenerRunner) -> None:
        super().__init__(
            logger=bolts.logger,
            process_before_response=bolts.process_before_response,
            listener_error_handler=bolts.listener_error_handler,
            listener_start_handler=bolts.listener_start_handler,
            listener_completion_handler=bolts.listener_completion_handler,
            lazy_listener_runner=bolts.lazy_listener_runner,
        )
        self._running: set[asyncio.Future[None]] = set()

    async def run(
        self,
        request: AsyncBoltRequest,
        response: BoltResponse,
        listener_name: str,
        listener: AsyncListener,
        starting_time: float | None = None,
    ) -> BoltResponse | None:
        if self.process_before_response or request.lazy_only or listener.lazy_functions:
            return await super().run(request, response, listener_name, listener, starting_time)
        starting_time = starting_time if starting_time is not None else time.time()
        acked = asyncio.Event()
        ack = request.context.ack
        if ack.response is None:
            ack = _SignallingAck(acked)
            request.context["ack"] = ack  # what the listener's `ack` argument is built from
        if listener.auto_acknowledgement:
            await ack()  # events: acknowledged at once, as Bolt does
        running = asyncio.ensure_future(self._listen(ack, request, response, listener))
        self._running.add(running)
        running.add_done_callback(self._running.discard)
        if ack.response is None:
            waiting = asyncio.ensure_future(acked.wait())
            left = listener.ack_timeout - (time.time() - starting_time)
            await asyncio.wait(
                {running, waiting}, timeout=max(0.0, left), return_when=asyncio.FIRST_COMPLETED
            )
            waiting.cancel()
        if response is None and ack.response is None:
            self.logger.warning(warning_did_not_call_ack(listener_name))
            return None
        if response is None:
            self._debug_log_completion(starting_time, ack.response)
            return ack.response
        return response

    async def _listen(
        self,
        ack: AsyncAck,
        request: AsyncBoltRequest,
        response: BoltResponse,
        listener: AsyncListener,
    ) -> None:
        """The listener, as Bolt's runner runs it in its own task."""
        try:
            await self.listener_start_handler.handle(request=request, response=response)
            await listener.run_ack_function(request=request, response=response)
        except Exception as e:
            if response is None:
                response = BoltResponse(status=500)
            response.status = 500
            if ack.response is not None:  # already acknowledged
                response = None  # type: ignore[assignment]
            await self.listener_error_handler.handle(error=e, request=request, response=response)
            ack.response = response
        finally:
            await self.listener_completion_handler.handle(request=request, response=response)


def answer_promptly(app: AsyncApp) -> None:
    """`app`'s listeners run by `PromptListenerRunner`, with the hooks its runner has now."""
    app._async_listener_runner = PromptListenerRunner(app.listener_runner)
