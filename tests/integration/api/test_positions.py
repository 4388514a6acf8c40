"""Opening and closing positions over the API: the core's risk chain decides, the paper venue
fills, the store records order, fill and position together."""

from __future__ import annotations

import math
from typing import Any

import pytest
from sqlalchemy import select

from axis.domain.catalog import instrument_for
from axis.domain.enums import Exchange, MarginMode
from axis.domain.liquidation import liquidation_price
from axis.store.models import Order, Position, Trade, User

Api = Any  # the ``api`` fixture (tests/integration/api/conftest.py)


def _quote(api: Api) -> float:
    return float(api.client.app.state.services.market.quote("binance", "BTC/USDT:USDT").price)


def test_open_fills_at_the_quote_and_records_order_fill_and_position(api: Api) -> None:
    alice = api.register()
    response = api.open(alice, leverage=5, size_usdt=1000)
    assert response.status_code == 200, response.text
    body = response.json()
    price = _quote(api)
    inst = instrument_for("BTC/USDT:USDT", Exchange.BINANCE)
    slipped = inst.round_price(price * (1 + api.ctx.settings.paper_slippage))
    assert body["success"] is True
    assert body["entry_price"] == pytest.approx(slipped)
    assert body["quantity"] == inst.round_qty(1000 * 5 / price)
    assert body["notional_value"] == pytest.approx(body["quantity"] * body["entry_price"])
    assert body["margin"] == pytest.approx(body["notional_value"] / 5)
    expected_liq = liquidation_price(
        inst, 1, body["quantity"], body["entry_price"], body["margin"], MarginMode.ISOLATED
    )
    assert body["liquidation_price"] == pytest.approx(expected_liq)
    assert body["liquidation_distance_pct"] == pytest.approx(
        abs(body["entry_price"] - expected_liq) / body["entry_price"] * 100, abs=1e-3
    )
    assert body["stop_loss_price"] == pytest.approx(body["entry_price"] * 0.97, abs=0.1)
    assert body["take_profit_price"] == pytest.approx(body["entry_price"] * 1.10, abs=0.1)
    assert body["fee"] == pytest.approx(body["notional_value"] * inst.taker_fee)
    assert body["client_order_id"] == f"api-u{alice.user_id}-0000000001"
    assert body["execution"] == "paper"
    with api.ctx.db.session() as session:
        order = session.scalars(select(Order).where(Order.user_id == alice.user_id)).one()
        trade = session.scalars(select(Trade).where(Trade.user_id == alice.user_id)).one()
        position = session.get(Position, body["position_id"])
        user = session.get(User, alice.user_id)
        assert order.status == "filled"
        assert order.position_id == position.id
        assert order.client_order_id == body["client_order_id"]
        assert trade.order_id == order.id
        assert float(trade.fee) == pytest.approx(body["fee"])
        assert trade.exchange_order_id == body["exchange_order_id"]
        assert position.status == "open"
        assert position.side == "long"
        assert float(position.quantity) == body["quantity"]
        assert position.regime == "bull_trend"
        assert float(position.confidence) == 0.8
        assert float(user.wallet_balance) == pytest.approx(10_000 - body["fee"])


def test_liquidation_distance_below_the_profile_minimum_is_vetoed_with_details(api: Api) -> None:
    alice = api.register()  # balanced: leverage <= 10, liquidation distance >= 15%
    before = api.snapshot()["positions"]
    response = api.open(alice, leverage=10, size_usdt=500)
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["rule"] == "min_liquidation_distance"
    assert body["error"].startswith("Liquidation distance")
    assert "< 15%" in body["error"]
    assert body["details"]["min_liquidation_distance"] == 0.15
    assert body["details"]["liquidation_distance"] < 0.15
    assert api.snapshot()["positions"] == before
    with api.ctx.db.session() as session:
        order = session.scalars(select(Order).where(Order.user_id == alice.user_id)).one()
        assert order.status == "rejected"
        assert order.reject_reason.startswith("min_liquidation_distance")
        assert session.scalars(select(Trade).where(Trade.user_id == alice.user_id)).all() == []


def test_leverage_above_the_profile_is_vetoed(api: Api) -> None:
    alice = api.register()
    response = api.open(alice, leverage=15, size_usdt=8000)
    assert response.status_code == 400
    assert response.json()["rule"] == "max_leverage"
    assert response.json()["details"] == {"leverage": 15.0, "allowed": 10.0}


def test_profiles_set_the_limits(api: Api) -> None:
    conservative = api.register(profile="conservative")
    assert api.open(conservative, leverage=3, size_usdt=300).status_code == 200
    vetoed = api.open(conservative, leverage=4, size_usdt=300, symbol="XRPUSDT")
    assert vetoed.json()["rule"] == "max_leverage"


def test_kill_switch_halts_new_risk_but_not_closing(api: Api) -> None:
    alice = api.register()
    opened = api.open(alice).json()
    halt = api.client.post(
        f"/api/v2/users/{alice.user_id}/kill-switch",
        headers=alice.headers,
        json={"reason": "drill"},
    )
    assert halt.status_code == 200
    assert halt.json()["trading_state"] == "halted"
    refused = api.open(alice, symbol="XRPUSDT")
    assert refused.status_code == 400
    assert refused.json()["rule"] == "trading_state"
    closed = api.client.post(
        f"/api/v2/positions/{opened['position_id']}/close",
        headers=alice.headers,
        json={"user_id": alice.user_id, "close_pct": 1.0, "reason": "manual"},
    )
    assert closed.status_code == 200, closed.text


def test_insufficient_margin_is_rejected_by_the_venue(api: Api) -> None:
    alice = api.register()
    response = api.open(alice, leverage=2, size_usdt=9_999.9)
    assert response.status_code == 400
    assert response.json()["rule"] == "venue_rejected"
    assert "insufficient margin" in response.json()["error"]


def test_opposite_side_conflicts_and_same_side_adds(api: Api) -> None:
    alice = api.register()
    first = api.open(alice, size_usdt=400).json()
    opposite = api.open(alice, side="SHORT", size_usdt=400)
    assert opposite.status_code == 409
    other_leverage = api.open(alice, leverage=3, size_usdt=400)
    assert other_leverage.status_code == 409
    second = api.open(alice, size_usdt=400).json()
    assert second["position_id"] == first["position_id"]
    assert second["quantity"] == pytest.approx(2 * first["quantity"], rel=1e-9)
    assert second["margin"] == pytest.approx(first["margin"] * 2, rel=1e-6)
    assert second["client_order_id"].endswith("0000000002")


def test_short_positions_liquidate_above_the_entry(api: Api) -> None:
    alice = api.register()
    body = api.open(alice, side="SHORT", leverage=4, size_usdt=400).json()
    assert body["liquidation_price"] > body["entry_price"]
    assert body["stop_loss_price"] > body["entry_price"] > body["take_profit_price"]


def test_partial_then_full_close_realises_pnl_and_frees_margin(api: Api) -> None:
    alice = api.register()
    opened = api.open(alice, leverage=5, size_usdt=1000).json()
    pid = opened["position_id"]
    half = api.client.post(
        f"/api/v2/positions/{pid}/close",
        headers=alice.headers,
        json={"user_id": alice.user_id, "close_pct": 0.5, "reason": "take_profit"},
    ).json()
    assert half["status"] == "open"
    assert half["closed_quantity"] == pytest.approx(opened["quantity"] / 2, abs=0.001)
    assert half["remaining_quantity"] == pytest.approx(
        opened["quantity"] - half["closed_quantity"], abs=1e-9
    )
    gross = half["closed_quantity"] * (half["exit_price"] - opened["entry_price"])
    assert half["realized_pnl"] == pytest.approx(gross - half["fee"], abs=1e-6)
    rest = api.client.post(
        f"/api/v2/positions/{pid}/close",
        headers=alice.headers,
        json={"user_id": alice.user_id},
    ).json()
    assert rest["status"] == "closed"
    assert rest["remaining_quantity"] == 0
    again = api.client.post(
        f"/api/v2/positions/{pid}/close", headers=alice.headers, json={"user_id": alice.user_id}
    )
    assert again.status_code == 409
    with api.ctx.db.session() as session:
        position = session.get(Position, pid)
        user = session.get(User, alice.user_id)
        total = half["realized_pnl"] + rest["realized_pnl"]
        assert float(position.realized_pnl) == pytest.approx(total, abs=1e-6)
        assert float(position.pnl_pct) == pytest.approx(total / opened["margin"], abs=1e-5)
        expected_wallet = 10_000 - opened["fee"] + total
        assert float(user.wallet_balance) == pytest.approx(expected_wallet, abs=1e-6)
        assert position.close_reason == "manual"
    portfolio = api.client.get(
        f"/api/v2/users/{alice.user_id}/portfolio", headers=alice.headers
    ).json()
    assert portfolio["total_value_usdt"] == pytest.approx(expected_wallet, abs=0.01)
    assert list(portfolio["allocations"]) == ["USDT"]


def test_open_positions_are_rate_limited_per_user(api: Api) -> None:
    alice = api.register()
    bob = api.register()
    limit = api.ctx.settings.open_position_limit_per_minute
    api.clock.advance(60 - api.clock() % 60)  # the start of a window: all hits fall in it
    for _ in range(limit):
        assert api.open(alice, leverage=0, size_usdt=1).status_code == 422  # counted, refused
    limited = api.open(alice)
    assert limited.status_code == 429
    retry = int(limited.headers["Retry-After"])
    assert 1 <= retry <= 60
    assert limited.json()["retry_after"] == retry
    assert api.open(bob).status_code == 200  # per user
    api.clock.advance(60)
    assert api.open(alice).status_code == 200


def test_portfolio_reports_exposure_and_closest_liquidation(api: Api) -> None:
    alice = api.register()
    btc = api.open(alice, leverage=5, size_usdt=1000).json()
    eth = api.open(alice, symbol="XRP/USDT:USDT", leverage=4, size_usdt=500)
    assert eth.status_code == 200, eth.text
    body = api.client.get(f"/api/v2/users/{alice.user_id}/portfolio", headers=alice.headers)
    assert body.status_code == 200
    data = body.json()
    assert set(data["allocations"]) == {"BTC", "XRP", "USDT"}
    assert sum(a["pct"] for a in data["allocations"].values()) == pytest.approx(100, abs=0.01)
    assert data["allocations"]["BTC"]["position_side"] == "LONG"
    assert data["allocations"]["BTC"]["leverage"] == 5
    notional = btc["notional_value"] + eth.json()["notional_value"]
    risk = data["risk_metrics"]
    assert risk["total_leverage"] == pytest.approx(notional / data["total_value_usdt"], rel=0.01)
    assert 0 < risk["closest_liquidation_distance"] < 0.30
    assert 0 < risk["margin_ratio"] < 1
    assert not math.isnan(data["unrealized_pnl"])
