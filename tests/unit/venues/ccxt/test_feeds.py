"""LiveBarFeed and OrderUpdates against a scripted exchange: closed bars only, in order, no
duplicates; reconnect with backoff; gaps backfilled from REST; polling when there is no
websocket."""

from __future__ import annotations

from typing import Any

import ccxt
import pytest

from axis.venues.errors import AuthenticationFailed
from axis.venues.feeds import LiveBarFeed

pytestmark = pytest.mark.asyncio

MINUTE = 60_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % MINUTE


def row(i: int, close: float | None = None) -> list[float]:
    price = 100.0 + i
    return [
        T0 + i * MINUTE,
        price,
        price + 1,
        price - 1,
        close if close is not None else price,
        10.0,
    ]


class ScriptedExchange:
    """The ccxt surface a feed uses: ``watch_ohlcv`` answers from a script (batches or
    exceptions), ``fetch_ohlcv`` from a candle history up to the clock."""

    parse_timeframe = staticmethod(ccxt.Exchange.parse_timeframe)

    def __init__(self, script: list[Any], history: int, websocket: bool = True) -> None:
        self.has = {"watchOHLCV": websocket}
        self.script = list(script)
        self.history = [row(i) for i in range(history)]
        self.now = T0
        self.fetches: list[int | None] = []

    async def watch_ohlcv(self, symbol: str, timeframe: str) -> list[list[float]]:
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        self.now = max(r[0] for r in item) + 30_000  # the stream is live: half a bar in
        return item

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str, since: int | None = None, limit: int | None = None
    ) -> list[list[float]]:
        self.fetches.append(since)
        rows = [r for r in self.history if r[0] <= self.now and (since is None or r[0] >= since)]
        return rows[: limit or len(rows)]


async def take(feed: LiveBarFeed, n: int) -> list[tuple[int, float]]:
    out = []
    async for bar in feed:
        out.append(((bar.timestamp - T0) // MINUTE, bar.close))
        if len(out) == n:
            break
    return out


async def test_websocket_bars_closed_in_order_with_reconnect_and_backfill() -> None:
    exchange = ScriptedExchange(
        [
            [row(0)],  # bar 0 forming
            [row(0, close=100.5)],  # bar 0 updated, still forming
            [row(0, close=100.7), row(1)],  # bar 1 opened: bar 0 closed at its last values
            [row(1), row(2)],
            [row(1), row(2)],  # a repeat: nothing new (bar 2 still forming)
            ccxt.NetworkError("socket closed"),
            [row(5), row(6)],  # back after the outage: bars 2..4 were missed
        ],
        history=7,
    )
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    feed = LiveBarFeed(exchange, "BTC/USDT:USDT", "1m", clock_ms=lambda: exchange.now, sleep=sleep)
    bars = await take(feed, 6)
    assert bars == [(0, 100.7), (1, 101.0), (2, 102.0), (3, 103.0), (4, 104.0), (5, 105.0)]
    assert feed.reconnects == 1
    assert len(sleeps) == 1
    assert sleeps[0] > 0
    assert exchange.fetches == [T0 + 2 * MINUTE]  # backfill from the first missing bar
    assert feed.backfilled == 3


async def test_polling_emits_each_closed_bar_once_after_its_close() -> None:
    exchange = ScriptedExchange([], history=10, websocket=False)
    exchange.now = T0 + 2 * MINUTE + 10_000  # bars 0, 1 closed; 2 forming

    async def sleep(seconds: float) -> None:
        exchange.now += int(seconds * 1000)  # the wall clock moves while the feed waits

    feed = LiveBarFeed(exchange, "BTC/USDT", "1m", clock_ms=lambda: exchange.now, sleep=sleep)
    assert feed.websocket is False
    bars = await take(feed, 5)
    assert [i for i, _ in bars] == [0, 1, 2, 3, 4]
    # Each poll asks from the bar after the last one emitted.
    assert exchange.fetches[:3] == [None, T0 + 2 * MINUTE, T0 + 3 * MINUTE]


async def test_feed_starts_at_since_and_skips_older_bars() -> None:
    exchange = ScriptedExchange([[row(0), row(1), row(2), row(3)], [row(3), row(4)]], history=5)
    feed = LiveBarFeed(
        exchange, "BTC/USDT", "1m", since_ms=T0 + 2 * MINUTE, clock_ms=lambda: exchange.now
    )
    assert [i for i, _ in await take(feed, 2)] == [2, 3]
    assert exchange.fetches == []  # no gap: nothing to backfill


async def test_non_retryable_errors_end_the_feed() -> None:
    exchange = ScriptedExchange([ccxt.AuthenticationError("bad key")], history=0)
    feed = LiveBarFeed(exchange, "BTC/USDT", "1m", clock_ms=lambda: exchange.now)
    with pytest.raises(AuthenticationFailed):
        await take(feed, 1)
