"""Status as pure functions: conditions with stable transition times, the phase, and the status
patch built from what the worker, its gateways and the Deployment report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Condition = dict[str, Any]


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def set_condition(
    conditions: Sequence[Condition],
    type_: str,
    status: bool | None,
    reason: str,
    message: str,
    generation: int,
    now: str,
) -> list[Condition]:
    """Conditions with ``type_`` set; lastTransitionTime moves only when the status does."""
    text = "Unknown" if status is None else ("True" if status else "False")
    previous = next((c for c in conditions if c.get("type") == type_), None)
    since = previous["lastTransitionTime"] if previous and previous.get("status") == text else now
    updated = {
        "type": type_,
        "status": text,
        "reason": reason,
        "message": message[:4096],
        "lastTransitionTime": since,
        "observedGeneration": generation,
    }
    out = [c for c in conditions if c.get("type") != type_]
    out.append(updated)
    return sorted(
        out,
        key=lambda c: (
            ["Ready", "Progressing", "Degraded"].index(c["type"])
            if c["type"] in ("Ready", "Progressing", "Degraded")
            else 99
        ),
    )


def condition_status(conditions: Sequence[Condition], type_: str) -> str | None:
    found = next((c for c in conditions if c.get("type") == type_), None)
    return None if found is None else str(found.get("status"))


@dataclass(frozen=True)
class ConnectorHealth:
    name: str
    ready: bool
    message: str


@dataclass(frozen=True)
class WorkerReport:
    """What one probe of the worker found: its /status body and /readyz answer, or the error."""

    status: Mapping[str, Any] | None = None
    ready: bool = False
    error: str | None = None
    connectors: list[ConnectorHealth] = field(default_factory=list)


def strategy_status(
    report: WorkerReport,
    *,
    paused: bool,
    generation: int,
    conditions: Sequence[Condition],
    now: str,
) -> dict[str, Any]:
    """The TradingStrategy status patch from one refresh."""
    worker = dict(report.status or {})
    unhealthy = [c for c in report.connectors if not c.ready]
    patch: dict[str, Any] = {
        "lastRefreshedAt": now,
        "connectors": [
            {"name": c.name, "ready": c.ready, "message": c.message} for c in report.connectors
        ],
    }
    for key in ("mode", "tradingState", "equity", "openPositions", "lastDecisionAt"):
        if worker.get(key) is not None:
            patch[key] = worker[key]
    if "venues" in worker:
        patch["venues"] = [
            {"name": str(v.get("name")), "healthy": bool(v.get("healthy"))}
            for v in worker["venues"]
        ]
    worker_phase = str(worker.get("phase") or "")
    if paused:
        phase, ready, reason, message = "Paused", False, "Paused", "paused: scaled to zero"
    elif report.error is not None:
        phase, ready, reason = "Pending", False, "WorkerUnreachable"
        message = f"worker not reachable: {report.error}"
    elif worker_phase == "Halted" or worker.get("tradingState") == "halted":
        phase, ready, reason, message = "Halted", False, "Halted", "worker halted trading"
    elif unhealthy:
        phase, ready, reason = "Degraded", False, "ConnectorUnhealthy"
        message = "; ".join(f"{c.name}: {c.message}" for c in unhealthy)
    elif report.ready and worker_phase in ("Running", ""):
        phase, ready, reason, message = "Running", True, "WorkerReady", "worker ready"
    else:
        phase, ready, reason = worker_phase or "Starting", False, "WorkerNotReady"
        message = "worker not ready yet"
    degraded = reason in ("Halted", "ConnectorUnhealthy")
    updated = set_condition(conditions, "Ready", ready, reason, message, generation, now)
    updated = set_condition(
        updated,
        "Degraded",
        degraded,
        reason if degraded else "AsExpected",
        message if degraded else "",
        generation,
        now,
    )
    updated = set_condition(
        updated,
        "Progressing",
        not ready and not degraded and not paused,
        "Rollout" if not ready and not degraded and not paused else "Settled",
        "",
        generation,
        now,
    )
    patch.update(phase=phase, message=message, conditions=updated)
    return patch


def connector_status(
    gateway: Mapping[str, Any] | None,
    ready: bool,
    error: str | None,
    *,
    generation: int,
    conditions: Sequence[Condition],
    now: str,
) -> dict[str, Any]:
    """The ExchangeConnector status patch from one probe of its gateway's /status and /readyz."""
    body = dict(gateway or {})
    patch: dict[str, Any] = {"lastRefreshedAt": now}
    for key in ("reachable", "clockSkewMs", "rateLimitHeadroom"):
        if body.get(key) is not None:
            patch[key] = body[key]
    patch["lastError"] = str(body.get("lastError") or error or "")
    if error is not None:
        healthy, reason, message = False, "GatewayUnreachable", f"gateway not reachable: {error}"
    elif not body.get("reachable", False):
        healthy, reason = False, "ExchangeUnreachable"
        message = f"{body.get('exchange', 'exchange')} not reachable: {body.get('lastError')}"
    elif not ready:
        healthy, reason, message = False, "GatewayNotReady", "gateway not ready"
    else:
        healthy, reason, message = True, "GatewayReady", "gateway ready, exchange reachable"
    patch["phase"] = "Ready" if healthy else "Degraded" if error is None else "Pending"
    patch["message"] = message
    updated = set_condition(conditions, "Ready", healthy, reason, message, generation, now)
    updated = set_condition(
        updated,
        "Degraded",
        not healthy and error is None,
        reason if not healthy else "AsExpected",
        message if not healthy else "",
        generation,
        now,
    )
    updated = set_condition(
        updated,
        "Progressing",
        error is not None,
        "Rollout" if error else "Settled",
        "",
        generation,
        now,
    )
    patch["conditions"] = updated
    return patch
