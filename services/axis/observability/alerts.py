"""Alerts: one call that logs, counts and hands an alert to whoever delivers them.

``raise_alert`` writes a ``critical``/``warning`` log line, increments ``alerts_total`` and calls
every registered sink (the notifier registers Slack/Telegram/webhook delivery; the API
registers the event stream). A failing sink is logged and skipped: an alert about Redis being
down must not fail because Redis is down.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from axis.observability.logging import get_logger
from axis.observability.metrics import alerts_total

log = get_logger("axis.alerts")


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str
    message: str
    severity: str = "critical"
    fields: dict[str, Any] = field(default_factory=dict)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_event(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "message": self.message,
            "severity": self.severity,
            "time": self.time.isoformat(),
            **{k: str(v) for k, v in self.fields.items()},
        }


AlertSink = Callable[[Alert], None]

_sinks: list[AlertSink] = []
_lock = threading.Lock()


def add_sink(sink: AlertSink) -> None:
    with _lock:
        if sink not in _sinks:
            _sinks.append(sink)


def remove_sink(sink: AlertSink) -> None:
    with _lock:
        if sink in _sinks:
            _sinks.remove(sink)


def raise_alert(kind: str, message: str, severity: str = "critical", **fields: Any) -> Alert:
    alert = Alert(kind, message, severity, dict(fields))
    alerts_total.labels(kind=kind, severity=severity).inc()
    emit = {"critical": log.critical, "info": log.info}.get(severity, log.warning)
    emit("alert", kind=kind, message=message, **fields)
    with _lock:
        sinks = list(_sinks)
    for sink in sinks:
        try:
            sink(alert)
        except Exception as exc:  # a broken sink must not hide the alert or break the caller
            log.error("alert_sink_failed", kind=kind, sink=repr(sink), error=str(exc))
    return alert
