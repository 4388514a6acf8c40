"""Alert delivery off the trading path: a throttle, a bounded queue and one sender task.

:class:`AlertDispatcher` is an alert sink (``observability.alerts.add_sink``): ``raise_alert``
calls it synchronously, from any thread, and it only enqueues, so the caller never waits on a
network. One background task takes alerts off the queue and sends each to every notifier
concurrently. A full queue drops the alert (it is already in the log) and counts it.

:class:`AlertThrottle` holds back repeats: an alert with the same kind and message as one
delivered less than ``window_s`` ago is counted, not sent, and the next delivery of that alert
says how many were held back. A global cap per minute bounds a storm of distinct alerts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from axis.notify.base import DeliveryError, Notifier
from axis.observability.alerts import Alert, add_sink, remove_sink
from axis.observability.logging import get_logger

log = get_logger("axis.notify")

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


@dataclass(slots=True)
class _Seen:
    delivered_at: float
    held_back: int = 0


@dataclass(slots=True)
class AlertThrottle:
    """Which alerts to deliver: pure bookkeeping over an injectable clock."""

    window_s: float = 300.0
    max_per_minute: int = 20
    min_severity: str = "warning"
    clock: Callable[[], float] = time.monotonic
    _seen: dict[tuple[str, str], _Seen] = field(default_factory=dict)
    _recent: deque[float] = field(default_factory=deque)
    dropped: int = 0  # over the per-minute cap

    def admit(self, alert: Alert) -> int | None:
        """``None`` to hold the alert back, else how many repeats of it were held back since
        it was last delivered."""
        if SEVERITY_RANK.get(alert.severity, 2) < SEVERITY_RANK.get(self.min_severity, 1):
            return None
        now = self.clock()
        key = (alert.kind, alert.message)
        seen = self._seen.get(key)
        if seen is not None and now - seen.delivered_at < self.window_s:
            seen.held_back += 1
            return None
        while self._recent and now - self._recent[0] >= 60.0:
            self._recent.popleft()
        if len(self._recent) >= self.max_per_minute:
            self.dropped += 1
            return None
        self._recent.append(now)
        repeated = seen.held_back if seen is not None else 0
        self._seen[key] = _Seen(now)
        if len(self._seen) > 10_000:  # forget keys long past their window
            self._seen = {
                k: v for k, v in self._seen.items() if now - v.delivered_at < self.window_s
            }
        return repeated


class AlertDispatcher:
    """Sends admitted alerts to every notifier from one background task."""

    def __init__(
        self,
        notifiers: Sequence[Notifier],
        *,
        throttle: AlertThrottle | None = None,
        queue_size: int = 256,
    ) -> None:
        self.notifiers = list(notifiers)
        self.throttle = throttle or AlertThrottle()
        self.queue_size = queue_size
        self.queue_full_drops = 0
        self.delivered: dict[str, int] = {n.name: 0 for n in self.notifiers}
        self.failed: dict[str, int] = {n.name: 0 for n in self.notifiers}
        self._queue: asyncio.Queue[tuple[Alert, int]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self, *, register: bool = True) -> None:
        """Start the sender on the running loop and, by default, register as an alert sink."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue(self.queue_size)
        self._task = asyncio.create_task(self._run(), name="axis-notify")
        if register:
            add_sink(self)

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Unregister, give queued alerts ``timeout_s`` to go out, then close the channels."""
        remove_sink(self)
        if self._task is None or self._queue is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout_s)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        for notifier in self.notifiers:
            try:
                await notifier.aclose()
            except Exception as exc:  # closing a channel must not fail a shutdown
                log.warning("notify_close_failed", notifier=notifier.name, error=type(exc).__name__)

    async def drain(self) -> None:
        """Wait until everything enqueued so far has been handed to every notifier."""
        if self._queue is not None:
            await self._queue.join()

    # -- the sink -----------------------------------------------------------------------------
    def __call__(self, alert: Alert) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # not started: the alert is in the log already
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._enqueue(alert)
        else:  # raised from another thread: hand over without waiting
            loop.call_soon_threadsafe(self._enqueue, alert)

    def _enqueue(self, alert: Alert) -> None:
        repeated = self.throttle.admit(alert)
        if repeated is None or self._queue is None:
            return
        try:
            self._queue.put_nowait((alert, repeated))
        except asyncio.QueueFull:
            self.queue_full_drops += 1
            log.warning("notify_queue_full", kind=alert.kind, dropped=self.queue_full_drops)

    # -- the sender ---------------------------------------------------------------------------
    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            alert, repeated = await self._queue.get()
            try:
                await self._deliver(alert, repeated)
            finally:
                self._queue.task_done()

    async def _deliver(self, alert: Alert, repeated: int) -> None:
        results = await asyncio.gather(
            *(n.send(alert, repeated) for n in self.notifiers), return_exceptions=True
        )
        for notifier, result in zip(self.notifiers, results, strict=True):
            if isinstance(result, BaseException):
                self.failed[notifier.name] += 1
                # DeliveryError messages are credential-free; anything else only by its type
                reason = str(result) if isinstance(result, DeliveryError) else type(result).__name__
                log.warning("notify_failed", notifier=notifier.name, kind=alert.kind, error=reason)
            else:
                self.delivered[notifier.name] += 1
