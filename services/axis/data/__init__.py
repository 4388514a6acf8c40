"""Market data: loading and validating candle and trade files, bundled real samples, tick bars
from trades, resampling, block-bootstrapped long histories and exchange downloads.

Every problem a user can cause (a bad file, an unknown sample, no network) raises
:class:`DataError` with a one-line message naming the file or market and the problem.
"""

from axis.data.bars import (
    TICK_TIMEFRAME,
    TIMEFRAMES,
    Bars,
    FundingRates,
    timeframe_from_ms,
    timeframe_to_ms,
)
from axis.data.bootstrap import block_bootstrap
from axis.data.download import download_ohlcv
from axis.data.errors import DataError
from axis.data.loader import (
    FileNameInfo,
    data_file_name,
    gaps,
    load_bars,
    load_funding,
    parse_file_name,
    write_bars,
)
from axis.data.resample import bucket_open, resample
from axis.data.sample import (
    SAMPLE_DIR,
    SAMPLE_KINDS,
    SampleInfo,
    find_sample,
    list_samples,
    sample_bars,
    sample_funding,
    sample_trades,
    spot_proxy,
)
from axis.data.trades import Trades, load_trades, trade_bars

__all__ = [
    "SAMPLE_DIR",
    "SAMPLE_KINDS",
    "TICK_TIMEFRAME",
    "TIMEFRAMES",
    "Bars",
    "DataError",
    "FileNameInfo",
    "FundingRates",
    "SampleInfo",
    "Trades",
    "block_bootstrap",
    "bucket_open",
    "data_file_name",
    "download_ohlcv",
    "find_sample",
    "gaps",
    "list_samples",
    "load_bars",
    "load_funding",
    "load_trades",
    "parse_file_name",
    "resample",
    "sample_bars",
    "sample_funding",
    "sample_trades",
    "spot_proxy",
    "timeframe_from_ms",
    "timeframe_to_ms",
    "trade_bars",
    "write_bars",
]
