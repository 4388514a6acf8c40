"""Liquidation price of a one-way linear (USDT-settled) perpetual position, per exchange.

Each exchange liquidates when the margin balance that backs a position falls to its
maintenance requirement, marked at the mark price. They differ in what the requirement holds:

======== =========================================================== ========================
exchange requirement at mark price P                                  bracket (tier) chosen at
======== =========================================================== ========================
Binance  q*P*mmr - cum                                                notional at liquidation
OKX      q*P*mmr + q*P*taker_fee (liquidation fee)                    position size (entry)
Gate     q*P*(mmr + taker_fee) - deduction                            notional at liquidation
Bybit    q*EP*mmr - deduction + q*bankruptcy_price*taker_fee          position value at entry
======== =========================================================== ========================

with q the size in base units, EP the entry price and the margin balance
``collateral + side*q*(P - EP)``. ``collateral`` is the margin that backs the position: the
isolated margin in isolated mode; in cross mode the wallet balance minus the maintenance
margin of the account's other positions plus their unrealised PnL (Binance's
"WB - TMM1 + UPNL1"). The formula is the same in both modes; only that meaning changes.

Convention for "cannot be liquidated": nan. A long whose liquidation price would be <= 0 (it is
backed by more than its notional) and invalid input (no size, no price) give nan, which
:func:`axis.domain.futures.liquidation_distance` turns into an infinite distance. A short is
always liquidatable; a short whose collateral is so negative that it is under water at every
price (an insolvent cross account) gives 0.0, so a ``mark >= liquidation`` trigger fires at
once.

The numba cores take integer exchange codes (:data:`BINANCE` ... :data:`BYBIT`) so that a
compiled backtest kernel can call :func:`liquidation_price_core` or the tier-aware
:func:`liquidation_price_tiered`; :func:`liquidation_price` is the Python entry point over an
:class:`~axis.domain.instrument.Instrument`.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numba import njit
from numpy.typing import NDArray

from axis.domain.enums import Exchange, MarginMode
from axis.domain.futures import bankruptcy_price
from axis.domain.instrument import Instrument, LeverageBracket, brackets_from_tiers

# Integer exchange codes for the numba cores (an Enum cannot cross into nopython code).
BINANCE = 0
OKX = 1
GATE = 2
BYBIT = 3

_CODES: dict[Exchange, int] = {
    Exchange.BINANCE: BINANCE,
    Exchange.OKX: OKX,
    Exchange.GATE: GATE,
    Exchange.BYBIT: BYBIT,
}

# Relative slack when checking that a liquidation price's notional lies in the tier it was
# solved with: at a tier boundary both tiers give the same price (maintenance margin is
# continuous there), so float noise must not make both checks fail.
_TIER_EPS = 1e-9


def exchange_code(exchange: Exchange) -> int:
    """The integer code of ``exchange`` for the numba cores."""
    return _CODES[exchange]


# -- scalar cores -----------------------------------------------------------------------------
@njit(cache=True)
def _finish(side: float, price: float) -> float:
    """Apply the "cannot be liquidated" convention to a solved price (see the module doc)."""
    if math.isnan(price) or math.isinf(price):
        return math.nan
    if price > 0.0:
        return price
    return math.nan if side > 0.0 else 0.0


@njit(cache=True)
def _solve_mark_based(
    side: float, quantity: float, entry_price: float, collateral: float, rate: float, amount: float
) -> float:
    """The mark price P where collateral + side*q*(P - EP) = q*P*rate - amount.

    ``rate`` is everything the requirement charges per unit of notional at the mark (MMR, plus
    the closing fee where the exchange counts it) and ``amount`` the maintenance amount.
    """
    q = abs(quantity)
    if q <= 0.0 or entry_price <= 0.0 or side == 0.0:
        return math.nan
    denominator = q * (rate - side)
    # A long needs rate < 1: otherwise the requirement grows as fast as the balance and no
    # falling price separates them.
    if side > 0.0 and denominator >= 0.0:
        return math.nan
    return _finish(side, (collateral + amount - side * q * entry_price) / denominator)


@njit(cache=True)
def binance_liquidation_price(
    side: float, quantity: float, entry_price: float, collateral: float, mmr: float, cum: float
) -> float:
    """Binance USDⓈ-M, one-way mode ("BOTH" position).

    LP = (WB - TMM1 + UPNL1 + cumB - Side*Position*EP) / (Position*MMR - Side*Position), from
    Binance's FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts"; isolated
    mode sets TMM1 = UPNL1 = 0 and WB to the isolated wallet balance. Binance counts no fee.
    """
    return _solve_mark_based(side, quantity, entry_price, collateral, mmr, cum)


@njit(cache=True)
def okx_liquidation_price(
    side: float,
    quantity: float,
    entry_price: float,
    collateral: float,
    mmr: float,
    maint_amount: float,
    taker_fee: float,
) -> float:
    """OKX USDT-margined swap.

    OKX liquidates when the margin ratio (margin + UPL) / (maintenance margin + liquidation
    fee) falls to 100%, with maintenance margin = position value at the mark x MMR and the
    fee = position value x taker fee rate (OKX help: "Tiered maintenance margin ratio rules",
    "Isolated margin mode"). OKX applies one tier's MMR to the whole position, so its tables
    carry no maintenance amount; ``maint_amount`` is honoured if a table has one.
    """
    return _solve_mark_based(side, quantity, entry_price, collateral, mmr + taker_fee, maint_amount)


@njit(cache=True)
def gate_liquidation_price(
    side: float,
    quantity: float,
    entry_price: float,
    collateral: float,
    mmr: float,
    deduction: float,
    taker_fee: float,
) -> float:
    """Gate USDT-margined perpetual.

    Gate's published formula: LP = (EP -/+ margin / multiplier / size) / (1 -/+ (MMR + taker
    fee rate)), long subtracting, short adding. Since the July 2025 risk-limit upgrade the
    maintenance margin is tiered progressively (the next tier's MMR applies only above the
    previous limit), i.e. notional x MMR - deduction, so the deduction enters like Binance's
    cum.
    """
    return _solve_mark_based(side, quantity, entry_price, collateral, mmr + taker_fee, deduction)


@njit(cache=True)
def bybit_liquidation_price(
    side: float,
    quantity: float,
    entry_price: float,
    collateral: float,
    mmr: float,
    mm_deduction: float,
    taker_fee: float,
) -> float:
    """Bybit USDT perpetual.

    Bybit's help page "Liquidation Price (USDT Contract)": LP(long) = EP - (IM - MM)/size -
    extra margin/size, LP(short) = EP + (IM - MM)/size + extra margin/size, with position
    value = size x entry price and MM = position value x MMR - MM deduction. Bybit also keeps
    the estimated fee to close (size x bankruptcy price x taker fee) in the maintenance margin
    (its positionMM field); ``collateral`` stands for IM plus any extra margin.
    """
    q = abs(quantity)
    if q <= 0.0 or entry_price <= 0.0 or side == 0.0:
        return math.nan
    closing_fee = q * bankruptcy_price(side, q, entry_price, collateral) * taker_fee
    maintenance = q * entry_price * mmr - mm_deduction + closing_fee
    return _finish(side, entry_price - side * (collateral - maintenance) / q)


@njit(cache=True)
def liquidation_price_core(
    exchange_code: int,
    side: float,
    quantity: float,
    entry_price: float,
    collateral: float,
    mmr: float,
    maint_amount: float,
    taker_fee: float,
) -> float:
    """Liquidation price on ``exchange_code`` for one bracket's ``mmr`` and ``maint_amount``.

    ``taker_fee`` is ignored on Binance (its formula has no fee). Returns nan for an unknown
    exchange code or when the position cannot be liquidated.
    """
    if exchange_code == BINANCE:
        return binance_liquidation_price(side, quantity, entry_price, collateral, mmr, maint_amount)
    if exchange_code == OKX:
        return okx_liquidation_price(
            side, quantity, entry_price, collateral, mmr, maint_amount, taker_fee
        )
    if exchange_code == GATE:
        return gate_liquidation_price(
            side, quantity, entry_price, collateral, mmr, maint_amount, taker_fee
        )
    if exchange_code == BYBIT:
        return bybit_liquidation_price(
            side, quantity, entry_price, collateral, mmr, maint_amount, taker_fee
        )
    return math.nan


@njit(cache=True)
def maintenance_requirement_core(
    exchange_code: int,
    side: float,
    quantity: float,
    entry_price: float,
    mark_price: float,
    collateral: float,
    mmr: float,
    maint_amount: float,
    taker_fee: float,
) -> float:
    """What ``exchange_code`` requires the margin balance to stay above at ``mark_price``.

    The position is liquidated once its margin balance is at or below this; the liquidation
    price is where the two meet. Terms per exchange are in the module docstring.
    """
    q = abs(quantity)
    if exchange_code == BINANCE:
        return q * mark_price * mmr - maint_amount
    if exchange_code == OKX:
        return q * mark_price * (mmr + taker_fee) - maint_amount
    if exchange_code == GATE:
        return q * mark_price * (mmr + taker_fee) - maint_amount
    if exchange_code == BYBIT:
        closing_fee = q * bankruptcy_price(side, q, entry_price, collateral) * taker_fee
        return q * entry_price * mmr - maint_amount + closing_fee
    return math.nan


@njit(cache=True)
def _tiers_by_entry(exchange_code: int) -> bool:
    """Whether the exchange keeps the tier of the entry (OKX: contracts; Bybit: entry value)
    rather than the tier of the notional at the liquidation price (Binance, Gate)."""
    if exchange_code == OKX:
        return True
    return exchange_code == BYBIT


@njit(cache=True)
def _tier_at(notional: float, caps: NDArray[np.float64]) -> int:
    """Index of the tier holding ``notional`` (a floor belongs to its tier; beyond the last cap
    the last tier applies)."""
    for i in range(caps.shape[0]):
        if notional < caps[i]:
            return i
    return int(caps.shape[0]) - 1


@njit(cache=True)
def liquidation_price_tiered(
    exchange_code: int,
    side: float,
    quantity: float,
    entry_price: float,
    collateral: float,
    caps: NDArray[np.float64],
    mmrs: NDArray[np.float64],
    maint_amounts: NDArray[np.float64],
    taker_fee: float,
) -> float:
    """Liquidation price with the bracket chosen as the exchange documents it.

    ``caps``/``mmrs``/``maint_amounts`` describe contiguous brackets from notional 0 (each
    floor is the previous cap).

    - Binance and Gate grade the requirement by the position's notional at the mark, so the
      bracket is the one that holds the notional *at the liquidation price*. Binance's FAQ:
      "If your position (calculated at the liquidation price) and the current position
      (calculated at the opening price) are of different levels, ... calculate at the
      liquidation price". Each bracket is tried and the one whose own solution falls inside
      it wins; with continuous maintenance margin (the cum rule) exactly one does.
    - OKX tiers by position size in contracts, which a price move does not change, and
      Bybit's formula values the position at the entry price, so both take the bracket at the
      entry notional.
    """
    q = abs(quantity)
    n_tiers = caps.shape[0]
    if n_tiers == 0:
        return liquidation_price_core(
            exchange_code, side, q, entry_price, collateral, 0.0, 0.0, taker_fee
        )
    if _tiers_by_entry(exchange_code):
        i = _tier_at(q * entry_price, caps)
        return liquidation_price_core(
            exchange_code, side, q, entry_price, collateral, mmrs[i], maint_amounts[i], taker_fee
        )
    first = liquidation_price_core(
        exchange_code, side, q, entry_price, collateral, mmrs[0], maint_amounts[0], taker_fee
    )
    # The requirement grows with the notional no faster than the balance moves, so a long
    # that survives a price of ~0 in the lowest tier survives everywhere.
    if math.isnan(first):
        return first
    for i in range(n_tiers):
        price = liquidation_price_core(
            exchange_code, side, q, entry_price, collateral, mmrs[i], maint_amounts[i], taker_fee
        )
        if math.isnan(price):
            continue
        floor = 0.0 if i == 0 else caps[i - 1]
        cap = math.inf if i == n_tiers - 1 else caps[i]
        notional = q * price
        if floor * (1.0 - _TIER_EPS) <= notional <= cap * (1.0 + _TIER_EPS):
            return price
    # No bracket agrees with its own solution: the table's maintenance margin jumps at a
    # boundary (amounts not derived by the cum rule). Fall back to the bracket at entry.
    i = _tier_at(q * entry_price, caps)
    return liquidation_price_core(
        exchange_code, side, q, entry_price, collateral, mmrs[i], maint_amounts[i], taker_fee
    )


# -- Python entry point -----------------------------------------------------------------------
@lru_cache(maxsize=256)
def _bracket_arrays(
    brackets: tuple[LeverageBracket, ...],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Brackets as (caps, mmrs, maint_amounts) arrays for the numba core, built once per
    table."""
    caps = np.array([b.notional_cap for b in brackets], dtype=np.float64)
    mmrs = np.array([b.maint_margin_rate for b in brackets], dtype=np.float64)
    amounts = np.array([b.maint_amount for b in brackets], dtype=np.float64)
    for array in (caps, mmrs, amounts):
        array.setflags(write=False)
    return caps, mmrs, amounts


def liquidation_price(
    instrument: Instrument,
    side: int,
    quantity: float,
    entry_price: float,
    collateral: float,
    margin_mode: MarginMode = MarginMode.ISOLATED,
) -> float:
    """Mark price at which ``instrument``'s exchange liquidates a one-way position.

    ``side`` is +1 long / -1 short, ``quantity`` the size in base units (contracts x contract
    size) and ``collateral`` the isolated margin (isolated) or the cross collateral
    "WB - TMM1 + UPNL1" (cross). The bracket is picked as :func:`liquidation_price_tiered`
    documents; the instrument's taker fee prices the closing fee where the exchange counts
    one. Returns nan for a spot instrument, a flat position or one that cannot be liquidated.
    """
    if margin_mode is MarginMode.ISOLATED and collateral < 0.0:
        raise ValueError(f"isolated margin cannot be negative: {collateral}")
    if not instrument.is_perpetual or quantity == 0.0 or side == 0:
        return math.nan
    caps, mmrs, amounts = _bracket_arrays(instrument.brackets)
    return float(
        liquidation_price_tiered(
            exchange_code(instrument.exchange),
            1.0 if side > 0 else -1.0,
            abs(float(quantity)),
            float(entry_price),
            float(collateral),
            caps,
            mmrs,
            amounts,
            float(instrument.taker_fee),
        )
    )


# -- default bracket tables -------------------------------------------------------------------
def binance_usdm_btc_brackets() -> tuple[LeverageBracket, ...]:
    """Binance USDⓈ-M BTCUSDT perpetual, as Binance published it in its Leverage & Margin
    table (2021, the 125x schedule); rows are (notional cap, max leverage, MMR).

    The maintenance amounts this derives (50, 1,300, 16,300, 266,300, ...) are the ones
    Binance lists; its FAQ worked examples use them: 264,000 USDT is at 1%, 500,000 USDT has a
    1,300 maintenance amount, and a 3,500,032.458 USDT position has a maintenance margin of
    3,500,032.458 x 2.50% - 16,300 = 71,200.81.
    """
    return brackets_from_tiers(
        [
            (50_000.0, 125.0, 0.004),
            (250_000.0, 100.0, 0.005),
            (1_000_000.0, 50.0, 0.01),
            (10_000_000.0, 20.0, 0.025),
            (20_000_000.0, 10.0, 0.05),
            (50_000_000.0, 5.0, 0.10),
            (100_000_000.0, 4.0, 0.125),
            (200_000_000.0, 3.0, 0.15),
            (300_000_000.0, 2.0, 0.25),
            (500_000_000.0, 1.0, 0.50),
        ]
    )


def binance_usdm_alt_brackets() -> tuple[LeverageBracket, ...]:
    """Binance's 75x USDⓈ-M schedule for smaller caps (ADA, LINK, LTC, XRP, ... USDT), same
    FAQ and period; derived maintenance amounts 35, 535, 8,035, 58,035, ..."""
    return brackets_from_tiers(
        [
            (10_000.0, 75.0, 0.0065),
            (50_000.0, 50.0, 0.01),
            (250_000.0, 25.0, 0.02),
            (1_000_000.0, 10.0, 0.05),
            (2_000_000.0, 5.0, 0.10),
            (5_000_000.0, 4.0, 0.125),
            (10_000_000.0, 3.0, 0.15),
            (20_000_000.0, 2.0, 0.25),
            (50_000_000.0, 1.0, 0.50),
        ]
    )


def _whole_position_tiers(tiers: list[tuple[float, float, float]]) -> tuple[LeverageBracket, ...]:
    """Brackets whose MMR applies to the whole position (no maintenance amount), as OKX
    tiers work."""
    brackets: list[LeverageBracket] = []
    floor = 0.0
    for cap, max_leverage, mmr in tiers:
        brackets.append(LeverageBracket(floor, cap, max_leverage, mmr, 0.0))
        floor = cap
    return tuple(brackets)


def okx_btc_brackets() -> tuple[LeverageBracket, ...]:
    """OKX BTC perpetual tiers.

    OKX sets tiers in contracts. Its BTCUSD contract is 100 USD, so the BTCUSD tiers of the
    announcement "OKX to adjust position tiers of several futures" (okx.com support article
    10722087776781, 2022) read directly as USD notionals: 500 cont (50,000 USD) 0.4% MMR
    125x, 3,000 (300,000) 0.5% 100x, 12,000 (1.2M) 1.0% 66.66x, 24,000 (2.4M) 1.5% 50x, then
    +12,000 cont and +0.5% MMR/IMR per tier. AXIS uses them for BTC-USDT-SWAP too, as USDT
    notionals; the whole position takes its tier's MMR (no maintenance amount).
    """
    tiers = [
        (50_000.0, 125.0, 0.004),
        (300_000.0, 100.0, 0.005),
        (1_200_000.0, 66.66, 0.01),
        (2_400_000.0, 50.0, 0.015),
    ]
    cap, mmr, imr = 2_400_000.0, 0.015, 0.02
    for _ in range(6):
        cap, mmr, imr = cap + 1_200_000.0, mmr + 0.005, imr + 0.005
        tiers.append((cap, round(1.0 / imr, 2), round(mmr, 4)))
    return _whole_position_tiers(tiers)


def okx_alt_brackets() -> tuple[LeverageBracket, ...]:
    """OKX smaller-cap USDT swap tiers, after the ADAUSDT rows of "OKX to adjust position
    tiers of perpetual swaps" (2023-05-15): 0.50% MMR/75x, 0.75%/50x, 1.00%/40x, then +0.5%
    per tier. Caps are the contract limits (1,500 / 3,000 / 6,000 cont of 100 ADA) valued at
    about 0.35 USDT and rounded: 50,000 / 100,000 / 200,000 USDT, +200,000 per tier."""
    tiers = [(50_000.0, 75.0, 0.005), (100_000.0, 50.0, 0.0075), (200_000.0, 40.0, 0.01)]
    cap, mmr, imr = 200_000.0, 0.01, 0.025
    for _ in range(5):
        cap, mmr, imr = cap + 200_000.0, mmr + 0.005, imr + 0.005
        tiers.append((cap, round(1.0 / imr, 2), round(mmr, 4)))
    return _whole_position_tiers(tiers)


def gate_btc_brackets() -> tuple[LeverageBracket, ...]:
    """Gate BTCUSDT perpetual, from Gate's help article "Risk Limit" (futures logic 22162,
    2025-09-30): risk limit, tiered MMR, max leverage per tier. Maintenance margin is graded
    (each MMR applies above the previous limit), which is the cum rule's deduction."""
    return brackets_from_tiers(
        [
            (20_000.0, 125.0, 0.004),
            (50_000.0, 111.0, 0.0045),
            (100_000.0, 100.0, 0.005),
            (200_000.0, 75.0, 0.007),
            (1_000_000.0, 50.0, 0.01),
            (2_000_000.0, 25.0, 0.02),
            (3_000_000.0, 10.0, 0.05),
            (5_000_000.0, 1.05, 0.50),
        ]
    )


def gate_alt_brackets() -> tuple[LeverageBracket, ...]:
    """Gate smaller-cap USDT perpetual. The first tier is Gate's recorded LTC_USDT contract
    (risk limit 500,000 USDT, MMR 1%, max leverage 50, in ccxt's fixture of /futures/usdt
    positions, 2024-01); the higher tiers are an AXIS assumption with the shape of Gate's BTC
    table."""
    return brackets_from_tiers(
        [
            (500_000.0, 50.0, 0.01),
            (1_000_000.0, 25.0, 0.02),
            (2_000_000.0, 10.0, 0.05),
            (5_000_000.0, 4.0, 0.125),
            (10_000_000.0, 1.0, 0.50),
        ]
    )


def bybit_btc_brackets() -> tuple[LeverageBracket, ...]:
    """Bybit BTCUSDT perpetual, from Bybit's "Margin Data" page (announcement-info/
    margin-parameters, 2025): risk limit, max leverage, MMR. The derived deductions equal the
    published ones (1,200, 3,020, 4,300, ..., 1,482,000)."""
    return brackets_from_tiers(
        [
            (2_000_000.0, 100.0, 0.005),
            (2_600_000.0, 90.0, 0.0056),
            (3_200_000.0, 80.0, 0.0063),
            (3_800_000.0, 75.0, 0.0067),
            (4_400_000.0, 70.0, 0.0071),
            (5_000_000.0, 65.0, 0.0077),
            (5_600_000.0, 55.0, 0.0091),
            (8_500_000.0, 50.0, 0.01),
            (10_000_000.0, 45.0, 0.013),
            (14_000_000.0, 40.0, 0.015),
            (20_000_000.0, 35.0, 0.016),
            (28_000_000.0, 30.0, 0.02),
            (38_000_000.0, 25.0, 0.025),
            (50_000_000.0, 20.0, 0.029),
            (55_000_000.0, 19.0, 0.03),
            (60_000_000.0, 18.0, 0.035),
            (65_000_000.0, 17.0, 0.036),
            (70_000_000.0, 16.0, 0.038),
            (75_000_000.0, 15.0, 0.04),
            (80_000_000.0, 14.0, 0.045),
        ]
    )


def bybit_alt_brackets() -> tuple[LeverageBracket, ...]:
    """Bybit smaller-cap USDT perpetual after its classic risk-limit scheme: base risk limit
    200,000 USDT (the riskLimitValue of Bybit's recorded LTCUSDT position in ccxt's fixture,
    2023-11) at 1% MMR / 50x, then +200,000 USDT, +0.5% MMR and +0.5% IMR per step; Bybit's
    deduction formula gives the maintenance amounts."""
    tiers: list[tuple[float, float, float]] = []
    cap, mmr, imr = 200_000.0, 0.01, 0.02
    for _ in range(6):
        tiers.append((cap, round(1.0 / imr, 2), round(mmr, 4)))
        cap, mmr, imr = cap + 200_000.0, mmr + 0.005, imr + 0.005
    return brackets_from_tiers(tiers)


_DEFAULT_TABLES = {
    Exchange.BINANCE: (binance_usdm_btc_brackets, binance_usdm_alt_brackets),
    Exchange.OKX: (okx_btc_brackets, okx_alt_brackets),
    Exchange.GATE: (gate_btc_brackets, gate_alt_brackets),
    Exchange.BYBIT: (bybit_btc_brackets, bybit_alt_brackets),
}


def default_brackets(exchange: Exchange, base: str) -> tuple[LeverageBracket, ...]:
    """Default leverage brackets of ``exchange``'s ``base``/USDT perpetual: the BTC table for
    BTC, the smaller-cap table for any other base (conservative for large caps such as ETH)."""
    btc, alt = _DEFAULT_TABLES[exchange]
    return btc() if base.upper() == "BTC" else alt()
