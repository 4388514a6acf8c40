"""Futures math for linear (USDT-settled) perpetuals: margin, PnL, funding and risk distance.

Every function here is a scalar over plain floats, compiled with ``numba.njit`` so that the
per-event engine (Python) and the vectorised backtest kernels (numba) share one definition of
each rule. Conventions:

- ``side`` is +1 for a long and -1 for a short (a float or an int).
- ``quantity`` is the absolute position size in base units (contracts x contract size); it is
  always positive.
- Money is in the settlement currency (USDT).
"""

from __future__ import annotations

import math

from numba import njit


@njit(cache=True)
def notional(quantity: float, price: float) -> float:
    """Position value in the settlement currency: |quantity| x price."""
    return abs(quantity) * price


@njit(cache=True)
def initial_margin(quantity: float, price: float, leverage: float) -> float:
    """Margin needed to open ``quantity`` at ``price`` with ``leverage`` (notional / leverage)."""
    return abs(quantity) * price / leverage


@njit(cache=True)
def maintenance_margin(quantity: float, price: float, mmr: float, maint_amount: float) -> float:
    """Margin the exchange requires to keep a position open: notional x MMR - maintenance
    amount (Binance "cum", Bybit "MM deduction", Gate "deduction")."""
    return abs(quantity) * price * mmr - maint_amount


@njit(cache=True)
def unrealized_pnl(side: float, quantity: float, entry_price: float, mark_price: float) -> float:
    """Profit or loss of an open position marked at ``mark_price`` (positive is a gain)."""
    return side * abs(quantity) * (mark_price - entry_price)


@njit(cache=True)
def funding_payment(side: float, quantity: float, mark_price: float, rate: float) -> float:
    """Cash the position receives at one funding settlement (negative when it pays).

    Longs pay shorts when the rate is positive: the payment is -side x quantity x mark x rate.
    The caller multiplies the contract size into ``quantity``.
    """
    return -side * abs(quantity) * mark_price * rate


@njit(cache=True)
def margin_balance(
    collateral: float, side: float, quantity: float, entry_price: float, mark_price: float
) -> float:
    """Equity that backs a position: its collateral plus its unrealised PnL at the mark."""
    return collateral + side * abs(quantity) * (mark_price - entry_price)


@njit(cache=True)
def margin_ratio(balance: float, maintenance: float) -> float:
    """Binance's margin ratio: maintenance requirement / margin balance.

    At 1.0 or above the position (or cross account) is liquidated; an empty or negative balance
    gives inf, because any requirement then exceeds what backs the position.
    """
    if balance <= 0.0:
        return math.inf
    return maintenance / balance


@njit(cache=True)
def bankruptcy_price(side: float, quantity: float, entry_price: float, collateral: float) -> float:
    """Mark price at which the position's margin balance reaches zero (0% margin level).

    Exchanges settle a liquidated position at this price and Bybit charges its estimated
    closing fee on it. A long backed by more than its notional has no positive bankruptcy
    price; 0.0 is returned then (the price cannot go lower).
    """
    q = abs(quantity)
    if q <= 0.0:
        return math.nan
    price = entry_price - side * collateral / q
    return price if price > 0.0 else 0.0


@njit(cache=True)
def liquidation_distance(mark_price: float, liquidation_price: float) -> float:
    """How far the mark is from liquidation, as a fraction of the mark: |mark - liq| / mark.

    A liquidation price that is nan or <= 0 means the position cannot be liquidated (an
    over-collateralised long, or an exchange showing "--"/"0"); the distance is then inf.
    """
    if math.isnan(liquidation_price) or liquidation_price <= 0.0:
        return math.inf
    if mark_price <= 0.0:
        return math.nan
    return abs(mark_price - liquidation_price) / mark_price
