"""Live exchange streams: closed bars (a BarFeed) and order updates for a CcxtVenue.

:class:`LiveBarFeed` yields each closed candle once, in time order: from ccxt pro's
``watch_ohlcv`` where the exchange has it, by polling ``fetch_ohlcv`` after each bar close
otherwise. A candle is closed once its period is over or a later candle exists. A dropped stream
reconnects with backoff and jitter; a gap between the last bar emitted and the next one seen
(after a reconnect, or a stream that skipped) is backfilled with ``fetch_ohlcv`` first.

:class:`OrderUpdates` keeps a venue's orders current between its own calls: ccxt pro's
``watch_orders`` where available, otherwise a poll of the venue's working orders by client
order id. Either way the venue turns what it learns into listener updates and fills.

:class:`PositionUpdates` keeps the account's latest positions (``watch_positions`` or a poll of
``fetch_positions``) for reconciliation and the position monitor to read without a REST call.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from axis.venues.base import ClosedBar, PositionReport
from axis.venues.ccxt_venue import CcxtVenue, RetryPolicy, closed_bars, position_from_ccxt
from axis.venues.errors import VenueError, classify

log = logging.getLogger(__name__)

_RECONNECT = RetryPolicy(attempts=0, base_delay=0.5, max_delay=30.0)
_MAX_BACKOFF_STEP = 8


def _wall_ms() -> int:
    return int(time.time() * 1000)


class Reconnects:
    """The reconnect rule every stream here shares: a retryable failure waits out a backoff
    that grows with consecutive failures; anything else ends the stream with its error."""

    def __init__(
        self,
        policy: RetryPolicy,
        sleep: Callable[[float], Awaitable[None]],
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.failures = 0  # consecutive, since the last success
        self.count = 0  # all reconnects

    def succeeded(self) -> None:
        self.failures = 0

    async def back_off(self, exc: Exception) -> VenueError:
        """Classify ``exc``; raise it when retrying cannot help, else sleep the backoff and
        return it (for the caller's log)."""
        error = exc if isinstance(exc, VenueError) else classify(exc)
        if not error.retryable:
            raise error from exc
        self.failures += 1
        self.count += 1
        await self._sleep(self.policy.delay(min(self.failures, _MAX_BACKOFF_STEP), self._rng))
        return error


class LiveBarFeed:
    """Closed bars of one symbol and timeframe from an exchange (ccxt async or pro instance)."""

    def __init__(
        self,
        exchange: Any,
        symbol: str,
        timeframe: str,
        *,
        since_ms: int | None = None,
        websocket: bool | None = None,
        backfill_limit: int = 500,
        close_grace_s: float = 1.0,
        reconnect: RetryPolicy = _RECONNECT,
        clock_ms: Callable[[], int] = _wall_ms,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.exchange = exchange
        self.symbol = symbol
        self.timeframe = timeframe
        self.period_ms = int(exchange.parse_timeframe(timeframe) * 1000)
        if websocket is None:
            websocket = bool(exchange.has.get("watchOHLCV"))
        self.websocket = websocket
        self.backfill_limit = backfill_limit
        self.close_grace_s = close_grace_s
        self._reconnect = Reconnects(reconnect, sleep, rng)
        self._clock = clock_ms
        self._sleep = sleep
        # The open time of the last bar emitted; bars at or before it are duplicates.
        self.last_ts: int | None = None if since_ms is None else since_ms - self.period_ms
        self.backfilled = 0
        self.unfilled_gaps = 0
        self._stopped = False

    def stop(self) -> None:
        self._stopped = True

    def __aiter__(self) -> AsyncIterator[ClosedBar]:
        return self._bars()

    @property
    def reconnects(self) -> int:
        return self._reconnect.count

    async def _bars(self) -> AsyncIterator[ClosedBar]:
        while not self._stopped:
            try:
                async for rows in self._batches():
                    self._reconnect.succeeded()
                    for bar in await self._closed(rows):
                        yield bar
                    if self._stopped:
                        return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = await self._reconnect.back_off(exc)
                log.warning("%s %s feed: %s; reconnected", self.symbol, self.timeframe, error)

    async def _batches(self) -> AsyncIterator[list[list[Any]]]:
        """OHLCV row batches: each websocket update, or one poll after each bar close."""
        while not self._stopped:
            if self.websocket:
                yield await self.exchange.watch_ohlcv(self.symbol, self.timeframe)
                continue
            since = None if self.last_ts is None else self.last_ts + self.period_ms
            yield await self.exchange.fetch_ohlcv(self.symbol, self.timeframe, since)
            now = self._clock()
            next_close = (now // self.period_ms + 1) * self.period_ms
            await self._sleep((next_close - now) / 1000 + self.close_grace_s)

    async def _closed(self, rows: list[list[Any]]) -> list[ClosedBar]:
        """The new closed bars in ``rows``, preceded by a backfill of any gap before them."""
        out: list[ClosedBar] = []
        for bar in closed_bars(self.symbol, self.timeframe, rows, self._clock()):
            if self.last_ts is not None and bar.timestamp <= self.last_ts:
                continue  # already emitted
            if self.last_ts is not None and bar.timestamp > self.last_ts + self.period_ms:
                out.extend(await self._backfill(bar.timestamp))
            out.append(bar)
            self.last_ts = bar.timestamp
        return out

    async def _backfill(self, until_ts: int) -> list[ClosedBar]:
        """The closed bars after the last one emitted and before ``until_ts``, from REST."""
        out: list[ClosedBar] = []
        while self.last_ts is not None and self.last_ts + self.period_ms < until_ts:
            since = self.last_ts + self.period_ms
            rows = await self.exchange.fetch_ohlcv(
                self.symbol, self.timeframe, since, self.backfill_limit
            )
            fresh = [
                bar
                for bar in closed_bars(self.symbol, self.timeframe, rows, self._clock())
                if self.last_ts < bar.timestamp < until_ts
            ]
            if not fresh:  # the exchange has nothing for the gap: move on, say so
                self.unfilled_gaps += 1
                log.warning(
                    "%s %s: no candles between %d and %d",
                    self.symbol,
                    self.timeframe,
                    since,
                    until_ts,
                )
                break
            out.extend(fresh)
            self.last_ts = fresh[-1].timestamp
            self.backfilled += len(fresh)
        return out


class OrderUpdates:
    """Keeps a venue's orders current: ``watch_orders`` where the exchange has it, else a poll
    of each working order by client order id every ``poll_interval_s``."""

    def __init__(
        self,
        venue: CcxtVenue,
        *,
        websocket: bool | None = None,
        poll_interval_s: float = 2.0,
        reconnect: RetryPolicy = _RECONNECT,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.venue = venue
        if websocket is None:
            websocket = bool(venue.exchange.has.get("watchOrders"))
        self.websocket = websocket
        self.poll_interval_s = poll_interval_s
        self._reconnect = Reconnects(reconnect, sleep, rng)
        self._sleep = sleep
        self._stopped = False

    @property
    def reconnects(self) -> int:
        return self._reconnect.count

    def stop(self) -> None:
        self._stopped = True

    async def run(self) -> None:
        while not self._stopped:
            try:
                await (self._watch() if self.websocket else self._poll())
                self._reconnect.succeeded()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._reconnect.back_off(exc)

    async def _watch(self) -> None:
        for raw in await self.venue.exchange.watch_orders():
            self.venue.apply_exchange_order(raw)

    async def _poll(self) -> None:
        for order in self.venue.open_orders():
            if order.exchange_order_id:  # acknowledged: a query can see it
                await self.venue.fetch_order(order.symbol, order.client_order_id)
        await self.venue.resolve_in_flight()
        await self._sleep(self.poll_interval_s)


class PositionUpdates:
    """The account's positions as the exchange last reported them, by symbol (flat ones
    dropped): ``watch_positions`` where the exchange has it, else ``fetch_positions`` every
    ``poll_interval_s``. ``updated_at_ms`` is when the snapshot last changed hands."""

    def __init__(
        self,
        venue: CcxtVenue,
        *,
        websocket: bool | None = None,
        poll_interval_s: float = 10.0,
        reconnect: RetryPolicy = _RECONNECT,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock_ms: Callable[[], int] = _wall_ms,
        rng: random.Random | None = None,
    ) -> None:
        self.venue = venue
        if websocket is None:
            websocket = bool(venue.exchange.has.get("watchPositions"))
        self.websocket = websocket
        self.poll_interval_s = poll_interval_s
        self._reconnect = Reconnects(reconnect, sleep, rng)
        self._sleep = sleep
        self._clock = clock_ms
        self.positions: dict[str, PositionReport] = {}
        self.updated_at_ms: int | None = None
        self._stopped = False

    @property
    def reconnects(self) -> int:
        return self._reconnect.count

    def stop(self) -> None:
        self._stopped = True

    async def run(self) -> None:
        while not self._stopped:
            try:
                if self.websocket:
                    self._apply(await self.venue.exchange.watch_positions(), replace=False)
                else:
                    reports = await self.venue.fetch_positions()
                    self.positions = {r.symbol: r for r in reports}
                    self.updated_at_ms = self._clock()
                    await self._sleep(self.poll_interval_s)
                self._reconnect.succeeded()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._reconnect.back_off(exc)

    def _apply(self, raw_positions: list[dict[str, Any]], replace: bool) -> None:
        """A stream update carries the positions that changed; a closed one comes as zero."""
        if replace:
            self.positions = {}
        for raw in raw_positions:
            report = position_from_ccxt(raw)
            if report is None:
                self.positions.pop(raw.get("symbol", ""), None)
            else:
                self.positions[report.symbol] = report
        self.updated_at_ms = self._clock()
