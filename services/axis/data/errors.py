"""The one exception type for market data a user supplied or asked for."""

from __future__ import annotations


class DataError(ValueError):
    """Bad or unavailable market data: a missing file, a malformed candle, an unknown sample.

    The message is ONE line that names the file (or symbol) and the problem, so the CLI can print
    it as is and exit with code 2, without a traceback.
    """
