"""FailoverVenue over two GatewayVenues: when the first gateway goes away, its client reports
itself unhealthy and its calls fail as VenueUnavailable, the breaker opens and the policy moves
trading to the second gateway, whose orders then flow as before."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from axis.config.specs import FailoverPolicy
from axis.domain.enums import OrderSide, OrderType
from axis.domain.orders import Order, OrderStatus
from axis.gateway import create_gateway_app
from axis.venues.breaker import BreakerConfig
from axis.venues.failover import FailoverVenue
from axis.venues.gateway import GatewayVenue

from .conftest import PERP, Recorder, paper_exchange

pytestmark = pytest.mark.asyncio


async def test_trading_moves_to_the_second_gateway_when_the_first_goes_away(serve: Any) -> None:
    first_exchange, second_exchange = paper_exchange(), paper_exchange()
    first = await serve(
        create_gateway_app(first_exchange, connector="binance-main", exchange="binance")
    )
    second = await serve(
        create_gateway_app(second_exchange, connector="bybit-main", exchange="bybit")
    )
    venues = [
        GatewayVenue(first.url, name="binance-main", attempts=1, timeout_s=1.0, backoff_s=0.05),
        GatewayVenue(second.url, name="bybit-main", attempts=1, timeout_s=1.0, backoff_s=0.05),
    ]
    venue = FailoverVenue(
        venues,
        FailoverPolicy.FLATTEN_AND_MOVE,
        breaker=BreakerConfig(failure_threshold=2),
        heartbeat_s=0.02,
        flat_polls=1,
        flat_poll_delay_s=0.01,
    )
    recorder = Recorder()
    await venue.connect(recorder)
    assert venue.active_name == "binance-main"
    await first.stop()  # the first gateway's pod goes away
    async with asyncio.timeout(10):
        while venue.active_name != "bybit-main":
            await asyncio.sleep(0.02)
    order = Order("fo-1", PERP, OrderSide.BUY, OrderType.MARKET, 0.01)
    venue.submit(order)
    await recorder.wait_for(1)
    second_exchange.step()
    await recorder.wait_for(2)
    assert order.status is OrderStatus.FILLED
    assert "fo-1" in second_exchange.orders
    assert "fo-1" not in first_exchange.orders
    await venue.close()
