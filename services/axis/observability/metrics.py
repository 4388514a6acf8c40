"""Prometheus metrics of AXIS processes.

The trading metrics carry the seed's names (§9.1): ``trades_total{side,symbol}``,
``trade_pnl`` (histogram), ``open_positions{user_id}``, ``liquidation_distance{user_id}``.
Around them: HTTP latency and error counters, cache hits/misses, risk vetoes, rate limiting,
alerts and backtest jobs. They live in one registry of their own (``REGISTRY``) so that a test
creating many apps in one process never registers a name twice.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    gc_collector,
    generate_latest,
    platform_collector,
    process_collector,
)

REGISTRY = CollectorRegistry(auto_describe=True)
process_collector.ProcessCollector(registry=REGISTRY)
platform_collector.PlatformCollector(registry=REGISTRY)
gc_collector.GCCollector(registry=REGISTRY)

# -- the seed's trading metrics ---------------------------------------------------------------
trades_total = Counter(
    "trades_total", "Total trades executed", ["side", "symbol"], registry=REGISTRY
)
trade_pnl = Histogram(
    "trade_pnl",
    "Trade P&L distribution (settle currency, net of fees)",
    buckets=(-10_000, -1000, -500, -100, -50, -10, 0, 10, 50, 100, 500, 1000, 10_000),
    registry=REGISTRY,
)
open_positions = Gauge("open_positions", "Number of open positions", ["user_id"], registry=REGISTRY)
liquidation_distance = Gauge(
    "liquidation_distance",
    "Closest liquidation distance (fraction of the mark)",
    ["user_id"],
    registry=REGISTRY,
)

# -- requests ---------------------------------------------------------------------------------
http_request_duration = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
http_errors_total = Counter(
    "http_errors_total",
    "HTTP responses with a 4xx or 5xx status",
    ["method", "route", "status"],
    registry=REGISTRY,
)
rate_limited_total = Counter(
    "rate_limited_total", "Requests refused by a rate limit", ["scope"], registry=REGISTRY
)

# -- cache, risk, alerts, jobs ----------------------------------------------------------------
cache_requests_total = Counter(
    "cache_requests_total",
    "Cache reads by kind of data and result (hit, miss, error)",
    ["kind", "result"],
    registry=REGISTRY,
)
risk_decisions_total = Counter(
    "risk_decisions_total",
    "Risk chain answers on API orders (action pass|resize|veto, rule)",
    ["action", "rule"],
    registry=REGISTRY,
)
alerts_total = Counter("alerts_total", "Alerts raised", ["kind", "severity"], registry=REGISTRY)
backtest_jobs_total = Counter(
    "backtest_jobs_total", "Backtest jobs finished, by status", ["status"], registry=REGISTRY
)


def render() -> tuple[bytes, str]:
    """The exposition text and its content type, for ``GET /metrics``."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def cache_hit_rate(kind: str | None = None) -> float:
    """Hits / (hits + misses + errors) so far, over one kind or all; nan before any read."""
    hits = total = 0.0
    for metric in cache_requests_total.collect():
        for sample in metric.samples:
            if not sample.name.endswith("_total"):
                continue
            if kind is not None and sample.labels.get("kind") != kind:
                continue
            total += sample.value
            if sample.labels.get("result") == "hit":
                hits += sample.value
    return hits / total if total else float("nan")
