"""Scalar futures math: margin, PnL, funding and liquidation distance, checked against figures
the exchanges publish and against their recorded API responses."""

from __future__ import annotations

import math

import pytest
from numba import njit

from axis.domain.futures import (
    bankruptcy_price,
    funding_payment,
    initial_margin,
    liquidation_distance,
    maintenance_margin,
    margin_balance,
    margin_ratio,
    notional,
    unrealized_pnl,
)

# -- margin -----------------------------------------------------------------------------------


def test_initial_margin_bybit_worked_example() -> None:
    # Bybit help "Liquidation Price (USDT Contract)", example 1: 1 BTC at 20,000 USDT, 50x ->
    # initial margin 400 USDT.
    assert initial_margin(1.0, 20_000.0, 50.0) == pytest.approx(400.0, abs=1e-9)


def test_initial_margin_scales_with_size_and_leverage() -> None:
    # Binance FAQ 25edcd7f...: a 1,000 USDT BTCUSDT position at 20x holds 50 USDT.
    assert initial_margin(0.02, 50_000.0, 20.0) == pytest.approx(50.0, abs=1e-9)
    assert initial_margin(0.02, 50_000.0, 1.0) == pytest.approx(1_000.0, abs=1e-9)


def test_maintenance_margin_binance_worked_example() -> None:
    # Binance FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts", worked
    # example: "Maintenance Margin of BTCUSDT = 71200.81144 (3500032.458 * 2.50% - 16300)" and
    # "Maintenance Margin of ETHUSDT = 356,512.508 (4918775.081 * 10.00% - 135365)".
    assert maintenance_margin(1.0, 3_500_032.458, 0.025, 16_300.0) == pytest.approx(
        71_200.81144, abs=2e-5
    )
    assert maintenance_margin(1.0, 4_918_775.081, 0.10, 135_365.0) == pytest.approx(
        356_512.508, abs=1e-3
    )


def test_maintenance_margin_bybit_worked_example() -> None:
    # Bybit example 1: 1 x 20,000 x 0.5% - 0 = 100 USDT.
    assert maintenance_margin(1.0, 20_000.0, 0.005, 0.0) == pytest.approx(100.0, abs=1e-9)


def test_maintenance_margin_matches_recorded_exchange_positions() -> None:
    # Recorded API responses in ccxt's static test fixtures (/work/shared/fixtures/ccxt):
    # Binance /fapi/v2/positionRisk, BTCUSDT 0.009 at mark 67,502.68519858, tier-1 MMR 0.4%:
    # maintMargin "2.43009666".
    assert maintenance_margin(0.009, 67_502.68519858, 0.004, 0.0) == pytest.approx(
        2.43009666, abs=2e-8
    )
    # OKX /api/v5/account/positions, LTC-USDT-SWAP (0.001 LTC per contract, MMR 0.65%):
    # 1 contract at mark 68.24 -> mmr "0.00044356"; 2 contracts at 101.33 -> "0.00131729".
    assert maintenance_margin(0.001, 68.24, 0.0065, 0.0) == pytest.approx(0.00044356, abs=1e-12)
    assert maintenance_margin(0.002, 101.33, 0.0065, 0.0) == pytest.approx(0.00131729, abs=1e-12)


def test_maintenance_margin_is_unsigned_in_quantity() -> None:
    assert maintenance_margin(-2.0, 100.0, 0.01, 0.5) == pytest.approx(1.5, abs=1e-12)


def test_notional() -> None:
    assert notional(0.009, 67_502.68519858) == pytest.approx(607.52416678, abs=1e-8)
    assert notional(-3.0, 10.0) == pytest.approx(30.0)


# -- PnL --------------------------------------------------------------------------------------


def test_unrealized_pnl_matches_recorded_binance_position() -> None:
    # Same Binance positionRisk records: long 0.009 BTC from 67,445.9.
    assert unrealized_pnl(1, 0.009, 67_445.9, 67_502.68519858) == pytest.approx(
        0.51106678, abs=2e-8
    )
    assert unrealized_pnl(1, 0.009, 67_445.9, 67_582.2) == pytest.approx(1.2267, abs=1e-9)


def test_unrealized_pnl_sign_follows_side() -> None:
    # Flipster's worked example (0.1 BTC long from 30,000): +600 at 36,000, -200 at 28,000.
    assert unrealized_pnl(1, 0.1, 30_000.0, 36_000.0) == pytest.approx(600.0)
    assert unrealized_pnl(1, 0.1, 30_000.0, 28_000.0) == pytest.approx(-200.0)
    # The short mirrors it.
    assert unrealized_pnl(-1, 0.1, 30_000.0, 36_000.0) == pytest.approx(-600.0)
    assert unrealized_pnl(-1.0, 0.1, 30_000.0, 28_000.0) == pytest.approx(200.0)


def test_margin_balance_is_collateral_plus_pnl() -> None:
    # Flipster: 300 USDT initial margin - 200 USDT loss = 100 USDT remaining margin.
    assert margin_balance(300.0, 1, 0.1, 30_000.0, 28_000.0) == pytest.approx(100.0)
    assert margin_balance(300.0, -1, 0.1, 30_000.0, 28_000.0) == pytest.approx(500.0)


# -- funding ----------------------------------------------------------------------------------


def test_long_pays_funding_when_rate_is_positive() -> None:
    # 1 BTC at mark 50,000 and +0.01%: the long pays 5 USDT, the short receives 5 USDT.
    assert funding_payment(1, 1.0, 50_000.0, 0.0001) == pytest.approx(-5.0)
    assert funding_payment(-1, 1.0, 50_000.0, 0.0001) == pytest.approx(5.0)


def test_short_pays_funding_when_rate_is_negative() -> None:
    assert funding_payment(1.0, 2.0, 30_000.0, -0.0003) == pytest.approx(18.0)
    assert funding_payment(-1.0, 2.0, 30_000.0, -0.0003) == pytest.approx(-18.0)


def test_funding_is_zero_sum_and_uses_the_mark() -> None:
    long_leg = funding_payment(1, 0.5, 64_000.0, 0.000125)
    short_leg = funding_payment(-1, 0.5, 64_000.0, 0.000125)
    assert long_leg + short_leg == 0.0
    assert long_leg == pytest.approx(-4.0)
    assert funding_payment(1, 0.5, 64_000.0, 0.0) == 0.0


# -- bankruptcy price and margin ratio --------------------------------------------------------


def test_bankruptcy_price_bybit_definition() -> None:
    # Bybit "Bankruptcy Price (USDT Contract)": long EP x (1 - IMR), short EP x (1 + IMR).
    assert bankruptcy_price(1, 1.0, 20_000.0, 400.0) == pytest.approx(19_600.0)
    assert bankruptcy_price(-1, 1.0, 20_000.0, 400.0) == pytest.approx(20_400.0)
    # A fully collateralised long bankrupts at 0, never below.
    assert bankruptcy_price(1, 1.0, 20_000.0, 25_000.0) == 0.0
    assert math.isnan(bankruptcy_price(1, 0.0, 20_000.0, 400.0))


def test_margin_ratio() -> None:
    assert margin_ratio(100.0, 25.0) == pytest.approx(0.25)
    assert margin_ratio(25.0, 25.0) == pytest.approx(1.0)
    assert margin_ratio(0.0, 25.0) == math.inf
    assert margin_ratio(-3.0, 25.0) == math.inf


# -- liquidation distance ---------------------------------------------------------------------


def test_liquidation_distance_long_and_short() -> None:
    assert liquidation_distance(70_000.0, 63_000.0) == pytest.approx(0.10)
    assert liquidation_distance(70_000.0, 77_000.0) == pytest.approx(0.10)
    assert liquidation_distance(50_000.0, 25_100.4016) == pytest.approx(0.497991968)


def test_liquidation_distance_of_a_position_that_cannot_be_liquidated_is_infinite() -> None:
    assert liquidation_distance(70_000.0, math.nan) == math.inf
    assert liquidation_distance(70_000.0, 0.0) == math.inf
    assert liquidation_distance(70_000.0, -12.5) == math.inf


def test_liquidation_distance_seed_example_without_maintenance() -> None:
    # The seed's 15x long at 68,000 marked at 70,000, with the liquidation price of a
    # maintenance-free 15x long (68,000 x (1 - 1/15) = 63,466.67): 9.33% from the mark.
    # (Exchange formulas, which add maintenance margin, are in test_liquidation.py.)
    liq = 68_000.0 * (1.0 - 1.0 / 15.0)
    assert liquidation_distance(70_000.0, liq) == pytest.approx(0.093333333, abs=1e-9)


# -- numba ------------------------------------------------------------------------------------


@njit(cache=False)
def _kernel_equity(
    side: float, quantity: float, entry: float, mark: float, rate: float, leverage: float
) -> float:
    """A stand-in for a backtest kernel: margin + PnL + one funding payment."""
    margin = initial_margin(quantity, entry, leverage)
    return (
        margin
        + unrealized_pnl(side, quantity, entry, mark)
        + funding_payment(side, quantity, mark, rate)
    )


def test_functions_are_callable_from_compiled_code() -> None:
    # 2 BTC long at 60,000, 10x (12,000 margin), marked at 61,000 (+2,000), funding +0.01%
    # (-12.2).
    assert _kernel_equity(1.0, 2.0, 60_000.0, 61_000.0, 0.0001, 10.0) == pytest.approx(13_987.8)
    assert _kernel_equity(-1.0, 2.0, 60_000.0, 61_000.0, 0.0001, 10.0) == pytest.approx(10_012.2)
