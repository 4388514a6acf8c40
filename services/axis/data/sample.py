"""Real market data bundled with the package, behind the demo command, examples and tests.

Samples (recorded exchange prices, not synthetic):

* ``BTC/USDT`` 5m spot, 2023-01-02 → 2023-02-09 (the 16.6k → 24.2k rally), gap-free;
* ten alt/BTC pairs 5m (ADA, DASH, ETC, ETH, LTC, NXT, TRX, XLM, XMR, ZEC), 2018-01-10 → 01-30;
* ``XRP/USDT:USDT`` perpetual: 5m and 1h contract candles, 1h and 8h mark price, 8h funding;
* ``XRP/ETH`` public trades (12,477 prints, 2019-10-11 → 10-13) and the exchange's 1m candles of
  the same period, for tick replay (:func:`sample_trades`, then :func:`axis.data.trade_bars`).

Symbols are in ccxt form (``BTC/USDT`` spot, ``XRP/USDT:USDT`` perpetual). A perpetual without
bundled candles does not fall back to spot here: the caller decides, via :func:`spot_proxy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from axis.data.bars import TICK_TIMEFRAME, Bars, FundingRates, timeframe_to_ms
from axis.data.errors import DataError
from axis.data.loader import load_bars, load_funding, parse_file_name
from axis.data.trades import Trades, load_trades

__all__ = [
    "SAMPLE_DIR",
    "SAMPLE_KINDS",
    "SampleInfo",
    "find_sample",
    "list_samples",
    "sample_bars",
    "sample_funding",
    "sample_trades",
    "spot_proxy",
]

SAMPLE_DIR: Path = Path(__file__).resolve().parent / "sample"
SAMPLE_KINDS: tuple[str, ...] = ("candles", "mark", "funding", "trades")


@dataclass(frozen=True, slots=True)
class SampleInfo:
    """One bundled series. ``start`` is the first bar's open time and ``end`` the exclusive end
    (last open + timeframe), both epoch ms, so ``bars.between(info.start, info.end)`` is all.

    A trades sample is described by the 1 ms tick bars it replays as (timeframe ``1ms``):
    ``bars`` counts the milliseconds with prints, fewer than the trades when some share one."""

    symbol: str
    timeframe: str
    kind: str
    path: Path
    bars: int
    start: int
    end: int


@lru_cache(maxsize=1)
def _catalog() -> dict[tuple[str, str, str], Path]:
    """(symbol, timeframe, kind) → file, from the file names alone (no file is read)."""
    found: dict[tuple[str, str, str], Path] = {}
    for path in sorted(SAMPLE_DIR.glob("*.csv.gz")):
        info = parse_file_name(path)
        if info is not None:
            found[(info.symbol, info.timeframe, info.kind)] = path
    return found


def _normalise_symbol(symbol: str) -> str:
    return symbol.strip().upper()


def spot_proxy(symbol: str) -> str:
    """The spot market behind a perpetual: ``BTC/USDT:USDT`` → ``BTC/USDT``.

    Spot candles track a liquid perpetual's closely (basis of a few basis points), which makes
    them a usable, documented stand-in when no perpetual candles exist; funding and mark price
    are then missing and must be modelled separately. Spot symbols are returned unchanged.
    """
    return _normalise_symbol(symbol).split(":", 1)[0]


def find_sample(symbol: str, timeframe: str, kind: str = "candles") -> Path | None:
    """The bundled file for a market, timeframe and kind, or None when there is none."""
    return _catalog().get((_normalise_symbol(symbol), timeframe, kind))


@lru_cache(maxsize=1)
def _sample_infos() -> tuple[SampleInfo, ...]:
    infos: list[SampleInfo] = []
    for (symbol, timeframe, kind), path in _catalog().items():
        if kind == "funding":
            funding = load_funding(path, symbol)
            ts = funding.timestamp
        else:
            # A trades file loads as its tick bars here, which is what the catalog describes.
            ts = load_bars(path, symbol, timeframe).timestamp
        end = int(ts[-1]) + timeframe_to_ms(timeframe)
        infos.append(SampleInfo(symbol, timeframe, kind, path, len(ts), int(ts[0]), end))
    return tuple(infos)


def list_samples() -> list[SampleInfo]:
    """Every bundled series with its size and period, sorted by file name."""
    return list(_sample_infos())


def _available(kind: str) -> str:
    # Funding and trades carry no timeframe a caller asks for: list the markets alone.
    entries = sorted(
        {
            s if kind in ("funding", "trades") else f"{s} {tf}"
            for (s, tf, k) in _catalog()
            if k == kind
        }
    )
    return ", ".join(entries) or "none"


def _check_kind(kind: str) -> None:
    if kind not in SAMPLE_KINDS:
        raise DataError(f"unknown sample kind {kind!r}; use one of {', '.join(SAMPLE_KINDS)}")


def _missing(symbol: str, timeframe: str, kind: str) -> DataError:
    sym = _normalise_symbol(symbol)
    what = f"{sym} {timeframe}" if kind not in ("funding", "trades") else sym
    message = f"no bundled {kind} sample for {what}"
    same_symbol = sorted(tf for (s, tf, k) in _catalog() if s == sym and k == kind)
    has_trades = any(s == sym and k == "trades" for (s, _tf, k) in _catalog())
    if kind == "candles" and timeframe == TICK_TIMEFRAME and has_trades:
        # Tick bars are built from the bundled trades rather than stored as candles.
        message += f"; {sym} trades are bundled: trade_bars(sample_trades({sym!r})) are 1ms bars"
    elif same_symbol:
        message += (
            f"; {sym} has {', '.join(same_symbol)} (derive coarser bars with axis.data.resample)"
        )
    elif kind == "candles" and ":" in sym and find_sample(spot_proxy(sym), timeframe):
        message += (
            f"; spot candles {spot_proxy(sym)} {timeframe} are bundled and can stand in "
            f"(spot_proxy({sym!r}))"
        )
    return DataError(f"{message}; available {kind}: {_available(kind)}")


def sample_bars(symbol: str, timeframe: str, kind: str = "candles") -> Bars:
    """Bundled candles (``kind="candles"``) or mark prices (``kind="mark"``) of a market."""
    _check_kind(kind)
    if kind == "funding":
        raise DataError("funding rates are not bars; use sample_funding(symbol)")
    if kind == "trades":
        raise DataError(
            "trades are not bars; use sample_trades(symbol), and trade_bars() for 1ms tick bars"
        )
    path = find_sample(symbol, timeframe, kind)
    if path is None:
        raise _missing(symbol, timeframe, kind)
    return load_bars(path, _normalise_symbol(symbol), timeframe)


def sample_funding(symbol: str) -> FundingRates:
    """Bundled funding-rate history of a perpetual, e.g. ``XRP/USDT:USDT`` (8h intervals)."""
    sym = _normalise_symbol(symbol)
    for (s, _tf, kind), path in _catalog().items():
        if s == sym and kind == "funding":
            return load_funding(path, sym)
    raise _missing(symbol, "", "funding")


def sample_trades(symbol: str) -> Trades:
    """Bundled public trades of a market, e.g. ``XRP/ETH``, in print order.

    ``trade_bars(sample_trades(symbol))`` replays them as 1 ms tick bars in a backtest.
    """
    sym = _normalise_symbol(symbol)
    for (s, _tf, kind), path in _catalog().items():
        if s == sym and kind == "trades":
            return load_trades(path, sym)
    raise _missing(symbol, "", "trades")
