"""The handlers under kopf.testing.KopfRunner against kmock's Kubernetes API emulator, with a
real HTTP server playing the worker and gateway health endpoints."""

from __future__ import annotations

from typing import Any

API = "trading.axis.io/v1alpha1"


def strategy(name: str = "btc-trend", **spec: Any) -> dict[str, Any]:
    body = {"strategy": "trend_futures", "symbols": ["BTC/USDT:USDT"], "connectors": ["binance-main"]}
    body.update(spec)
    return {"apiVersion": API, "kind": "TradingStrategy", "metadata": {"name": name}, "spec": body}


def connector(name: str = "binance-main", **spec: Any) -> dict[str, Any]:
    body = {"exchange": "binance", "credentials": {"secretRef": {"name": "binance-keys"}}}
    body.update(spec)
    return {"apiVersion": API, "kind": "ExchangeConnector", "metadata": {"name": name}, "spec": body}


def ready_of(obj: dict[str, Any] | None) -> str | None:
    for condition in ((obj or {}).get("status") or {}).get("conditions", []):
        if condition["type"] == "Ready":
            return str(condition["status"])
    return None


def test_create_strategy_children_and_ready(cluster, fakes, start_operator, wait) -> None:
    fakes.gateway("binance-main", status={"exchange": "binance", "reachable": True,
                                          "clockSkewMs": 3.0, "rateLimitHeadroom": 0.9,
                                          "lastError": None})
    fakes.worker("btc-trend", status={"phase": "Running", "mode": "paper",
                                      "tradingState": "active", "equity": 10123.5,
                                      "openPositions": 1, "lastDecisionAt": "2024-01-01T00:00:00Z",
                                      "venues": [{"name": "binance-main", "healthy": True}]})
    with start_operator() as runner:
        cluster.create(connector())
        cluster.create(strategy())
        wait(lambda: cluster.get("apps/v1", "Deployment", "btc-trend-worker"), what="deployment")
        done = wait(lambda: ready_of(cluster.get(API, "TradingStrategy", "btc-trend")) == "True",
                    what="Ready")
        obj = cluster.get(API, "TradingStrategy", "btc-trend")
        print(obj["status"])
    print(runner.output[-3000:])
    assert done
