"""The live terminal view of a worker (``axis up``).

:func:`render` is a pure function of a :class:`~axis.worker.status.WorkerStatus`: equity with a
sparkline of the recent curve, PnL, drawdown, positions with their liquidation distance, open
orders, recent alerts, decision latency, phase and trading state, and the worker's clock (the
replay clock in paper replays). :func:`live_view` redraws it from ``status()`` until cancelled.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from axis.worker.status import (
    AlertView,
    OrderView,
    PositionView,
    TradingState,
    WorkerControl,
    WorkerPhase,
    WorkerStatus,
)

BLOCKS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 48
MAX_ROWS = 8  # rows per table: the view must fit a laptop terminal

PHASE_STYLE = {
    WorkerPhase.STARTING: "yellow",
    WorkerPhase.RUNNING: "green",
    WorkerPhase.DRAINING: "yellow",
    WorkerPhase.HALTED: "bold red",
    WorkerPhase.STOPPED: "dim",
}
TRADING_STYLE = {
    TradingState.ACTIVE: "green",
    TradingState.REDUCING: "yellow",
    TradingState.HALTED: "bold red",
}


def sparkline(values: tuple[float, ...] | list[float], width: int = SPARK_WIDTH) -> str:
    """One block character per column; a longer series is sampled down to ``width`` points."""
    if not values or width <= 0:
        return ""
    if len(values) > width:
        step = (len(values) - 1) / (width - 1) if width > 1 else 0.0
        values = [values[round(i * step)] for i in range(width)]
    low, high = min(values), max(values)
    if high == low:
        return BLOCKS[len(BLOCKS) // 2 - 1] * len(values)
    scale = (len(BLOCKS) - 1) / (high - low)
    return "".join(BLOCKS[round((v - low) * scale)] for v in values)


def _time(ms: int | None) -> str:
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _signed(value: float) -> Text:
    return Text(f"{value:+,.2f}", style="green" if value >= 0 else "red")


def _latency(ms: float | None) -> str:
    return "—" if ms is None else f"{ms:.2f} ms"


def _header(status: WorkerStatus) -> Text:
    text = Text()
    text.append(f"{status.strategy} ", style="bold")
    text.append(f"[{status.mode}]  ")
    text.append(status.phase.value, style=PHASE_STYLE[status.phase])
    text.append("  trading ")
    text.append(status.trading_state.value, style=TRADING_STYLE[status.trading_state])
    if status.drain.value != "idle":
        text.append(f"  drain {status.drain.value}", style="yellow")
    text.append(f"\nclock {_time(status.clock_ms)} UTC   bars {status.bars_processed:,}")
    text.append(f"   last bar {_time(status.last_bar_ms)}")
    text.append(
        f"\ndecision latency p50 {_latency(status.decision_latency_p50_ms)}"
        f"  p99 {_latency(status.decision_latency_p99_ms)}"
    )
    venues = "  ".join(f"{v.name} {'ok' if v.healthy else 'DOWN'}" for v in status.venues)
    if venues:
        text.append(f"   venues: {venues}")
    return text


def _equity(status: WorkerStatus) -> Table:
    unrealized = sum(p.unrealized_pnl for p in status.positions)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(justify="right", style="bold")
    grid.add_column()
    grid.add_row("equity", Text(_money(status.equity), style="bold"))
    grid.add_row("", Text(sparkline(status.equity_curve), style="cyan"))
    grid.add_row("realized PnL", _signed(status.realized_pnl))
    grid.add_row("unrealized PnL", _signed(unrealized))
    grid.add_row("fees / funding", f"{_money(status.fees_paid)} / {_money(status.funding_paid)}")
    drawdown_style = "red" if status.drawdown >= 0.1 else "yellow" if status.drawdown > 0 else ""
    grid.add_row("drawdown", Text(f"{status.drawdown:.2%}", style=drawdown_style))
    grid.add_row("cash", _money(status.cash))
    return grid


def _positions(positions: tuple[PositionView, ...]) -> Table:
    table = Table(title="positions", expand=True, title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("symbol", "side", "qty", "entry", "mark", "uPnL", "lev", "liq", "liq dist"):
        table.add_column(column, justify="left" if column in ("symbol", "side") else "right")
    for p in positions[:MAX_ROWS]:
        distance = p.liquidation_distance
        table.add_row(
            p.symbol,
            Text(p.side, style="green" if p.side == "long" else "red"),
            f"{p.quantity:g}",
            _money(p.entry_price),
            _money(p.mark_price),
            _signed(p.unrealized_pnl),
            f"{p.leverage:g}x",
            "—" if p.liquidation_price is None else _money(p.liquidation_price),
            "—"
            if distance is None
            else Text(f"{distance:.1%}", style="bold red" if distance < 0.05 else ""),
        )
    if not positions:
        table.add_row("flat", *[""] * 8)
    return table


def _orders(orders: tuple[OrderView, ...]) -> Table:
    table = Table(title="open orders", expand=True, title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("id", "symbol", "side", "type", "qty", "price", "filled", "status"):
        table.add_column(
            column, justify="right" if column in ("qty", "price", "filled") else "left"
        )
    for o in orders[:MAX_ROWS]:
        table.add_row(
            o.client_order_id,
            o.symbol,
            o.side,
            o.type,
            f"{o.quantity:g}",
            "market" if o.price is None else _money(o.price),
            f"{o.filled:g}",
            o.status,
        )
    if not orders:
        table.add_row("none", *[""] * 7)
    return table


def _alerts(alerts: tuple[AlertView, ...]) -> Table:
    table = Table(title="recent alerts", expand=True, title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("time", "severity", "kind", "message"):
        table.add_column(column)
    for a in alerts[-MAX_ROWS:]:
        style = "bold red" if a.severity == "critical" else "yellow"
        table.add_row(_time(a.timestamp_ms), Text(a.severity, style=style), a.kind, a.message)
    if not alerts:
        table.add_row("none", "", "", "")
    return table


def render(status: WorkerStatus, caption: str | None = None) -> RenderableType:
    """The whole view for one snapshot; ``caption`` goes on its bottom edge."""
    return Panel(
        Group(
            _header(status),
            Panel(_equity(status), title="account", title_align="left"),
            _positions(status.positions),
            _orders(status.open_orders),
            _alerts(status.recent_alerts),
        ),
        title="AXIS worker",
        title_align="left",
        subtitle=caption,
        subtitle_align="left",
    )


async def live_view(
    worker: WorkerControl, console: Console, refresh_s: float = 0.25, caption: str | None = None
) -> None:
    """Redraw the view from ``worker.status()`` every ``refresh_s`` until cancelled."""
    with Live(render(worker.status(), caption), console=console, auto_refresh=False) as live:
        try:
            while True:
                await asyncio.sleep(refresh_s)
                live.update(render(worker.status(), caption), refresh=True)
        finally:  # leave the final state on screen
            live.update(render(worker.status(), caption), refresh=True)


def summary(
    status: WorkerStatus, wall_s: float, stopped_by: str, capital: float | None = None
) -> Table:
    """The run's summary, printed when ``axis up`` ends (``capital``: the starting equity)."""
    table = Table(title=f"{status.strategy} · {status.mode} · stopped by {stopped_by}")
    table.add_column("")
    table.add_column("value", justify="right")
    unrealized = sum(p.unrealized_pnl for p in status.positions)
    rows: list[tuple[str, str | Text]] = [
        ("phase", status.phase.value),
        ("trading state", status.trading_state.value),
        ("bars processed", f"{status.bars_processed:,}"),
        ("last bar", f"{_time(status.last_bar_ms)} UTC"),
        ("equity", _money(status.equity)),
        ("realized PnL", _signed(status.realized_pnl)),
        ("unrealized PnL", _signed(unrealized)),
        ("fees paid", _money(status.fees_paid)),
        ("funding paid", _money(status.funding_paid)),
        ("drawdown now", f"{status.drawdown:.2%}"),
        ("open positions", str(len(status.positions))),
        ("open orders", str(len(status.open_orders))),
        ("alerts", str(len(status.recent_alerts))),
        ("decision latency p50", _latency(status.decision_latency_p50_ms)),
        ("decision latency p99", _latency(status.decision_latency_p99_ms)),
        ("wall time", f"{wall_s:,.1f} s"),
    ]
    if capital:
        rows.insert(5, ("return", f"{status.equity / capital - 1:+.2%}"))
    for name, value in rows:
        table.add_row(name, value)
    return table
