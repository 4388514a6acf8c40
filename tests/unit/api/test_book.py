"""The book valuation the risk snapshot and the portfolio share, against hand computation."""

from __future__ import annotations

import math

import pytest

from axis.api.book import OpenPosition, value_book


def test_two_positions_valued_by_hand() -> None:
    long_btc = OpenPosition(1, "binance", "BTC/USDT:USDT", 1, 0.1, 60_000.0, 1_200.0, 5.0, 48_300.0)
    short_xrp = OpenPosition(2, "binance", "XRP/USDT:USDT", -1, 1_000.0, 0.5, 250.0, 2.0, 0.74)
    book = value_book(
        9_000.0,
        [long_btc, short_xrp],
        {("binance", "BTC/USDT:USDT"): 63_000.0, ("binance", "XRP/USDT:USDT"): 0.55},
    )
    # unrealised: 0.1 × (63,000 − 60,000) = 300; short 1,000 × (0.5 − 0.55) = −50
    assert book.unrealized_pnl == pytest.approx(250.0)
    assert book.equity == pytest.approx(9_250.0)
    assert book.notional == pytest.approx(6_300.0 + 550.0)
    assert book.total_leverage == pytest.approx(6_850.0 / 9_250.0)
    # free margin: wallet − committed margin + unrealised losses only
    assert book.available_margin == pytest.approx(9_000.0 - 1_450.0 - 50.0)
    distances = sorted(h.distance for h in book.holdings)
    assert distances[0] == pytest.approx((63_000 - 48_300) / 63_000)
    assert distances[1] == pytest.approx(abs(0.55 - 0.74) / 0.55)
    assert book.closest_liquidation_distance == pytest.approx(distances[0])
    maintenance = sum(h.maintenance for h in book.holdings)
    assert book.margin_ratio == pytest.approx(maintenance / 9_250.0)
    assert 0 < book.margin_ratio < 0.01


def test_an_empty_book_is_all_cash() -> None:
    book = value_book(10_000.0, [], {})
    assert book.equity == 10_000.0
    assert book.total_leverage == 0.0
    assert book.closest_liquidation_distance is None
    assert not math.isnan(book.margin_ratio)


def test_positions_round_trip_through_their_cached_form() -> None:
    p = OpenPosition(3, "okx", "ETH/USDT:USDT", -1, 2.5, 3_000.0, 750.0, 10.0, math.nan)
    back = OpenPosition.from_json(p.to_json())
    assert math.isnan(back.liquidation_price)
    assert back.to_json() == p.to_json()
