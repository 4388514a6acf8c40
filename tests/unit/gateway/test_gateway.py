"""What the gateway adds around a venue: an event stream that resumes without losses or
repeats, idempotent order placement, the optional token, health, metrics and refusal of bad
input; and the client's behaviour when the gateway is gone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from axis.domain.enums import OrderSide, OrderType
from axis.domain.orders import Order, OrderStatus
from axis.gateway import create_gateway_app, wire
from axis.gateway.faults import GatewayError, GatewayUnavailable
from axis.venues.errors import AuthenticationFailed, ExchangeFailure, VenueUnavailable
from axis.venues.gateway import GatewayVenue

from .conftest import PERP, Recorder, open_harness, paper_exchange

pytestmark = pytest.mark.asyncio


def order(cid: str, kind: OrderType = OrderType.MARKET, price: float | None = None) -> Order:
    return Order(cid, PERP, OrderSide.BUY, kind, 0.01, price=price)


async def run_scenario(
    via: str, serve: Callable[[FastAPI], Any], expected: int = 0
) -> list[tuple[Any, ...]]:
    """A few orders over twelve bars, then a cancel; ``expected`` events are waited for."""
    h = await open_harness(via, serve)
    h.venue.submit(order("s-1"))
    h.venue.submit(order("s-2", OrderType.LIMIT, 39_000.0))
    h.venue.submit(
        Order(
            "s-3",
            PERP,
            OrderSide.SELL,
            OrderType.STOP_MARKET,
            0.01,
            trigger_price=38_000.0,
            reduce_only=True,
        )
    )
    await h.recorder.wait_for(3)
    for _ in range(12):
        h.exchange.step()
    h.venue.cancel("s-2")
    await h.recorder.wait_for(expected)
    await h.recorder.settle()
    await h.venue.close()
    return h.recorder.events


async def test_the_gateway_reports_the_same_events_as_the_venue(serve: Any) -> None:
    direct = await run_scenario("direct", serve)
    via_gateway = await run_scenario("gateway", serve, expected=len(direct))
    assert len(direct) >= 5
    assert {e[0] for e in direct} >= {"order", "fill", "funding"}
    assert via_gateway == direct


async def test_a_reconnecting_stream_misses_and_repeats_nothing(serve: Any) -> None:
    h = await open_harness("gateway", serve)
    assert isinstance(h.venue, GatewayVenue)
    h.venue.submit(order("r-1", OrderType.LIMIT, 39_990.0))
    await h.recorder.wait_for(1)
    first = h.venue._ws
    assert first is not None
    await first.close()  # the connection drops; events keep happening at the exchange
    h.venue.submit(order("r-2"))  # placed over HTTP while the stream is down
    async with asyncio.timeout(5):
        while "r-2" not in h.exchange.orders:
            await asyncio.sleep(0.005)
    for _ in range(3):
        h.exchange.step()
    events = await h.recorder.wait_for(4)
    await h.recorder.settle()
    assert h.venue._ws is not first  # it did reconnect
    ids = [(e[0], e[1]["clientOrderId"], e[1]["status"]) for e in events]
    assert ids.count(("order", "r-2", "submitted")) == 1
    assert len(ids) == len(set(ids))
    assert ("fill", "r-2", "filled") in ids
    await h.venue.close()


async def test_events_gone_from_the_window_are_recovered_by_refreshing_orders(
    serve: Any,
) -> None:
    exchange = paper_exchange()
    app = create_gateway_app(exchange, connector="paper-main", exchange="binance", window=1)
    server = await serve(app)
    venue = GatewayVenue(server.url)
    recorder = Recorder()
    await venue.connect(recorder)
    resting = order("g-1", OrderType.LIMIT, 40_100.0)
    venue.submit(resting)
    await recorder.wait_for(1)
    assert venue._ws is not None
    await venue._ws.close()
    exchange.step()  # the order fills while the client is away
    venue.submit(order("g-2"))  # and its acknowledgement pushes the fill out of the window
    async with asyncio.timeout(5):  # the client reconnects, hears of the gap, refreshes
        while resting.status is not OrderStatus.FILLED:
            await asyncio.sleep(0.01)
    assert resting.status is OrderStatus.FILLED
    assert resting.filled_qty == pytest.approx(0.01)
    assert ("order", wire.encode_order(resting)) in recorder.events
    assert venue.healthy()
    await venue.close()


async def test_placing_an_order_twice_sends_it_once(serve: Any) -> None:
    exchange = paper_exchange()
    server = await serve(create_gateway_app(exchange, connector="paper-main", exchange="binance"))
    body = wire.encode_order(order("i-1", OrderType.LIMIT, 30_000.0))
    async with httpx.AsyncClient(base_url=server.url) as client:
        first = await client.post("/v1/orders", json=body)
        second = await client.post("/v1/orders", json=body)
    assert first.status_code == 202
    assert second.status_code == 200
    assert second.json()["status"] == "submitted"
    assert [o.client_order_id for o in exchange.open_orders()] == ["i-1"]


async def test_the_token_guards_the_venue_but_not_the_probes(serve: Any) -> None:
    exchange = paper_exchange()
    app = create_gateway_app(exchange, connector="paper-main", exchange="binance", token="tkn")
    server = await serve(app)
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get("/v1/positions")).status_code == 401
        wrong = {"authorization": "Bearer nope"}
        assert (await client.get("/v1/positions", headers=wrong)).status_code == 401
        right = {"authorization": "Bearer tkn"}
        assert (await client.get("/v1/positions", headers=right)).status_code == 200
        for path in ("/healthz", "/readyz", "/status", "/metrics"):
            assert (await client.get(path)).status_code == 200, path
    with pytest.raises(AuthenticationFailed, match="refused the token"):
        await GatewayVenue(server.url, token="nope").connect(Recorder())
    venue = GatewayVenue(server.url, token="tkn")
    await venue.connect(Recorder())
    assert await venue.fetch_positions() == []
    await venue.close()


async def test_status_reports_reachability_clock_skew_and_headroom(serve: Any) -> None:
    exchange = paper_exchange(clock_skew_ms=250.0)
    exchange.headroom, exchange.waits = 0.4, 3
    app = create_gateway_app(
        exchange, connector="paper-main", exchange="binance", probe_interval_s=0.05
    )
    server = await serve(app)
    async with httpx.AsyncClient(base_url=server.url) as client:
        status = (await client.get("/status")).json()
        assert set(status) >= {
            "exchange",
            "reachable",
            "clockSkewMs",
            "rateLimitHeadroom",
            "lastError",
        }
        assert status["exchange"] == "binance"
        assert status["reachable"] is True
        assert status["clockSkewMs"] == pytest.approx(250.0, abs=50.0)
        assert status["rateLimitHeadroom"] == 0.4
        assert status["lastError"] is None
        assert (await client.get("/readyz")).status_code == 200

        exchange.fail_next("server_time_ms", TimeoutError("no answer from the exchange"))
        exchange.fail_next("fetch_positions", TimeoutError("no answer from the exchange"))
        assert (await client.get("/v1/positions")).status_code == 502
        await asyncio.sleep(0.1)  # a probe runs, fails, the next one succeeds
        status = (await client.get("/status")).json()
        assert status["lastError"] == "TimeoutError: no answer from the exchange"

        metrics = (await client.get("/metrics")).text
    assert (
        'axis_gateway_request_duration_seconds_count{connector="paper-main",'
        'method="fetch_positions"}' in metrics
    )
    assert 'axis_gateway_errors_total{connector="paper-main",kind="TimeoutError"}' in metrics
    assert 'axis_gateway_rate_limit_headroom{connector="paper-main"} 0.4' in metrics
    assert 'axis_gateway_rate_limit_waits_total{connector="paper-main"} 3.0' in metrics


async def test_readiness_follows_the_exchange(serve: Any) -> None:
    exchange = paper_exchange()
    app = create_gateway_app(
        exchange, connector="paper-main", exchange="binance", probe_interval_s=0.05
    )
    server = await serve(app)
    async with httpx.AsyncClient(base_url=server.url) as client:
        exchange.fail_next("server_time_ms", OSError("connection reset"), times=10_000)
        async with asyncio.timeout(2):
            while (await client.get("/readyz")).status_code == 200:
                await asyncio.sleep(0.01)
        status = (await client.get("/status")).json()
        assert status["reachable"] is False
        assert status["lastError"] == "internal: OSError"
        exchange.fail_next("server_time_ms", OSError("connection reset"), times=0)
        async with asyncio.timeout(2):
            while (await client.get("/readyz")).status_code != 200:
                await asyncio.sleep(0.01)
        assert (await client.get("/status")).json()["reachable"] is True


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/v1/orders", {}, "clientOrderId: field required"),
        (
            "POST",
            "/v1/orders",
            {**wire.encode_order(order("b-1")), "quantity": -1},
            "quantity must be positive",
        ),
        (
            "POST",
            "/v1/orders",
            {**wire.encode_order(order("b-2")), "side": "long"},
            "side: 'long' is not a valid OrderSide",
        ),
        ("POST", "/v1/orders", [1, 2], "body: expected a JSON object"),
        (
            "PUT",
            "/v1/leverage",
            {"symbol": PERP, "leverage": "high"},
            "leverage: expected a number",
        ),
        ("PUT", "/v1/leverage", {"symbol": PERP, "leverage": 0}, "leverage: must be positive"),
        ("PUT", "/v1/margin-mode", {"symbol": PERP, "mode": "both"}, "mode: expected one of"),
        ("GET", "/v1/trades", None, "symbol: query parameter required"),
        ("GET", "/v1/instrument", None, "symbol: query parameter required"),
    ],
)
async def test_bad_input_is_refused_naming_the_field(
    serve: Any, method: str, path: str, body: Any, field: str
) -> None:
    exchange = paper_exchange()
    server = await serve(create_gateway_app(exchange, connector="paper-main", exchange="binance"))
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.request(method, path, json=body)
    assert response.status_code == 400
    assert field in response.json()["message"]
    assert exchange.orders == {}
    assert exchange.open_orders() == []
    assert all(m.position.leverage == 1.0 for m in exchange.markets.values())


async def test_an_unexpected_error_keeps_its_text_in_the_gateway(serve: Any) -> None:
    h = await open_harness("gateway", serve)
    h.exchange.fail_next("fetch_positions", RuntimeError("internal detail 0xdeadbeef"))
    with pytest.raises(GatewayError) as caught:
        await h.venue.fetch_positions()
    assert isinstance(caught.value, ExchangeFailure)  # the worker's rules for it apply
    assert caught.value.kind == "internal"
    assert "0xdeadbeef" not in str(caught.value)
    await h.venue.close()


async def test_without_the_gateway_calls_fail_and_orders_stay_in_flight(serve: Any) -> None:
    exchange = paper_exchange()
    server = await serve(create_gateway_app(exchange, connector="paper-main", exchange="binance"))
    venue = GatewayVenue(server.url, backoff_s=0.01, attempts=2)
    recorder = Recorder()
    await venue.connect(recorder)
    await server.stop()
    with pytest.raises(GatewayUnavailable) as caught:
        await venue.fetch_positions()
    assert isinstance(caught.value, VenueUnavailable)  # retry and failover treat it as an outage
    assert caught.value.retryable
    pending = order("u-1")
    venue.submit(pending)
    await asyncio.sleep(0.2)
    assert pending.status is OrderStatus.NEW  # unknown, not rejected: reconciliation decides
    assert recorder.events == []
    assert not venue.healthy()
    await venue.close()
    with pytest.raises(GatewayUnavailable):
        await GatewayVenue(server.url, timeout_s=0.3).connect(Recorder())


class _StubCcxt:
    """The two parts of a ccxt exchange venue the health probe reads."""

    class Limiter:
        waits = 7

        def headroom(self) -> float:
            return 0.25

    class Exchange:
        def __init__(self, has_time: bool) -> None:
            self.has = {"fetchTime": has_time}

        async def fetch_time(self) -> int:
            import time

            return int(time.time() * 1000) - 40

    def __init__(self, has_time: bool = True, healthy: bool = True) -> None:
        self.exchange = self.Exchange(has_time)
        self.limiter = self.Limiter()
        self._healthy = healthy

    def healthy(self) -> bool:
        return self._healthy


async def test_a_ccxt_venues_clock_and_limiter_feed_the_status() -> None:
    from axis.gateway.health import CcxtHealth, ExchangeHealth, health_source

    venue = _StubCcxt()
    source = health_source(venue)
    assert isinstance(source, CcxtHealth)
    health = ExchangeHealth("binance", "stub-main", source=source)
    await health.probe(venue, lambda t: t)  # type: ignore[arg-type]
    assert health.reachable is True
    assert health.clock_skew_ms == pytest.approx(-40.0, abs=30.0)
    assert health.rate_limit_headroom == 0.25
    no_clock = _StubCcxt(has_time=False, healthy=False)
    health = ExchangeHealth("gate", "stub-main", source=health_source(no_clock))
    await health.probe(no_clock, lambda t: t)  # type: ignore[arg-type]
    assert health.reachable is False
    assert health.clock_skew_ms is None
    exchange = paper_exchange()
    assert health_source(exchange) is exchange  # it has the hooks itself


async def test_a_gateway_whose_exchange_is_down_serves_not_ready_and_keeps_trying(
    serve: Any,
) -> None:
    from axis.venues.errors import VenueUnavailable

    exchange = paper_exchange()
    exchange.fail_next("connect", VenueUnavailable("exchange unreachable"), times=3)
    app = create_gateway_app(
        exchange, connector="paper-main", exchange="binance", connect_wait_s=0.05
    )
    server = await serve(app)
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 503
        status = (await client.get("/status")).json()
        assert status["reachable"] is False
        assert status["lastError"] == "VenueUnavailable: exchange unreachable"
        refused = await client.get("/v1/positions")
        assert refused.status_code == 502
        assert refused.json()["kind"] == "VenueUnavailable"
        async with asyncio.timeout(5):  # retries after 0.05, 0.1, 0.2 s, then connects
            while (await client.get("/readyz")).status_code != 200:
                await asyncio.sleep(0.02)
        assert (await client.get("/v1/positions")).json() == []


async def test_closing_lets_a_cancel_in_flight_reach_the_exchange(serve: Any) -> None:
    h = await open_harness("gateway", serve)
    resting = order("c-1", OrderType.LIMIT, 30_000.0)
    h.venue.submit(resting)
    await h.recorder.wait_for(1)
    h.venue.cancel("c-1")  # a worker's shutdown: cancel entry orders, then close
    await h.venue.close()
    assert h.exchange.orders["c-1"].status is OrderStatus.CANCELLED
    assert h.exchange.open_orders() == []
