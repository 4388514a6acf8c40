"""The cache key scheme of the seed (§3.3) and its TTL rules.

``{category}:{exchange}:{symbol}:{data_type}`` for market data, ``user:{id}:{data_type}`` for a
user's data, plus the system keys (``regime:current``, ``quickfilter:*``) and the per-user
trading lock ``trading:lock:user:{id}``. Symbols are written the exchange way, ``BTCUSDT``,
and mean the USDT-settled linear perpetual (the seed trades futures); a spot market carries a
``-SPOT`` suffix so the two never share a key.

TTLs: real-time data lives collection period × 1.2, summaries × 1.5, user data 1 minute,
system state 1 hour, quick-filter state 15 minutes, locks 10 minutes.
"""

from __future__ import annotations

import re

USER_TTL_S = 60
SYSTEM_TTL_S = 3600
QUICKFILTER_TTL_S = 900
LOCK_TTL_S = 600

MARKET_TTL_FACTOR = 1.2
SUMMARY_TTL_FACTOR = 1.5

# Quote currencies recognised in compact symbols, longest first (FDUSD before USD...).
QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "BTC", "ETH", "BNB", "EUR", "USD")
_COMPACT = re.compile(r"^[A-Z0-9]{2,30}(-SPOT)?$")


class SymbolError(ValueError):
    """A market symbol that is neither ``BTCUSDT`` nor ccxt's ``BTC/USDT[:USDT]``."""


def market_ttl(collect_period_s: float) -> int:
    return int(collect_period_s * MARKET_TTL_FACTOR)


def summary_ttl(collect_period_s: float) -> int:
    return int(collect_period_s * SUMMARY_TTL_FACTOR)


def compact_symbol(ccxt_symbol: str) -> str:
    """``BTC/USDT:USDT`` → ``BTCUSDT``; spot ``BTC/USDT`` → ``BTCUSDT-SPOT``."""
    pair, _, settle = ccxt_symbol.partition(":")
    base, _, quote = pair.partition("/")
    if not base or not quote:
        raise SymbolError(f"{ccxt_symbol!r} is not a ccxt symbol such as BTC/USDT:USDT")
    return f"{base}{quote}" if settle else f"{base}{quote}-SPOT"


def ccxt_symbol(symbol: str) -> str:
    """The ccxt symbol of ``BTCUSDT`` (perpetual), ``BTCUSDT-SPOT``, or a ccxt symbol as is.
    A spot pair given the ccxt way stays spot."""
    text = symbol.strip().upper()
    if "/" in text:
        if not re.match(r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}(:[A-Z0-9]{1,20})?$", text):
            raise SymbolError(f"{symbol!r} is not a ccxt symbol such as BTC/USDT:USDT")
        return text
    if not _COMPACT.match(text):
        raise SymbolError(f"{symbol!r} is not a symbol such as BTCUSDT")
    spot = text.endswith("-SPOT")
    pair = text.removesuffix("-SPOT")
    for quote in QUOTES:
        if pair.endswith(quote) and len(pair) > len(quote):
            base = pair[: -len(quote)]
            return f"{base}/{quote}" if spot else f"{base}/{quote}:{quote}"
    raise SymbolError(f"{symbol!r}: unknown quote currency (known: {', '.join(QUOTES)})")


def perpetual_symbol(symbol: str) -> str:
    """The linear perpetual of any accepted spelling: a spot pair maps to its perpetual."""
    ccxt = ccxt_symbol(symbol)
    if ":" in ccxt:
        return ccxt
    quote = ccxt.split("/")[1]
    return f"{ccxt}:{quote}"


# -- market data (layer 1) --------------------------------------------------------------------
def market(exchange: str, symbol: str, data_type: str) -> str:
    return f"market:{exchange}:{compact_symbol(ccxt_symbol(symbol))}:{data_type}"


def market_ohlcv(exchange: str, symbol: str, timeframe: str) -> str:
    return market(exchange, symbol, f"ohlcv_{timeframe}")


def market_indicators(exchange: str, symbol: str, timeframe: str = "15m") -> str:
    # The seed's key has no timeframe: it holds the 15m indicators. Others are suffixed.
    suffix = "" if timeframe == "15m" else f"_{timeframe}"
    return market(exchange, symbol, f"indicators{suffix}")


def market_funding(exchange: str, symbol: str) -> str:
    return market(exchange, symbol, "funding")


def market_price_change(exchange: str, symbol: str) -> str:
    return market(exchange, symbol, "price_change_15m")


def market_mark(exchange: str, symbol: str) -> str:
    """Last price and its time, ``{"price": float, "as_of": iso}``: what paper fills use."""
    return market(exchange, symbol, "mark")


# -- contextual summaries (layer 2) -----------------------------------------------------------
NEWS_SUMMARY = "news:summary"
SOCIAL_SUMMARY = "social:summary"
ONCHAIN_SUMMARY = "onchain:summary"


# -- user data (layer 3) ----------------------------------------------------------------------
def user(user_id: int, data_type: str) -> str:
    return f"user:{user_id}:{data_type}"


def user_positions(user_id: int) -> str:
    return user(user_id, "positions")


def user_margin_ratio(user_id: int) -> str:
    return user(user_id, "margin_ratio")


def user_total_value(user_id: int) -> str:
    return user(user_id, "total_value")


def user_has_open_position(user_id: int) -> str:
    return user(user_id, "has_open_position")


def user_account(user_id: int) -> str:
    """What authorisation needs per request: active flag, risk profile, TOTP, trading state."""
    return user(user_id, "account")


def user_keys(user_id: int) -> tuple[str, ...]:
    """Every key that holds a view of the user's account (invalidated on each change)."""
    return (
        user_positions(user_id),
        user_margin_ratio(user_id),
        user_total_value(user_id),
        user_has_open_position(user_id),
        user_account(user_id),
    )


# -- system state -----------------------------------------------------------------------------
REGIME_CURRENT = "regime:current"
REGIME_HISTORY_24H = "regime:history:24h"
QUICKFILTER_LAST_ANALYSIS = "quickfilter:last_analysis_time"
QUICKFILTER_LAST_REASON = "quickfilter:last_trigger_reason"


# -- locks and limits -------------------------------------------------------------------------
def trading_lock(user_id: int) -> str:
    """Held for one trading cycle of a user (value: the execution id)."""
    return f"trading:lock:user:{user_id}"


def rate_limit(scope: str, subject: str, window: int) -> str:
    return f"ratelimit:{scope}:{subject}:{window}"


# -- event streams ----------------------------------------------------------------------------
STREAM_FILLS = "events:fills"
STREAM_ORDERS = "events:orders"
STREAM_DECISIONS = "events:decisions"
STREAM_ALERTS = "events:alerts"
STREAM_TRIGGERS = "events:trading_triggers"
STREAM_STRATEGIES = "events:strategies"
STREAMS = (
    STREAM_FILLS,
    STREAM_ORDERS,
    STREAM_DECISIONS,
    STREAM_ALERTS,
    STREAM_TRIGGERS,
    STREAM_STRATEGIES,
)
