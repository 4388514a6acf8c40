"""Self-contained HTML report of a backtest run.

One file that opens offline: CSS is inline, charts are PNGs drawn with matplotlib's Agg canvas
and embedded as base64 data URIs, and there are no scripts, fonts or links to fetch. Every text
taken from the result is HTML-escaped. Long equity curves are reduced to a min/max envelope per
pixel column before plotting, so a 1,000,000-bar run renders in about a second and the file stays
well under 2 MB.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from string import Template
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from axis.backtest.metrics import iso_utc, monthly_returns
from axis.backtest.result import BacktestResult, TradeRecord

MAX_TRADE_ROWS = 500
MAX_EVENT_ROWS = 200
# About one bucket per horizontal pixel of an 1100 px chart; each keeps its min and max.
PLOT_BUCKETS = 1200
_FIGSIZE = (11.0, 3.0)
_DPI = 100

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# How each known metric is labelled and formatted; unknown keys get a generic rendering.
_PCT = "pct"
_RATIO = "ratio"
_MONEY = "money"
_COUNT = "count"
_DAYS = "days"
_TIME = "time"
_METRIC_FORMATS: dict[str, tuple[str, str]] = {
    "total_return": ("Total return", _PCT),
    "cagr": ("CAGR", _PCT),
    "volatility": ("Volatility (ann.)", _PCT),
    "sharpe": ("Sharpe", _RATIO),
    "sortino": ("Sortino", _RATIO),
    "calmar": ("Calmar", _RATIO),
    "max_drawdown": ("Max drawdown (daily)", _PCT),
    "max_drawdown_intraday": ("Max drawdown (bar close)", _PCT),
    "max_drawdown_duration_days": ("Longest drawdown", _DAYS),
    "win_rate": ("Win rate", _PCT),
    "profit_factor": ("Profit factor", _RATIO),
    "avg_win": ("Average win", _MONEY),
    "avg_loss": ("Average loss", _MONEY),
    "largest_win": ("Largest win", _MONEY),
    "largest_loss": ("Largest loss", _MONEY),
    "max_consecutive_wins": ("Max consecutive wins", _COUNT),
    "max_consecutive_losses": ("Max consecutive losses", _COUNT),
    "exposure_time": ("Time in market", _PCT),
    "fees_paid": ("Fees paid", _MONEY),
    "funding_paid": ("Funding paid", _MONEY),
    "num_trades": ("Trades", _COUNT),
    "liquidations": ("Liquidations", _COUNT),
    "start": ("Start", _TIME),
    "end": ("End", _TIME),
}

_PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto;
       max-width: 1140px; color: #1d2330; background: #fff; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #dde1e8; padding-bottom: 4px; }
.sub { color: #5b6475; margin-top: 0; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 3px 8px; text-align: right; border-bottom: 1px solid #eef0f4; }
th { background: #f4f6f9; }
td.l, th.l { text-align: left; }
table.metrics td:first-child { text-align: left; color: #5b6475; }
.metrics-grid { display: flex; gap: 32px; flex-wrap: wrap; }
img { max-width: 100%; display: block; }
.long { color: #11823b; } .short { color: #c0392b; }
tr.liq td { background: #fff1e0; font-weight: 600; }
.pos { color: #11823b; } .neg { color: #c0392b; }
.note { color: #5b6475; font-size: 13px; }
pre { background: #f4f6f9; padding: 8px; font-size: 12px; overflow-x: auto; }
</style>
</head>
<body>
<h1>$title</h1>
<p class="sub">$subtitle</p>
$notes

<h2>Metrics</h2>
<div class="metrics-grid">$metrics</div>

<h2>Equity</h2>
$equity_chart

<h2>Drawdown</h2>
$drawdown_chart

<h2>Price and trades</h2>
$price_chart

<h2>Monthly returns</h2>
$monthly

<h2>Trades</h2>
$trades

$events
<h2>Configuration</h2>
<details><summary>Run configuration</summary><pre>$config</pre></details>
</body>
</html>
""")


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _label(value: Any) -> str:
    """Human-readable name of a config entry that may be a string, a mapping or a list."""
    if value is None:
        return ""
    if isinstance(value, Mapping):
        for key in ("name", "id", "type", "class"):
            if value.get(key):
                return str(value[key])
        return json.dumps(value, default=str, sort_keys=True)
    if isinstance(value, list | tuple):
        return ", ".join(_label(v) for v in value)
    return str(value)


def _initial_capital(result: BacktestResult) -> float:
    """Initial capital: config ``capital`` or ``initial_capital``, else the first equity."""
    for key in ("capital", "initial_capital"):
        capital = result.config.get(key)
        if isinstance(capital, int | float) and not isinstance(capital, bool) and capital > 0:
            return float(capital)
    return float(result.equity[0]) if len(result.equity) and result.equity[0] > 0 else 1.0


def _fmt_metric(key: str, value: float) -> tuple[str, str]:
    """(label, formatted value) of one metric."""
    label, kind = _METRIC_FORMATS.get(key, (key.replace("_", " ").capitalize(), ""))
    if isinstance(value, bool) or not isinstance(value, int | float):
        return label, str(value)
    if kind == _PCT:
        return label, f"{value * 100:,.2f}%"
    if kind == _RATIO:
        return label, f"{value:,.3f}"
    if kind == _MONEY:
        return label, f"{value:,.2f}"
    if kind == _COUNT:
        return label, f"{int(value):,d}"
    if kind == _DAYS:
        return label, f"{value:,.2f} days"
    if kind == _TIME:
        return label, iso_utc(int(value)) if value else "-"
    return label, f"{value:,.6g}" if isinstance(value, float) else f"{value:,d}"


def _metrics_html(metrics: Mapping[str, float | int]) -> str:
    if not metrics:
        return '<p class="note">No metrics were computed for this run.</p>'
    rows = [
        f"<tr><td>{_esc(label)}</td><td>{_esc(text)}</td></tr>"
        for label, text in (_fmt_metric(k, v) for k, v in metrics.items())
    ]
    # Two columns of tables keep the block short enough to read without scrolling.
    half = (len(rows) + 1) // 2
    return "".join(
        f'<table class="metrics">{"".join(part)}</table>' for part in (rows[:half], rows[half:])
    )


def envelope_indices(values: np.ndarray, buckets: int = PLOT_BUCKETS) -> np.ndarray:
    """Indices of the min and max of each of ``buckets`` equal slices, plus both endpoints.

    Plotting only these keeps every spike and crash visible at pixel resolution while drawing
    ~2 points per pixel column instead of every bar.
    """
    n = values.size
    if n <= 2 * buckets:
        return np.arange(n)
    size = -(-n // buckets)
    rows = -(-n // size)
    # Pad with the last value so the partial last slice has no spurious extremes.
    grid = np.pad(values, (0, rows * size - n), mode="edge").reshape(rows, size)
    base = np.arange(rows) * size
    lo = base + grid.argmin(axis=1)
    hi = base + grid.argmax(axis=1)
    # Keep each slice's min and max in time order so the line is drawn as the market moved.
    pairs = np.column_stack((np.minimum(lo, hi), np.maximum(lo, hi))).ravel()
    idx = np.concatenate(([0], np.minimum(pairs, n - 1), [n - 1]))
    return np.unique(idx)


def _to_dt(ms: np.ndarray | Iterable[int]) -> np.ndarray:
    return np.asarray(ms, dtype=np.int64).astype("datetime64[ms]")


def _new_figure() -> tuple[Figure, Any]:
    fig = Figure(figsize=_FIGSIZE, dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.grid(True, color="#e6e9ef", linewidth=0.6)
    ax.margins(x=0.005)
    return fig, ax


def _png_img(fig: Figure, alt: str) -> str:
    """The figure as an inline ``<img>`` with a base64 PNG data URI."""
    buf = io.BytesIO()
    # No "Software" metadata: nothing in the file should point anywhere.
    fig.savefig(buf, format="png", metadata={"Software": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{data}">'


def _no_data(what: str) -> str:
    return f'<p class="note">No {_esc(what)} to plot.</p>'


def _equity_chart(ts: np.ndarray, equity: np.ndarray, initial: float) -> str:
    if equity.size == 0:
        return _no_data("equity curve")
    idx = envelope_indices(equity)
    fig, ax = _new_figure()
    ax.plot(_to_dt(ts[idx]), equity[idx], color="#2b6cb0", linewidth=1.0)
    ax.axhline(initial, color="#8a94a6", linewidth=0.8, linestyle="--")
    low, high = float(equity.min()), float(equity.max())
    if low > 0 and high / low > 20:
        # Compounding over orders of magnitude is only readable on a log axis.
        ax.set_yscale("log")
    else:
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    ax.set_ylabel("Equity")
    return _png_img(fig, "Equity curve")


def _drawdown_chart(ts: np.ndarray, equity: np.ndarray, initial: float) -> str:
    if equity.size == 0:
        return _no_data("drawdown")
    # Same definition as max_drawdown_intraday: bar closes, initial capital as the first peak.
    peak = np.maximum.accumulate(np.maximum(equity, initial))
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, equity / peak - 1.0, 0.0) * 100.0
    idx = envelope_indices(dd)
    fig, ax = _new_figure()
    ax.fill_between(_to_dt(ts[idx]), dd[idx], 0.0, color="#c0392b", alpha=0.35, linewidth=0)
    ax.plot(_to_dt(ts[idx]), dd[idx], color="#c0392b", linewidth=0.8)
    ax.set_ylabel("Drawdown %")
    return _png_img(fig, "Drawdown")


def _price_chart(ts: np.ndarray, close: np.ndarray, trades: list[TradeRecord]) -> str:
    if close.size == 0 or close.size != ts.size:
        return _no_data("price series")
    idx = envelope_indices(close)
    fig, ax = _new_figure()
    ax.plot(_to_dt(ts[idx]), close[idx], color="#4a5568", linewidth=0.8, label="Close")
    groups: list[tuple[str, list[TradeRecord], str, str, str]] = [
        ("Long entry", [t for t in trades if t.side == "long"], "^", "#11823b", "entry"),
        ("Short entry", [t for t in trades if t.side != "long"], "v", "#c0392b", "entry"),
        ("Long exit", [t for t in trades if t.side == "long"], "x", "#11823b", "exit"),
        ("Short exit", [t for t in trades if t.side != "long"], "x", "#c0392b", "exit"),
    ]
    # Smaller markers when trades are dense, so the price line stays readable.
    size = 22.0 if len(trades) <= 300 else 8.0
    for label, group, marker, color, leg in groups:
        if not group:
            continue
        if leg == "entry":
            x, y = [t.entry_time for t in group], [t.entry_price for t in group]
        else:
            x, y = [t.exit_time for t in group], [t.exit_price for t in group]
        ax.scatter(_to_dt(x), y, marker=marker, color=color, s=size, linewidths=1.0, label=label)
    liquidated = [t for t in trades if t.exit_reason == "liquidation"]
    if liquidated:
        ax.scatter(
            _to_dt([t.exit_time for t in liquidated]),
            [t.exit_price for t in liquidated],
            marker="X",
            s=130,
            color="#ff8c00",
            edgecolors="#000000",
            linewidths=1.0,
            zorder=5,
            label="Liquidation",
        )
    ax.set_ylabel("Price")
    # Above the plot area, where it cannot hide price action or markers.
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=8, ncols=6, frameon=False)
    return _png_img(fig, "Close price with trade entries and exits")


def _pct_cell(value: float) -> str:
    """A heat-map cell: green for gains, red for losses, deeper for larger moves."""
    if not math.isfinite(value):
        return "<td></td>"
    # Full colour at +/-20% a month; crypto months beyond that are all "very large".
    strength = min(abs(value) / 0.20, 1.0)
    rgb = "17,130,59" if value >= 0 else "192,57,43"
    style = f"background: rgba({rgb},{0.08 + 0.5 * strength:.2f})"
    return f'<td style="{style}">{value * 100:+.2f}%</td>'


def _monthly_html(ts: np.ndarray, equity: np.ndarray, initial: float) -> str:
    table = monthly_returns(ts, equity, initial)
    if table.empty:
        return '<p class="note">No returns to tabulate.</p>'
    head = "".join(f"<th>{m}</th>" for m in _MONTHS)
    rows = []
    for year, row in table.iterrows():
        values = row.to_numpy(dtype=np.float64)
        seen = values[np.isfinite(values)]
        year_ret = float(np.prod(1.0 + seen) - 1.0) if seen.size else math.nan
        cells = "".join(_pct_cell(float(v)) for v in values)
        rows.append(f'<tr><th class="l">{_esc(year)}</th>{cells}{_pct_cell(year_ret)}</tr>')
    return (
        f'<table class="monthly"><tr><th class="l">Year</th>{head}<th>Year</th></tr>'
        f"{''.join(rows)}</table>"
    )


def _trades_html(trades: list[TradeRecord]) -> str:
    if not trades:
        return '<p class="note">No trades.</p>'
    ordered = sorted(trades, key=lambda t: (t.exit_time, t.entry_time))
    shown = ordered[:MAX_TRADE_ROWS]
    head = (
        '<tr><th>#</th><th class="l">Symbol</th><th class="l">Side</th><th class="l">Entry</th>'
        '<th class="l">Exit</th><th>Entry price</th><th>Exit price</th><th>Quantity</th>'
        '<th>Return</th><th>PnL</th><th>Fees</th><th>Funding</th><th class="l">Exit reason</th>'
        "</tr>"
    )
    rows = []
    for i, t in enumerate(shown, start=1):
        side = "long" if t.side == "long" else "short"
        pnl_cls = "pos" if t.pnl > 0 else "neg" if t.pnl < 0 else ""
        row_cls = ' class="liq"' if t.exit_reason == "liquidation" else ""
        rows.append(
            f'<tr{row_cls}><td>{i}</td><td class="l">{_esc(t.symbol)}</td>'
            f'<td class="l {side}">{_esc(t.side)}</td>'
            f'<td class="l">{iso_utc(t.entry_time)}</td><td class="l">{iso_utc(t.exit_time)}</td>'
            f"<td>{t.entry_price:,.8g}</td><td>{t.exit_price:,.8g}</td><td>{t.quantity:,.6g}</td>"
            f"<td>{t.return_pct * 100:+.2f}%</td>"
            f'<td class="{pnl_cls}">{t.pnl:,.2f}</td><td>{t.fees:,.2f}</td>'
            f'<td>{t.funding:,.2f}</td><td class="l">{_esc(t.exit_reason)}</td></tr>'
        )
    note = ""
    if len(ordered) > len(shown):
        note = (
            f'<p class="note">Showing the first {len(shown):,d} of {len(ordered):,d} trades; '
            "the full list is in the result JSON.</p>"
        )
    return f'{note}<table class="trades">{head}{"".join(rows)}</table>'


def _notes_html(notes: Any) -> str:
    """The run's notes (data gaps, substitutions...) as a list under the header."""
    if not notes:
        return ""
    items = notes if isinstance(notes, list | tuple) else [notes]
    return '<ul class="note">' + "".join(f"<li>{_esc(n)}</li>" for n in items) + "</ul>"


def _event_row(event: Mapping[str, Any]) -> str:
    """One event (liquidation, risk veto, halt, alert) as time, type and the remaining fields."""
    when = event.get("timestamp", event.get("time"))
    when_text = iso_utc(when) if isinstance(when, int) and not isinstance(when, bool) else ""
    rest = {k: v for k, v in event.items() if k not in ("timestamp", "time", "type")}
    details = ", ".join(f"{k}={v}" for k, v in sorted(rest.items()))
    return (
        f'<tr><td class="l">{_esc(when_text)}</td><td class="l">{_esc(event.get("type", ""))}</td>'
        f'<td class="l">{_esc(details)}</td></tr>'
    )


def _events_html(events: list[dict[str, Any]]) -> str:
    if not events:
        return ""
    rows = "".join(_event_row(e) for e in events[:MAX_EVENT_ROWS])
    more = (
        f'<p class="note">Showing the first {MAX_EVENT_ROWS} of {len(events):,d} events.</p>'
        if len(events) > MAX_EVENT_ROWS
        else ""
    )
    head = '<tr><th class="l">Time</th><th class="l">Event</th><th class="l">Details</th></tr>'
    return f'<h2>Events</h2>{more}<table class="events">{head}{rows}</table>\n'


def write_report(result: BacktestResult, path: Path, title: str | None = None) -> None:
    """Write the run's report as one self-contained HTML file at ``path``."""
    config = result.config
    ts = np.asarray(result.timestamps, dtype=np.int64)
    equity = np.asarray(result.equity, dtype=np.float64)
    close = np.asarray(result.close, dtype=np.float64)
    initial = _initial_capital(result)

    strategy = _label(config.get("strategy")) or "Backtest"
    symbol = _label(config.get("symbol") or config.get("symbols")) or "unknown symbol"
    timeframe = _label(config.get("timeframe") or config.get("interval"))
    if title is None:
        title = f"{strategy} · {symbol}" + (f" · {timeframe}" if timeframe else "")
    if ts.size:
        days = (int(ts[-1]) - int(ts[0])) / 86_400_000
        period = f"{iso_utc(int(ts[0]))} → {iso_utc(int(ts[-1]))} ({days:,.1f} days)"
    else:
        period = "no bars"
    subtitle = " | ".join(
        part
        for part in (
            f"Strategy: {strategy}",
            f"Symbol: {symbol}",
            f"Timeframe: {timeframe}" if timeframe else "",
            f"Period: {period}",
            f"Initial capital: {initial:,.2f}",
        )
        if part
    )

    page = _PAGE.substitute(
        title=_esc(title),
        subtitle=_esc(subtitle),
        notes=_notes_html(config.get("notes")),
        metrics=_metrics_html(result.metrics),
        equity_chart=_equity_chart(ts, equity, initial),
        drawdown_chart=_drawdown_chart(ts, equity, initial),
        price_chart=_price_chart(ts, close, result.trades),
        monthly=_monthly_html(ts, equity, initial),
        trades=_trades_html(result.trades),
        events=_events_html(result.events),
        config=_esc(json.dumps(config, indent=2, default=str, sort_keys=True)),
    )
    path.write_text(page, encoding="utf-8")
