"""Replayed bar feeds: a stored history handed out as closed bars, in time order.

:class:`PollingBarFeed` asks a venue for closed candles after each bar's close (live data).

A replay with a clock that can sleep (an accelerated clock) yields each bar when the clock
reaches the bar's close, as a live feed would; without one it yields them as fast as the worker
takes them (the worker then moves a stepped clock to each close itself).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

from axis.data import Bars
from axis.data.bars import timeframe_to_ms
from axis.observability.logging import get_logger
from axis.venues.base import ClosedBar
from axis.worker.trader import bar_at

log = get_logger("axis.worker.feed")


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


class OhlcvSource(Protocol):
    """A venue that can list closed candles (CcxtVenue; a gateway that serves them)."""

    async def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: str,
        since_ms: int | None = None,
        limit: int | None = None,
        closed_before_ms: int | None = None,
    ) -> list[ClosedBar]: ...


class Clock(Protocol):
    def now_ms(self) -> int: ...
    async def sleep_until(self, when_ms: int) -> None: ...


class PollingBarFeed:
    """Closed bars of one market, asked for just after each bar closes. A bar missed while
    the venue was unreachable is fetched on the next poll (from the last bar handed out), so the
    feed has no gaps the exchange can fill; errors wait ``retry_s`` and try again."""

    def __init__(
        self,
        source: OhlcvSource,
        symbol: str,
        timeframe: str,
        clock: Clock,
        *,
        settle_ms: int = 2_000,
        retry_s: float = 5.0,
        after_ms: int | None = None,
    ) -> None:
        self.source = source
        self.symbol = symbol
        self.timeframe = timeframe
        self.clock = clock
        self.settle_ms = settle_ms  # exchanges publish a closed candle a moment after its close
        self.retry_s = retry_s
        # The last bar handed out (or preloaded): the next poll asks for the bars after it.
        self.last_open_ms: int | None = after_ms

    async def __aiter__(self) -> AsyncIterator[ClosedBar]:
        step = timeframe_to_ms(self.timeframe)
        while True:
            now = self.clock.now_ms()
            await self.clock.sleep_until(now // step * step + step + self.settle_ms)
            since = None if self.last_open_ms is None else self.last_open_ms + step
            try:
                bars = await self.source.fetch_ohlcv(
                    self.symbol, self.timeframe, since, None, self.clock.now_ms()
                )
            except Exception as exc:  # the venue's errors: wait and ask again
                log.warning("bar_feed_poll_failed", symbol=self.symbol, error=str(exc))
                await asyncio.sleep(self.retry_s)
                continue
            for bar in bars:
                if self.last_open_ms is not None and bar.timestamp <= self.last_open_ms:
                    continue
                if self.last_open_ms is None and bar is not bars[-1]:
                    continue  # the first poll starts trading at the latest closed bar
                self.last_open_ms = bar.timestamp
                yield bar
