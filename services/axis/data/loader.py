"""Load candles and funding rates from CSV, gzip CSV or Parquet files, and validate them.

The file format (see the data README): a header row, ``timestamp`` (candle open time, epoch ms,
UTC), ``open, high, low, close`` in the quote currency, ``volume`` in the base currency (absent
in mark-price files). Funding files hold ``timestamp, funding_rate``. Public trade files hold
``timestamp, id, side, price, amount``; :func:`load_bars` replays them as 1 ms tick bars.

Every problem a user can cause raises :class:`DataError` with one line naming the file, the
problem and the first offending line (CSV) or row (Parquet) with its timestamp.
"""

from __future__ import annotations

import gzip
import io
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from axis.data.bars import (
    OHLCV_COLUMNS,
    TICK_TIMEFRAME,
    TIMEFRAMES,
    Bars,
    FundingRates,
    timeframe_from_ms,
    timeframe_to_ms,
)
from axis.data.errors import DataError

__all__ = [
    "FileNameInfo",
    "data_file_name",
    "gaps",
    "load_bars",
    "load_funding",
    "parse_file_name",
    "write_bars",
]

_PRICE_COLUMNS = ("open", "high", "low", "close")
_FUNDING_COLUMNS = ("timestamp", "funding_rate")
_PARQUET_MAGIC = b"PAR1"
_GZIP_MAGIC = b"\x1f\x8b"
_SUFFIXES = (".csv.gz", ".csv", ".parquet", ".pq", ".gz")
# 1e14 ms is the year 5138: anything above is micro- or nanoseconds, a common export mistake.
_MAX_EPOCH_MS = 10**14
_NAN_WORDS = frozenset({"nan", "na", "n/a", "null", "none", "-nan"})

# BASE_QUOTE-5m, BASE_QUOTE_SETTLE-5m-futures or BASE_QUOTE-trades (ccxt symbol with "/" and
# ":" made "_"). Trades have no timeframe in their name: they load as 1 ms tick bars.
_NAME_RE = re.compile(
    r"^(?P<market>[A-Za-z0-9]+(?:_[A-Za-z0-9]+){1,2})-"
    r"(?:(?P<trades>trades)|(?P<tf>[0-9]+(?:ms|[a-zA-Z]))(?:-(?P<kind>\w+))?)$"
)
_KIND_FROM_SUFFIX = {
    None: "candles",
    "futures": "candles",
    "mark": "mark",
    "funding_rate": "funding",
}
_SUFFIX_FROM_KIND = {"candles": "", "mark": "-mark", "funding": "-funding_rate", "trades": ""}


# --------------------------------------------------------------------------- file names


@dataclass(frozen=True, slots=True)
class FileNameInfo:
    """What a data file's name says: ccxt symbol, timeframe and kind (candles, mark, funding,
    trades). A trades file's timeframe is ``1ms``, the tick bars it loads as."""

    symbol: str
    timeframe: str
    kind: str


def _stem(path: Path) -> str:
    name = path.name
    for suffix in _SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def parse_file_name(path: str | os.PathLike[str]) -> FileNameInfo | None:
    """Read symbol, timeframe and kind from a name like ``XRP_USDT_USDT-5m-futures.csv.gz``
    or ``XRP_ETH-trades.csv.gz`` (kind ``trades``, timeframe ``1ms``).

    Returns None when the name does not follow the convention.
    """
    match = _NAME_RE.match(_stem(Path(path)))
    if match is None or match["kind"] not in _KIND_FROM_SUFFIX:
        return None
    parts = match["market"].split("_")
    symbol = f"{parts[0]}/{parts[1]}" + (f":{parts[2]}" if len(parts) == 3 else "")
    if match["trades"]:
        return FileNameInfo(symbol, TICK_TIMEFRAME, "trades")
    return FileNameInfo(symbol, match["tf"], _KIND_FROM_SUFFIX[match["kind"]])


def data_file_name(symbol: str, timeframe: str, kind: str = "candles", ext: str = ".csv.gz") -> str:
    """The conventional file name for a market: ``BTC/USDT:USDT`` 5m → ``BTC_USDT_USDT-5m-futures``.

    Perpetual candles get the ``-futures`` suffix, spot candles none. Trades are named
    ``BASE_QUOTE-trades`` whatever the timeframe.
    """
    if kind not in _SUFFIX_FROM_KIND:
        raise DataError(f"unknown data kind {kind!r}; use candles, mark, funding or trades")
    stem = symbol.replace("/", "_").replace(":", "_")
    if kind == "trades":
        return f"{stem}-trades{ext}"
    suffix = _SUFFIX_FROM_KIND[kind]
    if kind == "candles" and ":" in symbol:
        suffix = "-futures"
    return f"{stem}-{timeframe}{suffix}{ext}"


# --------------------------------------------------------------------------- reading


class _Where:
    """Names a data row the way the user will find it: a CSV line number or a Parquet row."""

    def __init__(self, path: Path, is_csv: bool) -> None:
        self.path = path
        self.is_csv = is_csv
        self.timestamp: np.ndarray | None = None

    def place(self, i: int) -> str:
        # Header is line 1, so data row i (0-based) sits on line i + 2.
        return f"line {i + 2}" if self.is_csv else f"row {i + 1}"

    def row(self, i: int) -> str:
        """The place plus the bar's timestamp once timestamps are known to be valid."""
        if self.timestamp is None:
            return self.place(i)
        return f"{self.place(i)} (timestamp {int(self.timestamp[i])})"

    def error(self, problem: str) -> DataError:
        return DataError(f"{self.path}: {problem}")


def _sniff(path: Path) -> str:
    """'parquet', 'gzip' or 'csv' from the file's first bytes, so misnamed files still load."""
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a data file")
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if not head:
        raise DataError(f"{path}: file is empty")
    if head == _PARQUET_MAGIC:
        return "parquet"
    return "gzip" if head[:2] == _GZIP_MAGIC else "csv"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] or type(exc).__name__


def _normalise(name: object) -> str:
    return str(name).replace("\ufeff", "").strip().lower()


def _check_columns(
    where: _Where, found: Sequence[object], required: Sequence[str]
) -> dict[str, str]:
    """Map each required column to its name in the file (case and spaces ignored)."""
    by_norm: dict[str, str] = {}
    for name in found:
        by_norm.setdefault(_normalise(name), str(name))
    missing = [c for c in required if c not in by_norm]
    if missing:
        shown = ", ".join(str(c) for c in found[:10]) or "none"
        if found and all(_looks_numeric(str(c)) for c in found):
            raise where.error(f"has no header row; the first line must be {','.join(required)}")
        plural = "s" if len(missing) > 1 else ""
        raise where.error(f"missing column{plural} {', '.join(missing)} (found columns: {shown})")
    return by_norm


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_frame(
    path: Path, required: Sequence[str], optional: Sequence[str], text: Sequence[str] = ()
) -> tuple[pd.DataFrame, _Where]:
    """Read the wanted columns, renamed to their canonical lower-case names.

    Columns named in ``text`` (a trade's side) are read as strings, the others as numbers.
    """
    fmt = _sniff(path)
    if fmt == "parquet":
        return _read_parquet(path, required, optional)
    where = _Where(path, is_csv=True)
    compression: Literal["gzip"] | None = "gzip" if fmt == "gzip" else None
    try:
        header = pd.read_csv(path, nrows=0, compression=compression)
    except pd.errors.EmptyDataError:
        raise where.error("file is empty") from None
    except (UnicodeDecodeError, pd.errors.ParserError, OSError, EOFError) as exc:
        raise where.error(f"not a readable CSV or Parquet file ({_one_line(exc)})") from None
    names = [str(c) for c in header.columns]
    if not all(n.replace("\ufeff", "").isprintable() for n in names):
        raise where.error("not a readable CSV or Parquet file (binary content)")
    by_norm = _check_columns(where, names, required)
    wanted = [c for c in (*required, *optional) if c in by_norm]
    usecols = [by_norm[c] for c in wanted]
    rename = {by_norm[c]: c for c in wanted}
    dtypes = {
        by_norm[c]: ("int64" if c == "timestamp" else "str" if c in text else "float64")
        for c in wanted
    }
    try:
        # No usecols: with it pandas silently accepts rows with extra fields, which usually
        # means shifted values. Extra columns in the header are fine and simply dropped.
        frame = pd.read_csv(path, dtype=dtypes, compression=compression)
    except pd.errors.ParserError as exc:
        raise where.error(f"malformed CSV ({_one_line(exc)})") from None
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        raise where.error(f"not a readable CSV file ({_one_line(exc)})") from None
    except (ValueError, OverflowError, TypeError):
        # The fast typed parse failed on some cell; re-read as text to name the cell exactly.
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, compression=compression)
    return frame[usecols].rename(columns=rename), where


def _read_parquet(
    path: Path, required: Sequence[str], optional: Sequence[str]
) -> tuple[pd.DataFrame, _Where]:
    where = _Where(path, is_csv=False)
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException) as exc:  # ArrowInvalid is a ValueError
        raise where.error(f"unreadable Parquet file ({_one_line(exc)})") from None
    # pandas writes a named index as a column; a frame saved with timestamp as index is fine.
    if "timestamp" not in {_normalise(c) for c in frame.columns} and frame.index.name:
        frame = frame.reset_index()
    by_norm = _check_columns(where, list(frame.columns), required)
    wanted = [c for c in (*required, *optional) if c in by_norm]
    frame = frame[[by_norm[c] for c in wanted]]
    frame.columns = pd.Index(wanted)
    return frame, where


def _describe_bad_cell(raw: object) -> str:
    if raw is None or (isinstance(raw, float) and np.isnan(raw)):
        return "empty cell"
    text = str(raw).strip()
    if not text:
        return "empty cell"
    if text.lower() in _NAN_WORDS:
        return f"NaN value {text!r}"
    return f"non-numeric value {text!r}"


def _to_numeric(frame: pd.DataFrame, where: _Where) -> dict[str, np.ndarray]:
    """Columns as int64 timestamps and float64 values; the earliest bad cell raises."""
    out: dict[str, np.ndarray] = {}
    problems: list[tuple[int, str]] = []
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_datetime64_any_dtype(col.dtype):
            # Parquet may carry real datetimes; keep the format's epoch-ms convention.
            if isinstance(col.dtype, pd.DatetimeTZDtype):
                col = col.dt.tz_convert("UTC").dt.tz_localize(None)
            values = col.to_numpy().astype("datetime64[ms]").astype(np.int64)
        elif pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col):
            values = col.to_numpy(dtype=np.float64 if name != "timestamp" else None, copy=True)
        else:
            numeric = pd.to_numeric(col.astype("string").str.strip(), errors="coerce")
            bad = np.flatnonzero(numeric.isna().to_numpy())
            if len(bad):
                i = int(bad[0])
                problems.append((i, f"{_describe_bad_cell(col.iloc[i])} in column {name!r}"))
                continue
            values = numeric.to_numpy(dtype=np.float64, copy=True)
        if values.dtype.kind == "f":
            bad = np.flatnonzero(~np.isfinite(values))
            if len(bad):
                i = int(bad[0])
                kind = "empty or NaN value" if np.isnan(values[i]) else "infinite value"
                problems.append((i, f"{kind} in column {name!r}"))
                continue
        out[name] = values
    if problems:
        i, problem = min(problems)
        raise where.error(f"{problem} at {where.row(i)}")
    ts = out["timestamp"]
    if ts.dtype.kind == "f":
        frac = np.flatnonzero(ts != np.floor(ts))
        if len(frac):
            raise where.error(
                f"timestamp {_num(ts[frac[0]])} at {where.row(int(frac[0]))} is not a whole "
                "number of milliseconds"
            )
    out["timestamp"] = np.ascontiguousarray(ts, dtype=np.int64)
    return out


def _check_timestamps(ts: np.ndarray, where: _Where, *, strict: bool = True) -> None:
    """Epoch-ms timestamps in order: strictly increasing for bars; ``strict=False`` lets equal
    timestamps through (several trades can print in the same millisecond)."""
    if len(ts) == 0:
        raise where.error("has a header but no data rows")
    out_of_range = np.flatnonzero((ts < 0) | (ts >= _MAX_EPOCH_MS))
    if len(out_of_range):
        i = int(out_of_range[0])
        hint = " (it looks like micro- or nanoseconds)" if ts[i] > 0 else ""
        raise where.error(
            f"timestamp {int(ts[i])} at {where.place(i)} is not epoch milliseconds{hint}"
        )
    step = np.diff(ts)
    bad = np.flatnonzero(step <= 0 if strict else step < 0)
    if len(bad):
        i = int(bad[0]) + 1
        if step[i - 1] == 0:
            raise where.error(
                f"duplicate timestamp {int(ts[i])} at {where.place(i)} "
                f"(same as {where.place(i - 1)})"
            )
        raise where.error(
            f"timestamps not sorted: {int(ts[i])} at {where.place(i)} comes after "
            f"{int(ts[i - 1])} at {where.place(i - 1)}"
        )


def _num(value: float) -> str:
    """A price as the file wrote it (shortest repr), not numpy's ``np.float64(...)``."""
    return repr(float(value))


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


def _check_ohlcv(col: dict[str, np.ndarray], where: _Where) -> None:
    """Candle sanity: positive prices, high ≥ max(open, close) ≥ min(open, close) ≥ low."""
    o, h, lo, c, v = col["open"], col["high"], col["low"], col["close"], col["volume"]
    checks: list[tuple[Callable[[], np.ndarray], Callable[[int], str]]] = [
        (
            lambda: (o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0),
            lambda i: (
                "non-positive price "
                + next(f"{n}={_num(col[n][i])}" for n in _PRICE_COLUMNS if col[n][i] <= 0)
            ),
        ),
        (lambda: h < lo, lambda i: f"high {_num(h[i])} < low {_num(lo[i])}"),
        (
            lambda: h < np.maximum(o, c),
            lambda i: f"high {_num(h[i])} below max(open, close) = {_num(max(o[i], c[i]))}",
        ),
        (
            lambda: lo > np.minimum(o, c),
            lambda i: f"low {_num(lo[i])} above min(open, close) = {_num(min(o[i], c[i]))}",
        ),
        (lambda: v < 0, lambda i: f"negative volume {_num(v[i])}"),
    ]
    for mask, describe in checks:
        i = _first(mask())
        if i is not None:
            raise where.error(f"{describe(i)} at {where.row(i)}")


def _resolve_timeframe(
    ts: np.ndarray, timeframe: str | None, from_name: str | None, where: _Where
) -> str:
    if timeframe is not None:
        if timeframe not in TIMEFRAMES:
            raise where.error(
                f"unknown timeframe {timeframe!r}; use one of {', '.join(TIMEFRAMES)}"
            )
        return timeframe
    if from_name is not None:
        if from_name not in TIMEFRAMES:
            raise where.error(
                f"unknown timeframe {from_name!r} in the file name; "
                f"use one of {', '.join(TIMEFRAMES)}"
            )
        return from_name
    if len(ts) < 2:
        raise where.error("cannot infer the timeframe from a single bar; pass timeframe=")
    spacing = int(np.median(np.diff(ts)))
    inferred = timeframe_from_ms(spacing)
    if inferred is None:
        hint = " (timestamps look like seconds)" if timeframe_from_ms(spacing * 1000) else ""
        raise where.error(
            f"cannot infer the timeframe: median bar spacing is {spacing} ms{hint}; pass timeframe="
        )
    return inferred


def _check_spacing(ts: np.ndarray, timeframe: str, where: _Where) -> None:
    """Bars closer together than their timeframe mean the file or the timeframe is wrong."""
    tf_ms = timeframe_to_ms(timeframe)
    i = _first(np.diff(ts) < tf_ms)
    if i is not None:
        gap = int(ts[i + 1] - ts[i])
        hint = " (timestamps look like seconds)" if gap * 1000 == tf_ms else ""
        raise where.error(
            f"bars only {gap} ms apart at {where.row(i + 1)}, shorter than the {timeframe} "
            f"timeframe{hint}"
        )


def _is_trades_file(path: Path) -> bool:
    """Whether the file holds trade prints (``price``, no OHLC columns) rather than candles.

    Any problem reading the header answers False: the candle path then reports it properly.
    """
    try:
        fmt = _sniff(path)
        if fmt == "parquet":
            names: Sequence[object] = pq.read_schema(path).names
        else:
            compression: Literal["gzip"] | None = "gzip" if fmt == "gzip" else None
            names = list(pd.read_csv(path, nrows=0, compression=compression).columns)
    except (DataError, ValueError, OSError, EOFError, UnicodeDecodeError, pa.ArrowException):
        return False
    found = {_normalise(name) for name in names}
    return "price" in found and not found & set(_PRICE_COLUMNS)


def _load_trade_bars(path: Path, symbol: str | None, timeframe: str | None) -> Bars:
    # Imported here: axis.data.trades builds on this module's readers.
    from axis.data.resample import resample
    from axis.data.trades import load_trades, trade_bars

    if timeframe is not None and timeframe not in TIMEFRAMES:
        raise DataError(
            f"{path}: unknown timeframe {timeframe!r}; use one of {', '.join(TIMEFRAMES)}"
        )
    ticks = trade_bars(load_trades(path, symbol))
    if timeframe is None or timeframe == ticks.timeframe:
        return ticks
    return resample(ticks, timeframe)


def load_bars(
    path: str | os.PathLike[str], symbol: str | None = None, timeframe: str | None = None
) -> Bars:
    """Load and validate candles from a CSV, gzip CSV or Parquet file.

    ``symbol`` and ``timeframe`` default to what the file name says (``BTC_USDT-5m.csv.gz`` is
    BTC/USDT 5m); a name outside the convention gives its stem as the symbol and the timeframe
    from the median bar spacing. A missing ``volume`` column (mark prices) loads as zeros.
    Gaps in time are allowed; list them with :func:`gaps`.

    A public trades file (``timestamp, id, side, price, amount``, recognised by its columns)
    loads as 1 ms tick bars, ``trade_bars(load_trades(path))``, so backtests replay the prints
    through the bar matching. Given a coarser ``timeframe`` the ticks are resampled to it
    (the first and last, partly covered, candles dropped, as :func:`resample` does).
    """
    path = Path(path)
    if _is_trades_file(path):
        return _load_trade_bars(path, symbol, timeframe)
    frame, where = _read_frame(path, OHLCV_COLUMNS[:5], ("volume",))
    col = _to_numeric(frame, where)
    ts = col["timestamp"]
    _check_timestamps(ts, where)
    where.timestamp = ts
    if "volume" not in col:
        col["volume"] = np.zeros(len(ts), dtype=np.float64)
    _check_ohlcv(col, where)
    named = parse_file_name(path)
    tf = _resolve_timeframe(ts, timeframe, named.timeframe if named else None, where)
    _check_spacing(ts, tf, where)
    return Bars(
        symbol=symbol or (named.symbol if named else _stem(path)),
        timeframe=tf,
        timestamp=ts,
        open=col["open"],
        high=col["high"],
        low=col["low"],
        close=col["close"],
        volume=col["volume"],
    )


def load_funding(path: str | os.PathLike[str], symbol: str | None = None) -> FundingRates:
    """Load and validate funding rates (columns ``timestamp, funding_rate``).

    Rates are fractions per funding interval (0.0001 = 0.01 %); negative rates are valid
    (shorts pay longs).
    """
    path = Path(path)
    frame, where = _read_frame(path, _FUNDING_COLUMNS, ())
    col = _to_numeric(frame, where)
    _check_timestamps(col["timestamp"], where)
    named = parse_file_name(path)
    return FundingRates(
        symbol=symbol or (named.symbol if named else _stem(path)),
        timestamp=col["timestamp"],
        rate=col["funding_rate"],
    )


# --------------------------------------------------------------------------- writing, gaps


def write_bars(bars: Bars, path: str | os.PathLike[str]) -> Path:
    """Write bars in the file format: ``.csv``, ``.csv.gz`` or ``.parquet``.

    The file appears atomically (written aside, then renamed), so an interrupted download
    never leaves a truncated file that looks complete.
    """
    path = Path(path)
    name = path.name.lower()
    if not name.endswith((".parquet", ".pq", ".csv", ".gz")):
        raise DataError(f"{path}: unknown output format; use .csv, .csv.gz or .parquet")
    table = pa.table({column: getattr(bars, column) for column in OHLCV_COLUMNS})
    tmp = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith((".parquet", ".pq")):
            pq.write_table(table, tmp)
        else:
            # Arrow writes floats in shortest round-trip form, ~10x faster than DataFrame.to_csv.
            buf = io.BytesIO()
            buf.write((",".join(OHLCV_COLUMNS) + "\n").encode())
            options = pacsv.WriteOptions(include_header=False, quoting_style="none")
            pacsv.write_csv(table, buf, options)
            data = buf.getvalue()
            if name.endswith(".gz"):
                # mtime=0 keeps the bytes reproducible: same bars, same file.
                data = gzip.compress(data, compresslevel=6, mtime=0)
            tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise DataError(f"{path}: cannot write file ({exc.strerror or exc})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def gaps(bars: Bars) -> list[tuple[int, int]]:
    """Missing stretches as ``(first_missing_open_ms, next_bar_open_ms)``, half-open.

    Each range covers ``(end - start) // bars.timeframe_ms`` missing bars. Old or illiquid
    markets often skip candles with no trades, so gaps are reported, not rejected.
    """
    tf_ms = bars.timeframe_ms
    ts = bars.timestamp
    idx = np.flatnonzero(np.diff(ts) > tf_ms)
    return [(int(ts[i]) + tf_ms, int(ts[i + 1])) for i in idx]
