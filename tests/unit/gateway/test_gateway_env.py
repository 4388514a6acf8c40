"""A worker's gateways come from the environment the operator renders."""

from __future__ import annotations

import pytest

from axis.config.backtest import ConfigError
from axis.venues.gateway import gateway_venues


def test_a_worker_finds_its_gateways_in_failover_order() -> None:
    env = {
        "AXIS_GATEWAYS": '{"binance-main": "http://binance-main-gateway.t.svc:8080",'
        ' "bybit-main": "http://bybit-main-gateway.t.svc:8080/"}',
        "AXIS_GATEWAY_TOKEN": "tkn",
    }
    venues = gateway_venues(env)
    assert [(v.name, v.base_url) for v in venues] == [
        ("binance-main", "http://binance-main-gateway.t.svc:8080"),
        ("bybit-main", "http://bybit-main-gateway.t.svc:8080"),
    ]
    assert gateway_venues({}) == []
    for bad in ("{", '["http://x"]', '{"a": "ftp://x"}'):
        with pytest.raises(ConfigError, match="AXIS_GATEWAYS"):
            gateway_venues({"AXIS_GATEWAYS": bad})
