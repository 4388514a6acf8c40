"""Market data for the API: candles, indicators and the last price, cache first.

The collector (the worker) writes the seed's keys: ``market:{exchange}:{SYMBOL}:ohlcv_{tf}``
holds ccxt-style candles ``[[ms, open, high, low, close, volume], ...]`` and ``...:indicators``
the latest indicator values. On a miss this module reads the ``market_data`` table; when that
has nothing for the market and ``paper_bundled_prices`` is on (the embedded default), the
bundled real sample stands in (resampled to the timeframe), marked ``source: bundled_sample``.
Whatever was loaded is cached with the seed's TTL (collection period × 1.2).

Rendering a response is memoised per cached value: the cache is read on every request (the
hit rate is real), but 200 candles are turned into JSON objects once per new value.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from axis.api.context import ApiContext, dumps
from axis.data import Bars, DataError, resample, timeframe_to_ms
from axis.data.sample import find_sample, sample_bars, spot_proxy
from axis.indicators import adx, bollinger, macd, rsi
from axis.observability.metrics import cache_requests_total
from axis.store.cache import keys
from axis.store.records import MarketDataRepository

CANDLES = 200
API_TIMEFRAMES = ("5m", "15m", "1h", "4h", "1d")


class NoMarketData(LookupError):
    """Nothing stored, cached or bundled for a market."""


@dataclass(frozen=True, slots=True)
class Quote:
    price: float
    as_of: datetime
    source: str  # cache | database | bundled_sample

    def age_s(self, now: datetime) -> float:
        return (now - self.as_of).total_seconds()


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def _bundled_bars(symbol: str, timeframe: str) -> Bars | None:
    """The bundled sample of ``symbol`` (or its spot market) at ``timeframe``."""
    for candidate in dict.fromkeys((symbol, spot_proxy(symbol))):
        for source_tf in (timeframe, "5m", "1h"):
            if find_sample(candidate, source_tf) is None:
                continue
            bars = sample_bars(candidate, source_tf)
            if source_tf == timeframe:
                return bars
            if timeframe_to_ms(source_tf) < timeframe_to_ms(timeframe):
                try:
                    return resample(bars, timeframe)
                except DataError:
                    continue
    return None


def indicator_values(close: np.ndarray, high: np.ndarray, low: np.ndarray) -> dict[str, Any]:
    """The seed's indicator block from TA-Lib over the candles (None while warming up)."""

    def last(values: np.ndarray) -> float | None:
        value = float(values[-1]) if len(values) else math.nan
        return round(value, 8) if math.isfinite(value) else None

    if len(close) == 0:
        return {"rsi": None, "macd": None, "adx": None, "bollinger": None}
    line, signal, hist = macd(close)
    upper, middle, lower = bollinger(close)
    return {
        "rsi": last(rsi(close)),
        "macd": {"macd": last(line), "signal": last(signal), "histogram": last(hist)},
        "adx": last(adx(high, low, close)),
        "bollinger": {"upper": last(upper), "middle": last(middle), "lower": last(lower)},
    }


class _Rendered:
    """A small LRU of rendered responses keyed by the cached bytes they came from."""

    def __init__(self, size: int = 256) -> None:
        self._items: OrderedDict[tuple[str, bytes, bytes | None], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, key: tuple[str, bytes, bytes | None]) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[str, bytes, bytes | None], value: bytes) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class MarketService:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self._rendered = _Rendered()

    # -- loading ------------------------------------------------------------------------------
    def _load_rows(
        self, exchange: str, symbol: str, timeframe: str
    ) -> tuple[list[list[float]], str] | None:
        with self.ctx.db.session() as session:
            rows = MarketDataRepository(session).latest(exchange, symbol, timeframe, CANDLES)
        if rows:
            return [
                [
                    int(r.time.timestamp() * 1000),
                    float(r.open),
                    float(r.high),
                    float(r.low),
                    float(r.close),
                    float(r.volume),
                ]
                for r in rows
            ], "database"
        if not self.ctx.settings.paper_bundled_prices:
            return None
        bars = _bundled_bars(symbol, timeframe)
        if bars is None:
            return None
        tail = slice(max(len(bars) - CANDLES, 0), len(bars))
        candles = np.column_stack(
            [
                bars.timestamp[tail].astype(np.float64),
                bars.open[tail],
                bars.high[tail],
                bars.low[tail],
                bars.close[tail],
                bars.volume[tail],
            ]
        ).tolist()
        for candle in candles:
            candle[0] = int(candle[0])
        return candles, "bundled_sample"

    def _load_candles(self, exchange: str, symbol: str, timeframe: str) -> tuple[bytes, float]:
        """Candles from the database (or the bundle), cached with the seed's TTL."""
        loaded = self._load_rows(exchange, symbol, timeframe)
        if loaded is None:
            raise NoMarketData(f"no market data for {symbol} {timeframe} on {exchange}")
        candles, source = loaded
        raw = dumps(candles)
        ttl_s = float(self.ctx.settings.market_ttl_s)
        self.ctx.cache.set(keys.market_ohlcv(exchange, symbol, timeframe), raw, ttl_s)
        self.ctx.cache.set(
            keys.market(exchange, symbol, f"source_{timeframe}"), source.encode(), ttl_s
        )
        return raw, ttl_s

    @staticmethod
    def _indicators(candles: bytes) -> bytes:
        rows = np.asarray(json.loads(candles), dtype=np.float64).reshape(-1, 6)
        return dumps(indicator_values(rows[:, 4], rows[:, 2], rows[:, 3]))

    # -- responses ----------------------------------------------------------------------------
    def response(
        self,
        exchange: str,
        symbol: str,
        timeframe: str,
        include_indicators: bool,
        cached_only: bool = False,
    ) -> bytes | None:
        """The response body. A warm cache answers in one round trip (candles, indicators,
        source and the candles' TTL together). ``cached_only``: None instead of touching the
        database (the event loop asks first; only a miss goes to a worker thread)."""
        names = [
            keys.market_ohlcv(exchange, symbol, timeframe),
            keys.market_indicators(exchange, symbol, timeframe),
            keys.market(exchange, symbol, f"source_{timeframe}"),
        ]
        (candles, ind, source), ttl, result = self.ctx.cache.lookup_many(names)
        if cached_only and (candles is None or (include_indicators and ind is None)):
            return None
        cache_requests_total.labels(kind="market_ohlcv", result=result).inc()
        if candles is None:
            candles, ttl = self._load_candles(exchange, symbol, timeframe)
            source = self.ctx.cache.get(names[2])
        if include_indicators:
            indicator_result = (
                "hit" if ind is not None else ("error" if result == "error" else "miss")
            )
            cache_requests_total.labels(kind="market_indicators", result=indicator_result).inc()
            if ind is None:
                ind = self._indicators(candles)
                self.ctx.cache.set(names[1], ind, self.ctx.settings.market_ttl_s)
        else:
            ind = None
        now = self.ctx.now()
        full = float(self.ctx.settings.market_ttl_s)
        age = max(full - ttl, 0.0) if ttl is not None else 0.0
        # cached_at to the second: responses of one cached value stay byte-identical.
        cached_at = (now - timedelta(seconds=age)).replace(microsecond=0)
        memo_key = (f"{exchange}|{symbol}|{timeframe}|{cached_at.isoformat()}", candles, ind)
        rendered = self._rendered.get(memo_key)
        if rendered is not None:
            return rendered
        body = {
            "symbol": keys.compact_symbol(symbol),
            "exchange": exchange,
            "timeframe": timeframe,
            "cached_at": cached_at.isoformat().replace("+00:00", "Z"),
            "source": source.decode() if source else "cache",
            "ohlcv": [
                {
                    "timestamp": _iso(int(c[0])),
                    "open": c[1],
                    "high": c[2],
                    "low": c[3],
                    "close": c[4],
                    "volume": c[5],
                }
                for c in json.loads(candles)
            ],
            "indicators": json.loads(ind) if ind is not None else None,
        }
        rendered = dumps(body)
        self._rendered.put(memo_key, rendered)
        return rendered

    # -- last price ---------------------------------------------------------------------------
    def _store_quote(
        self, exchange: str, symbol: str, price: float, as_of: datetime, source: str
    ) -> None:
        value = dumps({"price": price, "as_of": as_of.isoformat(), "source": source})
        self.ctx.cache.set(
            keys.market_mark(exchange, symbol), value, self.ctx.settings.market_ttl_s
        )

    def quote(self, exchange: str, symbol: str) -> Quote:
        """The last price of a market: cache, else the newest stored candle, else the bundle."""
        raw, result = self.ctx.cache.lookup(keys.market_mark(exchange, symbol))
        cache_requests_total.labels(kind="market_mark", result=result).inc()
        if raw is not None:
            return _quote(raw)
        with self.ctx.db.session() as session:
            row = MarketDataRepository(session).last(exchange, symbol)
        if row is not None:
            as_of = row.time + timedelta(milliseconds=timeframe_to_ms(row.timeframe))
            self._store_quote(exchange, symbol, float(row.close), as_of, "database")
            return Quote(float(row.close), as_of, "database")
        if self.ctx.settings.paper_bundled_prices:
            bars = _bundled_bars(symbol, "5m") or _bundled_bars(symbol, "1h")
            if bars is not None and len(bars):
                ts = int(bars.timestamp[-1])
                as_of = _close_time(ts, bars.timeframe)
                self._store_quote(exchange, symbol, float(bars.close[-1]), as_of, "bundled_sample")
                return Quote(float(bars.close[-1]), as_of, "bundled_sample")
        raise NoMarketData(f"no price for {symbol} on {exchange}")

    def quotes(self, exchange_symbols: list[tuple[str, str]]) -> dict[tuple[str, str], Quote]:
        """Several quotes with one cache round trip for those cached."""
        unique = list(dict.fromkeys(exchange_symbols))
        raws = self.ctx.cache.get_many([keys.market_mark(e, s) for e, s in unique])
        out: dict[tuple[str, str], Quote] = {}
        for (exchange, symbol), raw in zip(unique, raws):
            if raw is not None:
                cache_requests_total.labels(kind="market_mark", result="hit").inc()
                out[(exchange, symbol)] = _quote(raw)
            else:
                out[(exchange, symbol)] = self.quote(exchange, symbol)
        return out


def _quote(raw: bytes) -> Quote:
    """A cached quote; a price written by a collector without a source is a live one."""
    data = json.loads(raw)
    as_of = datetime.fromisoformat(data["as_of"])
    return Quote(float(data["price"]), as_of, str(data.get("source") or "cache"))


def _close_time(open_ms: int | float, timeframe: str) -> datetime:
    return datetime.fromtimestamp((int(open_ms) + timeframe_to_ms(timeframe)) / 1000, UTC)
