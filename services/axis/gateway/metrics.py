"""The gateway's Prometheus metrics, under the names the chart's dashboards and alerts use.
Registered in the platform registry (:data:`axis.observability.metrics.REGISTRY`), so the
gateway's ``/metrics`` also carries the process collectors."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from axis.observability.metrics import REGISTRY

request_duration = Histogram(
    "axis_gateway_request_duration_seconds",
    "Venue calls served by the gateway, by venue method",
    ["connector", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
errors_total = Counter(
    "axis_gateway_errors_total",
    "Venue calls that failed, by error class of the venue taxonomy",
    ["connector", "kind"],
    registry=REGISTRY,
)
rate_limit_headroom = Gauge(
    "axis_gateway_rate_limit_headroom",
    "Share of the account's request weight still available (0..1)",
    ["connector"],
    registry=REGISTRY,
)
rate_limit_waits_total = Counter(
    "axis_gateway_rate_limit_waits_total",
    "Requests that waited for the rate limiter",
    ["connector"],
    registry=REGISTRY,
)
