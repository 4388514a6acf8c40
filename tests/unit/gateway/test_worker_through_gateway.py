"""A live worker on a gateway: ``axis trade``'s own preparation reads the instrument and the
candles through GatewayVenue before connecting, then starts (connects the stream, adopts the
balance, reconciles) and stops cleanly, all through the gateway."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from axis.config.specs import TradingStrategySpec
from axis.domain.catalog import instrument_for
from axis.gateway import create_gateway_app
from axis.venues.gateway import GatewayVenue
from axis.worker.build import WorkerOptions
from axis.worker.main import prepare_worker
from axis.worker.status import WorkerPhase

from .conftest import PERP, paper_exchange

pytestmark = pytest.mark.asyncio


async def test_a_live_worker_starts_reconciles_and_stops_through_the_gateway(
    serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exchange = paper_exchange()
    for _ in range(5):
        exchange.step()
    server = await serve(
        create_gateway_app(exchange, connector="paper-main", exchange="binance", token="tkn")
    )
    monkeypatch.setenv("AXIS_GATEWAYS", json.dumps({"paper-main": server.url}))
    monkeypatch.setenv("AXIS_GATEWAY_TOKEN", "tkn")
    spec = TradingStrategySpec.model_validate(
        {
            "strategy": "trend_futures",
            "mode": "live",
            "symbols": [PERP],
            "timeframe": "5m",
            "connectors": ["paper-main"],
        }
    )
    options = WorkerOptions(name="gw-live", database_url=f"sqlite:///{tmp_path / 'axis.db'}")
    worker = await prepare_worker(spec, options)
    assert isinstance(worker.live, GatewayVenue)
    assert worker.engine.instrument == instrument_for(PERP)
    run = asyncio.create_task(worker.run())
    async with asyncio.timeout(10):
        while worker.status().phase is not WorkerPhase.RUNNING:
            assert not run.done(), run.exception()
            await asyncio.sleep(0.02)
    assert worker.live.healthy()
    status = worker.status()
    assert status.mode == "live"
    # The balance adopted from the exchange: two paper markets with 10,000 USDT each.
    assert status.equity == pytest.approx(20_000.0)
    worker.request_stop()
    async with asyncio.timeout(30):
        final = await run
    assert final.phase is WorkerPhase.STOPPED
