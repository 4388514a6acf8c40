"""Status as pure functions, and the registry the operator runs with."""

from __future__ import annotations

import kopf
from kubernetes import client as k8s

from axis_operator.handlers import FINALIZER, configure_kopf
from axis_operator.kube import Kube
from axis_operator.main import build_registry
from axis_operator.settings import OperatorSettings
from axis_operator.status import (
    ConnectorHealth,
    WorkerReport,
    connector_status,
    set_condition,
    strategy_status,
)

RUNNING = {
    "phase": "Running",
    "mode": "live",
    "tradingState": "active",
    "equity": 5.0,
    "openPositions": 0,
    "lastDecisionAt": None,
    "venues": [{"name": "a", "healthy": True}],
}


def by_type(patch: dict) -> dict[str, dict]:
    return {c["type"]: c for c in patch["conditions"]}


def test_transition_time_moves_only_when_the_status_does() -> None:
    first = set_condition([], "Ready", False, "Starting", "", 1, "2024-01-01T00:00:00Z")
    same = set_condition(first, "Ready", False, "StillStarting", "x", 2, "2024-01-01T00:05:00Z")
    flipped = set_condition(same, "Ready", True, "WorkerReady", "", 2, "2024-01-01T00:09:00Z")
    assert same[0]["lastTransitionTime"] == "2024-01-01T00:00:00Z"
    assert same[0]["observedGeneration"] == 2
    assert same[0]["reason"] == "StillStarting"
    assert flipped[0]["lastTransitionTime"] == "2024-01-01T00:09:00Z"
    unknown = set_condition([], "Degraded", None, "NoData", "", 1, "t")
    assert unknown[0]["status"] == "Unknown"


def test_strategy_phases() -> None:
    now = "2024-01-01T00:00:00Z"
    ok = strategy_status(
        WorkerReport(status=RUNNING, ready=True), paused=False, generation=3, conditions=[], now=now
    )
    assert ok["phase"] == "Running"
    assert by_type(ok)["Ready"]["status"] == "True"
    assert by_type(ok)["Progressing"]["status"] == "False"
    assert "lastDecisionAt" not in ok  # null is not copied over a previous value
    assert ok["venues"] == [{"name": "a", "healthy": True}]
    starting = strategy_status(
        WorkerReport(status={"phase": "Starting"}, ready=False),
        paused=False,
        generation=3,
        conditions=[],
        now=now,
    )
    assert starting["phase"] == "Starting"
    assert by_type(starting)["Progressing"]["status"] == "True"
    halted = strategy_status(
        WorkerReport(status={**RUNNING, "tradingState": "halted"}, ready=True),
        paused=False,
        generation=3,
        conditions=[],
        now=now,
    )
    assert halted["phase"] == "Halted"
    assert by_type(halted)["Degraded"]["status"] == "True"
    unreachable = strategy_status(
        WorkerReport(error="timeout"), paused=False, generation=3, conditions=[], now=now
    )
    assert unreachable["phase"] == "Pending"
    assert by_type(unreachable)["Ready"]["reason"] == "WorkerUnreachable"
    paused = strategy_status(WorkerReport(), paused=True, generation=3, conditions=[], now=now)
    assert paused["phase"] == "Paused"
    assert by_type(paused)["Progressing"]["status"] == "False"
    bad_gateway = [ConnectorHealth("okx", False, "okx not reachable")]
    degraded = strategy_status(
        WorkerReport(status=RUNNING, ready=True, connectors=bad_gateway),
        paused=False,
        generation=3,
        conditions=[],
        now=now,
    )
    assert degraded["phase"] == "Degraded"
    assert by_type(degraded)["Degraded"]["message"] == "okx: okx not reachable"


def test_connector_phases() -> None:
    now = "t"
    good = {
        "exchange": "okx",
        "reachable": True,
        "clockSkewMs": 1.5,
        "rateLimitHeadroom": 0.7,
        "lastError": None,
    }
    ready = connector_status(good, True, None, generation=1, conditions=[], now=now)
    assert ready["phase"] == "Ready"
    assert ready["lastError"] == ""
    assert ready["rateLimitHeadroom"] == 0.7
    down = connector_status(
        {**good, "reachable": False, "lastError": "HTTP 503"},
        True,
        None,
        generation=1,
        conditions=[],
        now=now,
    )
    assert down["phase"] == "Degraded"
    assert by_type(down)["Ready"]["reason"] == "ExchangeUnreachable"
    assert down["lastError"] == "HTTP 503"
    gone = connector_status(None, False, "refused", generation=1, conditions=[], now=now)
    assert gone["phase"] == "Pending"
    assert by_type(gone)["Ready"]["reason"] == "GatewayUnreachable"


def test_registry_holds_every_handler_and_a_cluster_login() -> None:
    kube = Kube(k8s.ApiClient(k8s.Configuration(host="http://127.0.0.1:9")))
    registry = build_registry(OperatorSettings(), kube)
    activities = [h.id for h in registry._activities.get_all_handlers()]
    assert "login_via_client" in activities
    changing = " ".join(h.id for h in registry._changing.get_all_handlers())
    for handler in ("reconcile_strategy", "drain_strategy", "reconcile_connector"):
        assert handler in changing
    timers = [h.id for h in registry._spawning.get_all_handlers()]
    assert len(timers) == 2
    bare = build_registry(OperatorSettings(), kube, cluster_login=False)
    assert "login_via_client" not in [h.id for h in bare._activities.get_all_handlers()]


def test_kopf_settings() -> None:
    settings = kopf.OperatorSettings()
    configure_kopf(settings, "axis-operator")
    assert settings.persistence.finalizer == FINALIZER == "trading.axis.io/drain"
    assert isinstance(settings.persistence.progress_storage, kopf.AnnotationsProgressStorage)
    assert settings.peering.name == "axis-operator"
