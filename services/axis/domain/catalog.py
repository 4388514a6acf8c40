"""Built-in instrument definitions and fee schedules for simulation.

Live venues load instruments from the exchange (ccxt ``load_markets``); backtests need them
without a network. The figures below are the exchanges' published regular-user (VIP 0) fees
and the precision/minimums of the main markets; an unknown symbol gets a generic definition
with fine precision so a user's own data still runs.
"""

from __future__ import annotations

import math

from axis.domain.enums import Exchange, MarketType
from axis.domain.instrument import Instrument, InstrumentError
from axis.domain.liquidation import default_brackets

# (maker, taker) per exchange and market type, VIP 0.
FEES: dict[Exchange, dict[MarketType, tuple[float, float]]] = {
    Exchange.BINANCE: {
        MarketType.SPOT: (0.001, 0.001),
        MarketType.LINEAR_PERPETUAL: (0.0002, 0.0005),
    },
    Exchange.OKX: {
        MarketType.SPOT: (0.0008, 0.001),
        MarketType.LINEAR_PERPETUAL: (0.0002, 0.0005),
    },
    Exchange.GATE: {
        MarketType.SPOT: (0.002, 0.002),
        MarketType.LINEAR_PERPETUAL: (0.00015, 0.0005),
    },
    Exchange.BYBIT: {
        MarketType.SPOT: (0.001, 0.001),
        MarketType.LINEAR_PERPETUAL: (0.0002, 0.00055),
    },
}

# symbol → (tick size, lot size, min notional) on Binance, the reference venue.
_PRECISION: dict[str, tuple[float, float, float]] = {
    "BTC/USDT": (0.01, 0.00001, 5.0),
    "BTC/USDT:USDT": (0.1, 0.001, 100.0),
    "ETH/USDT": (0.01, 0.0001, 5.0),
    "ETH/USDT:USDT": (0.01, 0.001, 20.0),
    "XRP/USDT": (0.0001, 0.1, 5.0),
    "XRP/USDT:USDT": (0.0001, 0.1, 5.0),
}


def parse_fee_model(model: str, exchange: Exchange, market_type: MarketType) -> tuple[float, float]:
    """(maker, taker) for ``--fee-model``: an exchange name, ``zero``, or ``MAKER/TAKER``
    fractions such as ``0.0002/0.0005``."""
    name = model.strip().lower()
    if name in ("", "default"):
        return FEES[exchange][market_type]
    if name == "zero":
        return 0.0, 0.0
    if "/" in name:
        maker_text, _, taker_text = name.partition("/")
        try:
            maker, taker = float(maker_text), float(taker_text)
        except ValueError:
            raise InstrumentError(f"fee model {model!r}: expected MAKER/TAKER fractions") from None
        if not (-0.01 <= maker <= 0.05 and 0 <= taker <= 0.05):
            raise InstrumentError(f"fee model {model!r}: fees must be fractions, e.g. 0.0005")
        return maker, taker
    try:
        return FEES[Exchange(name)][market_type]
    except ValueError:
        choices = ", ".join(e.value for e in Exchange)
        raise InstrumentError(
            f"unknown fee model {model!r}; use one of {choices}, zero, or MAKER/TAKER"
        ) from None


def instrument_for(
    symbol: str,
    exchange: Exchange = Exchange.BINANCE,
    *,
    fee_model: str = "default",
    reference_price: float | None = None,
) -> Instrument:
    """The instrument for ``symbol`` on ``exchange``. A symbol with a settle part
    (``BTC/USDT:USDT``) is a linear perpetual; otherwise spot."""
    if "/" not in symbol:
        raise InstrumentError(f"symbol {symbol!r} must look like BASE/QUOTE or BASE/QUOTE:SETTLE")
    market_type = MarketType.LINEAR_PERPETUAL if ":" in symbol else MarketType.SPOT
    maker, taker = parse_fee_model(fee_model, exchange, market_type)
    if symbol in _PRECISION:
        tick, lot, min_notional = _PRECISION[symbol]
    else:
        tick, lot, min_notional = _generic_precision(reference_price)
    base = symbol.split("/")[0]
    return Instrument(
        symbol=symbol,
        exchange=exchange,
        market_type=market_type,
        tick_size=tick,
        lot_size=lot,
        min_notional=min_notional,
        maker_fee=maker,
        taker_fee=taker,
        brackets=default_brackets(exchange, base) if market_type is not MarketType.SPOT else (),
    )


def _generic_precision(price: float | None) -> tuple[float, float, float]:
    """Six significant digits of price and a lot worth about a millionth of a unit of value."""
    if price is None or not price > 0:
        return 1e-8, 1e-8, 0.0
    magnitude = math.floor(math.log10(price))
    tick = 10.0 ** (magnitude - 5)
    lot = min(max(10.0 ** (-magnitude - 3), 1e-8), 1.0)
    return tick, lot, 0.0
