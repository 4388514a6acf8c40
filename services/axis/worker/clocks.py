"""Clocks a worker can wait on: "now" plus "wake me at time T".

The engine's clocks (:mod:`axis.engine.clock`) only say what time it is. The scheduler and a
replay feed also need to sleep until a time, and in a paper replay that time is simulated:

- :class:`WallTimer` — the machine's clock, for live and paper trading on live data.
- :class:`AcceleratedClock` — replay time that runs ``speed`` times faster than the wall clock
  from a chosen start; a sleep until simulated time T lasts (T - now) / speed real seconds.
- :class:`SteppedClock` — replay time that moves only when the replay calls
  :meth:`SteppedClock.advance_to`; every sleeper due on the way is woken in time order with the
  clock set to its due time, so jobs fire at their exact simulated times however fast the
  replay runs.

All three satisfy the engine's ``Clock`` protocol (``now_ms``).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol

from axis.engine.clock import ClockError


class TimerClock(Protocol):
    def now_ms(self) -> int:
        """Current time, epoch milliseconds (UTC)."""
        ...

    async def sleep_until(self, when_ms: int) -> None:
        """Return once ``now_ms() >= when_ms`` (at once if it already is)."""
        ...


class WallTimer:
    """The machine's UTC clock."""

    __slots__ = ()

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    async def sleep_until(self, when_ms: int) -> None:
        # asyncio may wake a little early (timer granularity): sleep again for the remainder.
        while (left := when_ms - self.now_ms()) > 0:
            await asyncio.sleep(left / 1000)


class AcceleratedClock:
    """Simulated time starting at ``start_ms`` and running ``speed`` times the wall clock."""

    __slots__ = ("_origin", "_start_ms", "speed")

    def __init__(self, start_ms: int, speed: float) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = speed
        self._start_ms = start_ms
        self._origin = time.perf_counter()

    def now_ms(self) -> int:
        return self._start_ms + int((time.perf_counter() - self._origin) * 1000 * self.speed)

    async def sleep_until(self, when_ms: int) -> None:
        while (left := when_ms - self.now_ms()) > 0:
            await asyncio.sleep(left / 1000 / self.speed)


class SteppedClock:
    """Simulated time moved by the replay; sleepers wake in due-time order at their due time."""

    __slots__ = ("_now", "_seq", "_sleepers")

    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()  # ties wake in the order they went to sleep

    def now_ms(self) -> int:
        return self._now

    @property
    def next_wakeup_ms(self) -> int | None:
        """The earliest due time of a waiting sleeper, if any."""
        while self._sleepers and self._sleepers[0][2].done():  # cancelled sleepers
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] if self._sleepers else None

    async def sleep_until(self, when_ms: int) -> None:
        if when_ms <= self._now:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (when_ms, next(self._seq), future))
        await future

    async def advance_to(self, timestamp_ms: int) -> None:
        """Move to ``timestamp_ms``, stopping at each due sleeper's time to let it run first."""
        if timestamp_ms < self._now:
            raise ClockError(f"simulated time cannot go back from {self._now} to {timestamp_ms}")
        while (due := self.next_wakeup_ms) is not None and due <= timestamp_ms:
            self._now = due
            while self._sleepers and self._sleepers[0][0] == due:
                _, _, future = heapq.heappop(self._sleepers)
                if not future.done():
                    future.set_result(None)
            # Let the woken tasks run (and go back to sleep) before time moves on.
            for _ in range(3):
                await asyncio.sleep(0)
        self._now = timestamp_ms
