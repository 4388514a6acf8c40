"""Bar feeds: a replay hands out its history in order (paced by a clock when given one); a
polling feed asks for closed candles after each close, starts at the latest one, hands each bar
out once and catches up after a failed poll."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import numpy as np

from axis.data import Bars
from axis.venues.base import ClosedBar
from axis.worker.feed import PollingBarFeed, ReplayFeed

SYMBOL = "BTC/USDT:USDT"
T0 = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)
STEP = 300_000


class JumpClock:
    """Sleeping moves time straight to the wake-up time."""

    def __init__(self, now: int) -> None:
        self.now = now
        self.sleeps: list[int] = []

    def now_ms(self) -> int:
        return self.now

    async def sleep_until(self, when_ms: int) -> None:
        self.sleeps.append(when_ms)
        self.now = max(self.now, when_ms)


def bar(i: int) -> ClosedBar:
    return ClosedBar(SYMBOL, "5m", T0 + i * STEP, 1.0, 2.0, 0.5, 1.5, 10.0)


class Exchange:
    """Candles closed by the time asked; the second poll fails once."""

    def __init__(self) -> None:
        self.calls: list[int | None] = []

    async def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: str,
        since_ms: int | None = None,
        limit: int | None = None,
        closed_before_ms: int | None = None,
    ) -> list[ClosedBar]:
        self.calls.append(since_ms)
        if len(self.calls) == 2:
            raise ConnectionError("exchange unreachable")
        assert closed_before_ms is not None
        closed = (closed_before_ms - T0) // STEP  # bars 0..closed-1 have closed
        first = 0 if since_ms is None else (since_ms - T0) // STEP
        return [bar(i) for i in range(first, closed)]


def test_polling_feed_starts_at_the_latest_bar_and_catches_up_after_a_failure() -> None:
    clock = JumpClock(T0 + 10 * STEP + 1_000)  # bars 0..9 closed
    exchange = Exchange()
    feed = PollingBarFeed(exchange, SYMBOL, "5m", clock, settle_ms=2_000, retry_s=0)

    async def take(n: int) -> list[int]:
        out: list[int] = []
        async for closed in feed:
            out.append((closed.timestamp - T0) // STEP)
            if len(out) == n:
                break
        return out

    got = asyncio.run(take(3))
    # First poll after bar 10's close: bar 10 only (the latest). The next poll fails; the one
    # after it, past bar 12's close, hands out 11 and 12 — nothing skipped, nothing twice.
    assert got == [10, 11, 12]
    assert exchange.calls == [None, T0 + 11 * STEP, T0 + 11 * STEP]
    assert clock.sleeps[0] == T0 + 11 * STEP + 2_000  # waits for the close plus the settle


def test_replay_feed_paces_bars_by_their_close() -> None:
    n = 5
    close = np.linspace(1.0, 2.0, n)
    bars = Bars(
        SYMBOL,
        "5m",
        T0 + STEP * np.arange(n, dtype=np.int64),
        close,
        close,
        close,
        close,
        np.ones(n),
    )
    clock = JumpClock(T0)

    async def collect() -> list[ClosedBar]:
        return [b async for b in ReplayFeed(bars, clock=clock, start=1)]

    got = asyncio.run(collect())
    assert [b.timestamp for b in got] == bars.timestamp[1:].tolist()
    assert [b.close for b in got] == close[1:].tolist()
    assert clock.sleeps == [int(t) + STEP for t in bars.timestamp[1:]]


def test_polling_feed_after_a_preloaded_history_hands_out_the_next_bar_first() -> None:
    clock = JumpClock(T0 + 12 * STEP + 1_000)  # bars 0..11 closed; 0..9 were preloaded
    exchange = Exchange()
    exchange.calls.append(None)  # the failing second call is not this test's concern
    exchange.calls.append(None)
    feed = PollingBarFeed(exchange, SYMBOL, "5m", clock, after_ms=T0 + 9 * STEP)

    async def first() -> ClosedBar:
        async for closed in feed:
            return closed
        raise AssertionError("no bar")

    assert asyncio.run(first()).timestamp == T0 + 10 * STEP


def test_history_for_the_warm_up_is_sorted_and_a_failure_starts_cold() -> None:
    from axis.config.specs import TradingStrategySpec
    from axis.worker.main import WARMUP_BARS, fetch_history

    spec = TradingStrategySpec.model_validate(
        {"strategy": "trend_futures", "mode": "paper", "symbols": [SYMBOL]}
    )

    class Source:
        def __init__(self, fail: bool) -> None:
            self.fail = fail
            self.asked: tuple[int | None, int | None] | None = None

        async def fetch_ohlcv(
            self,
            symbol: str,
            timeframe: str,
            since_ms: int | None = None,
            limit: int | None = None,
            closed_before_ms: int | None = None,
        ) -> list[ClosedBar]:
            self.asked = (since_ms, limit)
            if self.fail:
                raise ConnectionError("down")
            return [bar(3), bar(1), bar(2)]

    clock = JumpClock(T0 + 4 * STEP)
    ok = Source(fail=False)
    got = asyncio.run(fetch_history(ok, spec, clock))  # type: ignore[arg-type]
    assert [b.timestamp for b in got] == [T0 + STEP, T0 + 2 * STEP, T0 + 3 * STEP]
    assert ok.asked == (T0 + 4 * STEP - WARMUP_BARS * STEP, WARMUP_BARS)
    assert asyncio.run(fetch_history(Source(fail=True), spec, clock)) == []  # type: ignore[arg-type]
