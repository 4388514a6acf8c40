"""Public trades (the tape) and their replay as 1 ms tick bars.

A trade print is a bar whose open, high, low and close are its price and whose volume is its
amount, so the bar-based venue matches against ticks with no new matching code. Exchanges often
print several trades in the same millisecond (one taker order sweeping several makers); those
become one bar (first price open, highest high, lowest low, last price close, summed amount)
so bar timestamps stay strictly increasing.

File format (see the data README): a header row, ``timestamp`` (epoch ms, UTC), ``id``
(optional, ignored), ``side`` (``buy`` or ``sell``: the taker's side), ``price`` in the quote
currency, ``amount`` in the base currency. Several trades may share a timestamp; timestamps
must never go backwards.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from axis.data.bars import TICK_TIMEFRAME, Bars
from axis.data.errors import DataError
from axis.data.loader import (
    _check_timestamps,
    _first,
    _num,
    _read_frame,
    _stem,
    _to_numeric,
    _Where,
    parse_file_name,
)

__all__ = ["Trades", "load_trades", "trade_bars"]

_TRADE_COLUMNS = ("timestamp", "side", "price", "amount")
_SIDES = {"buy": 1, "sell": -1}


@dataclass(frozen=True, slots=True)
class Trades:
    """Public trades of one market, in print order.

    ``timestamp`` is int64 epoch ms (non-decreasing; equal within a millisecond), ``price``
    (quote currency) and ``amount`` (base currency) float64, ``side`` int8: +1 when the taker
    bought (lifted the ask), -1 when the taker sold (hit the bid).
    """

    symbol: str
    timestamp: np.ndarray
    price: np.ndarray
    amount: np.ndarray
    side: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.timestamp)
        for name in ("price", "amount", "side"):
            if len(getattr(self, name)) != n:
                raise DataError(
                    f"{self.symbol} trades: column {name!r} has {len(getattr(self, name))} "
                    f"values but there are {n} timestamps"
                )

    def __len__(self) -> int:
        return len(self.timestamp)

    def between(self, start_ms: int | None, end_ms: int | None) -> Trades:
        """Trades printed in ``[start_ms, end_ms)``; None leaves that side open (numpy views)."""
        lo = 0 if start_ms is None else int(np.searchsorted(self.timestamp, start_ms, "left"))
        hi = len(self) if end_ms is None else int(np.searchsorted(self.timestamp, end_ms, "left"))
        hi = max(hi, lo)
        return Trades(
            self.symbol,
            self.timestamp[lo:hi],
            self.price[lo:hi],
            self.amount[lo:hi],
            self.side[lo:hi],
        )


def _parse_side(raw: pd.Series, where: _Where) -> np.ndarray:
    """``buy``/``sell`` (any case, spaces ignored) as +1/-1; anything else names its line."""
    words = raw.astype("string").str.strip().str.lower()
    buy = words.eq("buy").fillna(False).to_numpy(dtype=bool)
    sell = words.eq("sell").fillna(False).to_numpy(dtype=bool)
    i = _first(~(buy | sell))
    if i is not None:
        cell = raw.iloc[i]
        text = "" if pd.isna(cell) else str(cell).strip()
        # pandas reads "", "NaN", "null" ... as missing, so their spelling is gone by now.
        if not text:
            raise where.error(f"empty or NaN value in column 'side' at {where.row(i)}")
        raise where.error(f"unknown side {text!r} at {where.row(i)}; use buy or sell")
    return np.where(buy, 1, -1).astype(np.int8)


def load_trades(path: str | os.PathLike[str], symbol: str | None = None) -> Trades:
    """Load and validate public trades from a CSV, gzip CSV or Parquet file.

    ``symbol`` defaults to what the file name says (``XRP_ETH-trades.csv.gz`` is XRP/ETH), else
    the file's stem. Every problem raises :class:`DataError` with one line naming the file, the
    problem and the first offending line.
    """
    path = Path(path)
    frame, where = _read_frame(path, _TRADE_COLUMNS, (), text=("side",))
    col = _to_numeric(frame.drop(columns="side"), where)
    ts = col["timestamp"]
    # Equal timestamps are normal on the tape; going back in time is not.
    _check_timestamps(ts, where, strict=False)
    where.timestamp = ts
    price, amount = col["price"], col["amount"]
    i = _first((price <= 0) | (amount <= 0))
    if i is not None:
        name, value = ("price", price[i]) if price[i] <= 0 else ("amount", amount[i])
        raise where.error(f"non-positive {name} {_num(value)} at {where.row(i)}")
    side = _parse_side(frame["side"], where)
    named = parse_file_name(path)
    return Trades(
        symbol=symbol or (named.symbol if named else _stem(path)),
        timestamp=ts,
        price=price,
        amount=amount,
        side=side,
    )


def trade_bars(trades: Trades) -> Bars:
    """The trades as 1 ms tick bars: one bar per millisecond with prints, volume in base units.

    A lone trade is a flat bar at its price; same-millisecond trades merge into one bar (first
    price open, max high, min low, last price close, summed amount), in print order.
    """
    ts = np.asarray(trades.timestamp, dtype=np.int64)
    price = np.asarray(trades.price, dtype=np.float64)
    amount = np.asarray(trades.amount, dtype=np.float64)
    step = np.diff(ts)
    back = _first(step < 0)
    if back is not None:
        raise DataError(
            f"{trades.symbol} trades: timestamps not sorted: {int(ts[back + 1])} comes after "
            f"{int(ts[back])} (trade {back + 1})"
        )
    if len(ts) == 0:
        empty = np.empty(0, dtype=np.float64)
        return Bars(
            trades.symbol,
            TICK_TIMEFRAME,
            np.empty(0, dtype=np.int64),
            empty,
            empty.copy(),
            empty.copy(),
            empty.copy(),
            empty.copy(),
        )
    # Each run of equal timestamps is one bar; reduceat folds every run in one pass.
    starts = np.flatnonzero(np.r_[True, step != 0])
    lasts = np.r_[starts[1:], len(ts)] - 1
    return Bars(
        trades.symbol,
        TICK_TIMEFRAME,
        np.ascontiguousarray(ts[starts]),
        np.ascontiguousarray(price[starts]),
        np.maximum.reduceat(price, starts),
        np.minimum.reduceat(price, starts),
        np.ascontiguousarray(price[lasts]),
        np.add.reduceat(amount, starts),
    )
