"""Replayed bar feeds: a stored history handed out as closed bars, in time order.

A replay with a clock that can sleep (an accelerated clock) yields each bar when the clock
reaches the bar's close, as a live feed would; without one it yields them as fast as the worker
takes them (the worker then moves a stepped clock to each close itself).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

from axis.data import Bars
from axis.venues.base import ClosedBar
from axis.worker.trader import bar_at


class Sleeper(Protocol):
    async def sleep_until(self, when_ms: int) -> None: ...


class ReplayFeed:
    """Bars ``start``.. of ``bars`` as :class:`ClosedBar` values (a :class:`BarFeed`)."""

    def __init__(self, bars: Bars, *, clock: Sleeper | None = None, start: int = 0) -> None:
        self.bars = bars
        self.clock = clock
        self.start = start

    def __len__(self) -> int:
        return max(len(self.bars) - self.start, 0)

    async def __aiter__(self) -> AsyncIterator[ClosedBar]:
        step = self.bars.timeframe_ms
        for i in range(self.start, len(self.bars)):
            if self.clock is not None:
                await self.clock.sleep_until(int(self.bars.timestamp[i]) + step)
            elif i % 64 == 0:
                await asyncio.sleep(0)  # a replay at full speed still lets the loop breathe
            yield bar_at(self.bars, i)
