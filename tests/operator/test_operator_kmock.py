"""The handlers under kopf.testing.KopfRunner against kmock's Kubernetes API emulator, with a
real HTTP server playing the workers' and gateways' health, status and drain endpoints."""

from __future__ import annotations

import json
from typing import Any

import pytest

API = "trading.axis.io/v1alpha1"
GATEWAY_OK = {
    "exchange": "binance",
    "reachable": True,
    "clockSkewMs": 3.0,
    "rateLimitHeadroom": 0.9,
    "lastError": None,
}
WORKER_RUNNING = {
    "phase": "Running",
    "mode": "paper",
    "tradingState": "active",
    "equity": 10123.5,
    "openPositions": 1,
    "lastDecisionAt": "2024-01-01T00:00:00Z",
    "venues": [{"name": "binance-main", "healthy": True}],
}

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def strategy(name: str = "btc-trend", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "strategy": "trend_futures",
        "symbols": ["BTC/USDT:USDT"],
        "connectors": ["binance-main"],
    }
    body.update(spec)
    return {"apiVersion": API, "kind": "TradingStrategy", "metadata": {"name": name}, "spec": body}


def connector(name: str = "binance-main", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "exchange": "binance",
        "credentials": {"secretRef": {"name": "binance-keys"}},
    }
    body.update(spec)
    return {
        "apiVersion": API,
        "kind": "ExchangeConnector",
        "metadata": {"name": name},
        "spec": body,
    }


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for found in ((obj or {}).get("status") or {}).get("conditions", []):
        if found["type"] == type_:
            return dict(found)
    return {}


def test_create_renders_adopted_children_and_reaches_ready(
    cluster, fakes, start_operator, wait
) -> None:
    fakes.gateway("binance-main", status=dict(GATEWAY_OK))
    fakes.worker("btc-trend", status=dict(WORKER_RUNNING))
    with start_operator():
        cluster.create(connector())
        created = cluster.create(strategy())
        wait(
            lambda: (
                condition(cluster.get(API, "TradingStrategy", "btc-trend"), "Ready").get("status")
                == "True"
            ),
            what="strategy Ready",
        )
        got = cluster.get(API, "TradingStrategy", "btc-trend")
        gateway = cluster.get("apps/v1", "Deployment", "binance-main-gateway")
    status = got["status"]
    assert status["phase"] == "Running"
    assert status["equity"] == 10123.5
    assert status["openPositions"] == 1
    assert status["lastDecisionAt"] == "2024-01-01T00:00:00Z"
    assert status["connectors"] == [
        {"name": "binance-main", "ready": True, "message": status["connectors"][0]["message"]}
    ]
    assert status["observedGeneration"] == 1
    ready = condition(got, "Ready")
    assert ready["reason"] == "WorkerReady"
    assert ready["observedGeneration"] == 1
    assert condition(got, "Degraded")["status"] == "False"
    for api_version, kind in [
        ("v1", "ConfigMap"),
        ("v1", "ServiceAccount"),
        ("v1", "Service"),
        ("policy/v1", "PodDisruptionBudget"),
        ("networking.k8s.io/v1", "NetworkPolicy"),
        ("apps/v1", "Deployment"),
    ]:
        child = cluster.get(api_version, kind, "btc-trend-worker")
        assert child is not None, kind
        (owner,) = child["metadata"]["ownerReferences"]
        assert owner["uid"] == created["metadata"]["uid"]
        assert owner["controller"] is True
        assert child["metadata"]["labels"]["trading.axis.io/tradingstrategy"] == "btc-trend"
    deployment = cluster.get("apps/v1", "Deployment", "btc-trend-worker")
    env = {
        e["name"]: e.get("value")
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert json.loads(env["AXIS_GATEWAYS"]) == {
        "binance-main": "http://binance-main-gateway.trading.svc:8080"
    }
    assert gateway is not None
    connector_obj = cluster.get(API, "ExchangeConnector", "binance-main")
    assert connector_obj["status"]["phase"] == "Ready"
    assert connector_obj["status"]["clockSkewMs"] == 3.0


def test_spec_change_rolls_the_worker(cluster, fakes, start_operator, wait) -> None:
    fakes.worker("btc-trend", status=dict(WORKER_RUNNING))
    fakes.gateway("binance-main", status=dict(GATEWAY_OK))

    def pod_hash() -> str | None:
        deployment = cluster.get("apps/v1", "Deployment", "btc-trend-worker")
        if deployment is None:
            return None
        return deployment["spec"]["template"]["metadata"]["annotations"][
            "trading.axis.io/spec-hash"
        ]

    with start_operator():
        cluster.create(strategy())
        first = wait(pod_hash, what="deployment")
        cluster.patch(
            API,
            "TradingStrategy",
            "btc-trend",
            {"metadata": {"generation": 2}, "spec": {"leverage": 3, "timeframe": "15m"}},
        )
        second = wait(lambda: pod_hash() not in (None, first) and pod_hash(), what="new hash")
        config = wait(
            lambda: (
                "timeframe: 15m"
                in (cluster.get("v1", "ConfigMap", "btc-trend-worker") or {})
                .get("data", {})
                .get("strategy.yaml", "")
            ),
            what="config map updated",
        )
        observed = wait(
            lambda: (
                (cluster.get(API, "TradingStrategy", "btc-trend")["status"] or {}).get(
                    "observedGeneration"
                )
                == 2
            ),
            what="observedGeneration 2",
        )
    assert second != first
    assert config
    assert observed
    deployment = cluster.get("apps/v1", "Deployment", "btc-trend-worker")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert deployment["spec"]["replicas"] == 1


def test_pause_drains_without_flattening_then_scales_to_zero(
    cluster, fakes, start_operator, wait
) -> None:
    worker = fakes.worker("btc-trend", status=dict(WORKER_RUNNING), finish_drain=False)
    fakes.gateway("binance-main", status=dict(GATEWAY_OK))

    def replicas() -> int | None:
        deployment = cluster.get("apps/v1", "Deployment", "btc-trend-worker")
        return None if deployment is None else deployment["spec"]["replicas"]

    with start_operator():
        cluster.create(strategy())
        wait(lambda: replicas() == 1, what="running worker")
        cluster.patch(
            API,
            "TradingStrategy",
            "btc-trend",
            {"metadata": {"generation": 2}, "spec": {"paused": True}},
        )
        wait(lambda: worker.drain_requests, what="drain request")
        draining = wait(
            lambda: (
                (cluster.get(API, "TradingStrategy", "btc-trend")["status"] or {}).get("phase")
                == "Draining"
            ),
            what="Draining phase",
        )
        assert replicas() == 1  # still running while it has not stopped opening risk
        worker.drain = "done"
        wait(lambda: replicas() == 0, what="scaled to zero")
        paused = wait(
            lambda: (
                (cluster.get(API, "TradingStrategy", "btc-trend")["status"] or {}).get("phase")
                == "Paused"
            ),
            what="Paused phase",
        )
    assert draining
    assert paused
    assert worker.drain_requests[0] == {"flatten": False}


def test_delete_flattens_through_the_finalizer(cluster, fakes, start_operator, wait) -> None:
    worker = fakes.worker("btc-trend", status=dict(WORKER_RUNNING))
    fakes.gateway("binance-main", status=dict(GATEWAY_OK))
    with start_operator():
        cluster.create(strategy())
        wait(
            lambda: (
                "trading.axis.io/drain"
                in cluster.get(API, "TradingStrategy", "btc-trend")["metadata"].get(
                    "finalizers", []
                )
            ),
            what="finalizer",
        )
        wait(lambda: cluster.get("apps/v1", "Deployment", "btc-trend-worker"), what="worker")
        cluster.delete(API, "TradingStrategy", "btc-trend")
        gone = wait(lambda: cluster.get(API, "TradingStrategy", "btc-trend") is None, what="gone")
        drained = wait(
            lambda: [e for e in cluster.list("v1", "Event") if e.get("reason") == "Drained"],
            what="Drained event",
        )
    assert gone
    assert worker.drain_requests == [{"flatten": True}]
    assert drained[0]["type"] == "Normal"
    assert "flattened" in drained[0]["message"]


def test_delete_keeps_positions_when_asked(cluster, fakes, start_operator, wait) -> None:
    worker = fakes.worker("btc-trend", status=dict(WORKER_RUNNING))
    with start_operator():
        cluster.create(strategy(onDelete="keep"))
        wait(lambda: cluster.get("apps/v1", "Deployment", "btc-trend-worker"), what="worker")
        wait(
            lambda: cluster.get(API, "TradingStrategy", "btc-trend")["metadata"].get("finalizers"),
            what="finalizer",
        )
        cluster.delete(API, "TradingStrategy", "btc-trend")
        wait(lambda: cluster.get(API, "TradingStrategy", "btc-trend") is None, what="gone")
    assert worker.drain_requests == [{"flatten": False}]


def test_delete_times_out_with_an_event_and_degraded_condition(
    cluster, fakes, start_operator, wait
) -> None:
    worker = fakes.worker("btc-trend", status=dict(WORKER_RUNNING), finish_drain=False)
    with start_operator():
        cluster.create(strategy(drainTimeoutSeconds=10))
        wait(lambda: cluster.get("apps/v1", "Deployment", "btc-trend-worker"), what="worker")
        wait(
            lambda: cluster.get(API, "TradingStrategy", "btc-trend")["metadata"].get("finalizers"),
            what="finalizer",
        )
        cluster.delete(API, "TradingStrategy", "btc-trend")
        draining = wait(
            lambda: (
                ((cluster.get(API, "TradingStrategy", "btc-trend") or {}).get("status") or {}).get(
                    "phase"
                )
                == "Draining"
            ),
            what="Draining while the worker has not confirmed",
        )
        gone = wait(
            lambda: cluster.get(API, "TradingStrategy", "btc-trend") is None,
            timeout=25,
            what="deletion after the timeout",
        )
        timeout_events = wait(
            lambda: [e for e in cluster.list("v1", "Event") if e.get("reason") == "DrainTimeout"],
            what="DrainTimeout event",
        )
        assert cluster.emulator is not None
        history = [
            version.raw
            for key, obj in list(cluster.emulator.objects.items())
            if key[2] == "btc-trend" and "tradingstrategies" in str(key[0])
            for version in obj.history
            if version is not None
        ]
    assert draining
    assert gone
    assert worker.drain_requests == [{"flatten": True}]
    assert timeout_events[0]["type"] == "Warning"
    degraded = [
        c
        for version in history
        for c in (version.get("status") or {}).get("conditions", [])
        if c["type"] == "Degraded" and c["reason"] == "DrainTimeout"
    ]
    assert degraded
    assert degraded[-1]["status"] == "True"


def test_unhealthy_connector_degrades_every_strategy_using_it(
    cluster, fakes, start_operator, wait
) -> None:
    gateway = fakes.gateway("binance-main", status=dict(GATEWAY_OK))
    fakes.worker("btc-trend", status=dict(WORKER_RUNNING))
    fakes.worker("eth-trend", status=dict(WORKER_RUNNING))
    fakes.worker("sol-paper", status=dict(WORKER_RUNNING))

    def phase(name: str) -> str | None:
        return ((cluster.get(API, "TradingStrategy", name) or {}).get("status") or {}).get("phase")

    with start_operator():
        cluster.create(connector())
        cluster.create(strategy("btc-trend"))
        cluster.create(strategy("eth-trend", symbols=["ETH/USDT:USDT"]))
        cluster.create(strategy("sol-paper", symbols=["SOL/USDT:USDT"], connectors=[]))
        wait(
            lambda: {phase(n) for n in ("btc-trend", "eth-trend", "sol-paper")} == {"Running"},
            what="all running",
        )
        gateway.status.update(reachable=False, lastError="HTTP 503 from fapi.binance.com")
        wait(lambda: phase("btc-trend") == phase("eth-trend") == "Degraded", what="degraded")
        got = cluster.get(API, "TradingStrategy", "btc-trend")
        sol = phase("sol-paper")
        connector_obj = cluster.get(API, "ExchangeConnector", "binance-main")
    assert sol == "Running"  # does not use the connector
    assert condition(got, "Ready")["status"] == "False"
    assert condition(got, "Degraded")["reason"] == "ConnectorUnhealthy"
    assert "binance-main" in condition(got, "Degraded")["message"]
    assert connector_obj["status"]["lastError"] == "HTTP 503 from fapi.binance.com"
    assert condition(connector_obj, "Ready")["reason"] == "ExchangeUnreachable"


def test_restart_resumes_without_duplicate_children(cluster, fakes, start_operator, wait) -> None:
    fakes.worker("btc-trend", status=dict(WORKER_RUNNING))
    fakes.gateway("binance-main", status=dict(GATEWAY_OK))
    with start_operator():
        cluster.create(connector())
        cluster.create(strategy())
        wait(lambda: cluster.get("apps/v1", "Deployment", "btc-trend-worker"), what="worker")
        wait(lambda: cluster.get("apps/v1", "Deployment", "binance-main-gateway"), what="gw")
    creates_before = cluster.requests_made("POST", "/deployments")
    with start_operator():
        wait(
            lambda: cluster.requests_made("PATCH", "/deployments/btc-trend-worker") >= 2,
            what="resume re-applied the worker",
        )
        wait(
            lambda: (
                (cluster.get(API, "TradingStrategy", "btc-trend")["status"] or {}).get("phase")
                == "Running"
            ),
            what="running after restart",
        )
        deployments = cluster.list("apps/v1", "Deployment")
    assert creates_before == 2
    assert cluster.requests_made("POST", "/deployments") == creates_before
    assert sorted(d["metadata"]["name"] for d in deployments) == [
        "binance-main-gateway",
        "btc-trend-worker",
    ]


def test_invalid_spec_is_reported_not_rendered(cluster, fakes, start_operator, wait) -> None:
    with start_operator():
        cluster.create(strategy(mode="live", connectors=[]))
        degraded = wait(
            lambda: condition(cluster.get(API, "TradingStrategy", "btc-trend"), "Degraded"),
            what="Degraded",
        )
        deployment = cluster.get("apps/v1", "Deployment", "btc-trend-worker")
    assert degraded["reason"] == "InvalidSpec"
    assert "live mode needs at least one connector" in degraded["message"]
    assert deployment is None
