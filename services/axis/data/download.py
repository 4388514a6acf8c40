"""Download historical candles from an exchange with ccxt into the package's gzip CSV format.

ccxt is imported when a download starts, not when :mod:`axis.data` is imported: it takes about a
second to load and most commands never touch the network.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from axis.data.bars import Bars, timeframe_to_ms
from axis.data.errors import DataError
from axis.data.loader import data_file_name, load_bars, write_bars
from axis.data.resample import bucket_open

__all__ = ["download_ohlcv"]

_OUTPUT_SUFFIXES = (".csv.gz", ".csv", ".parquet")
DEFAULT_PAGE_LIMIT = 1000  # Binance spot's maximum per request; most exchanges allow ≥ 500


def _reason(exc: BaseException) -> str:
    """One line saying why a request failed: ccxt's request line plus the root socket error.

    The intermediate requests/urllib3 wrappers repeat the URL several times; the deepest cause
    ("[Errno -2] Name or service not known", "timed out") is the part a user can act on.
    """
    text = " ".join(str(exc).split()) or type(exc).__name__
    root = exc
    seen = {id(exc)}
    while (nxt := root.__cause__ or root.__context__) is not None and id(nxt) not in seen:
        seen.add(id(nxt))
        root = nxt
    if root is not exc:
        detail = " ".join(str(root).split()) or type(root).__name__
        if detail not in text:
            text = f"{text}: {detail}"
    return text if len(text) <= 300 else text[:297] + "..."


def _make_client(exchange: str, timeout_s: float) -> Any:
    import ccxt

    exchange_id = exchange.strip().lower()
    if exchange_id not in ccxt.exchanges:
        close = difflib.get_close_matches(exchange_id, ccxt.exchanges, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise DataError(f"unknown exchange {exchange!r} (not a ccxt exchange id){hint}")
    cls = getattr(ccxt, exchange_id)
    return cls({"enableRateLimit": True, "timeout": int(timeout_s * 1000)})


def _fetch_page(
    client: Any, exchange: str, symbol: str, timeframe: str, since: int, limit: int
) -> list[list[Any]]:
    """One ``fetch_ohlcv`` call with every ccxt failure turned into a one-line DataError."""
    import ccxt

    try:
        rows: list[list[Any]] = client.fetch_ohlcv(symbol, timeframe, since=since, limit=limit)
    except ccxt.BadSymbol as exc:
        raise DataError(f"{exchange} has no market {symbol!r}: {_reason(exc)}") from None
    except (ccxt.RateLimitExceeded, ccxt.DDoSProtection) as exc:
        raise DataError(
            f"{exchange} rate-limited the download, retry later: {_reason(exc)}"
        ) from None
    except ccxt.NetworkError as exc:  # also RequestTimeout, ExchangeNotAvailable, DNS failures
        raise DataError(f"cannot reach {exchange} (no network access): {_reason(exc)}") from None
    except ccxt.AuthenticationError as exc:
        raise DataError(f"{exchange} requires API credentials: {_reason(exc)}") from None
    except ccxt.BaseError as exc:
        raise DataError(f"{exchange} refused the request: {_reason(exc)}") from None
    except OSError as exc:  # a socket error that slipped past ccxt's wrapping
        raise DataError(f"cannot reach {exchange} (no network access): {_reason(exc)}") from None
    return rows or []


def _to_bars(symbol: str, timeframe: str, rows: dict[int, list[Any]]) -> Bars:
    ordered = [rows[ts] for ts in sorted(rows)]
    table = np.array(
        [[float(v) if v is not None else np.nan for v in row[1:6]] for row in ordered],
        dtype=np.float64,
    ).reshape(len(ordered), 5)
    # Some exchanges omit volume (None) on quiet candles: no trades is zero volume.
    np.nan_to_num(table[:, 4], copy=False, nan=0.0)
    return Bars(
        symbol,
        timeframe,
        np.array(sorted(rows), dtype=np.int64),
        np.ascontiguousarray(table[:, 0]),
        np.ascontiguousarray(table[:, 1]),
        np.ascontiguousarray(table[:, 2]),
        np.ascontiguousarray(table[:, 3]),
        np.ascontiguousarray(table[:, 4]),
    )


def download_ohlcv(
    exchange: str,
    symbol: str,
    timeframe: str,
    start_ms: int | None,
    end_ms: int | None,
    out_path: str | os.PathLike[str],
    progress: bool = True,
    *,
    limit: int = DEFAULT_PAGE_LIMIT,
    timeout_s: float = 30.0,
) -> Path:
    """Download ``symbol`` candles from ``exchange`` (a ccxt id) and write a gzip CSV.

    Bars opening in ``[start_ms, end_ms)`` are fetched page by page (``since``/``limit``) with
    ccxt's rate limiter on. ``end_ms=None`` means now; the candle still forming is never
    written. ``start_ms=None`` means ``limit`` bars before the end. ``out_path`` may be a
    directory, in which case the conventional file name (``BTC_USDT-5m.csv.gz``) is used.

    The written file is re-read with :func:`load_bars`, so it is guaranteed to load. Every
    failure is a :class:`DataError`: unknown exchange or timeframe, unknown market, no network
    ("cannot reach binance (no network access): ...").
    """
    tf_ms = timeframe_to_ms(timeframe)
    if limit < 1:
        raise DataError(f"page limit must be at least 1, got {limit}")
    client = _make_client(exchange, timeout_s)
    supported = getattr(client, "timeframes", None) or {}
    if supported and timeframe not in supported:
        raise DataError(f"{exchange} has no {timeframe} candles; it offers {', '.join(supported)}")
    if not client.has.get("fetchOHLCV"):
        raise DataError(f"{exchange} does not serve historical candles through ccxt")

    now = int(client.milliseconds())
    forming = int(bucket_open(np.array([now]), timeframe)[0])  # open of the unfinished candle
    end = forming if end_ms is None else min(int(end_ms), forming)
    start = end - limit * tf_ms if start_ms is None else int(start_ms)
    if start >= end:
        raise DataError(
            f"empty download range for {symbol} {timeframe}: start {start} is not before end {end}"
        )

    out = Path(out_path)
    if out.is_dir() or str(out_path).endswith(("/", os.sep)):
        out = out / data_file_name(symbol, timeframe)
    if not out.name.lower().endswith(_OUTPUT_SUFFIXES):
        raise DataError(f"{out}: unknown output format; use .csv.gz, .csv or .parquet")

    rows: dict[int, list[Any]] = {}
    since = start
    total = math.ceil((end - start) / tf_ms)
    with _progress_bar(progress, f"{exchange} {symbol} {timeframe}", total) as advance:
        while since < end:
            page = _fetch_page(client, exchange, symbol, timeframe, since, limit)
            if not page:
                break
            for row in page:
                ts = int(row[0])
                if start <= ts < end:
                    rows[ts] = row
            last = int(page[-1][0])
            if last < since:  # the exchange ignored `since`: no further progress is possible
                break
            since = last + tf_ms
            advance((min(since, end) - start) // tf_ms)

    if not rows:
        raise DataError(
            f"{exchange} returned no {symbol} {timeframe} candles between {start} and {end} (ms)"
        )
    # Validate a side copy before it replaces anything: bad exchange data must not clobber a
    # good file from an earlier download.
    staged = out.with_name(f".partial-{out.name}")
    try:
        write_bars(_to_bars(symbol, timeframe, rows), staged)
        try:
            load_bars(staged, symbol, timeframe)
        except DataError as exc:
            raise DataError(f"{exchange} sent malformed candles: {exc}") from None
        os.replace(staged, out)
    except OSError as exc:
        raise DataError(f"{out}: cannot write file ({exc.strerror or exc})") from None
    finally:
        staged.unlink(missing_ok=True)
    return out


@contextmanager
def _progress_bar(enabled: bool, label: str, total_bars: int) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr counting bars; a no-op callback when progress is off."""
    if not enabled:
        yield lambda done: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), console=Console(stderr=True)) as bar:
        task = bar.add_task(label, total=max(1, total_bars))
        yield lambda done: bar.update(task, completed=done)
