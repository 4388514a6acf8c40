"""A worker's Prometheus metrics, in a registry of its own (one per worker object, so tests and
``axis up`` can run several in one process). The names are the ones the chart's dashboards and
alerts query; keep them exact."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from axis.risk.limits import TradingState

#: ``axis_trading_state`` values: dashboards colour 0 green, 1 amber, 2 red.
STATE_CODES = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}

# Sub-millisecond to a second: the budget is 5 ms p99, and a slow risk check must still show.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.1, 1.0)


class WorkerMetrics:
    def __init__(self, strategy: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.strategy = strategy
        self.equity = Gauge("axis_equity", "Account equity (settle currency)", registry=r)
        self.drawdown = Gauge("axis_drawdown", "Fraction below the equity peak", registry=r)
        self.open_positions = Gauge("axis_open_positions", "Open positions", registry=r)
        self.position_notional = Gauge(
            "axis_position_notional", "Notional of open positions", ["symbol"], registry=r
        )
        self.unrealized_pnl = Gauge("axis_unrealized_pnl", "Unrealized P&L", registry=r)
        self.realized_pnl = Gauge("axis_realized_pnl", "Realized P&L", registry=r)
        self.liquidation_distance = Gauge(
            "axis_liquidation_distance",
            "|mark - liquidation| / mark of the position",
            ["symbol"],
            registry=r,
        )
        self.trading_state = Gauge(
            "axis_trading_state", "0 active, 1 reducing, 2 halted", registry=r
        )
        self.orders_total = Counter(
            "axis_orders_total", "Order state changes reported, by state", ["state"], registry=r
        )
        self.risk_vetoes_total = Counter(
            "axis_risk_vetoes_total", "Orders the risk chain vetoed", registry=r
        )
        self.decision_latency = Histogram(
            "axis_decision_latency_seconds",
            "Bar close received to orders handed to the venue, risk checks included",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.last_bar_timestamp = Gauge(
            "axis_last_bar_timestamp_seconds", "Open time of the last bar processed", registry=r
        )

    def set_state(self, state: TradingState) -> None:
        self.trading_state.set(STATE_CODES[state])
