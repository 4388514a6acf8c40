"""The HTML report: self-contained, escaped, complete, and small for a 1,000,000-bar run."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
from matplotlib.image import imread

from axis.backtest.metrics import MS_PER_DAY, compute_metrics
from axis.backtest.report import MAX_TRADE_ROWS, envelope_indices, write_report
from axis.backtest.result import BacktestResult, TradeRecord

T0 = 1_705_708_800_000  # 2024-01-20T00:00:00Z
FIVE_MIN = 300_000
IMG_RE = re.compile(r'<img[^>]*\ssrc="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def _synthetic_result(
    n_bars: int, n_trades: int, *, bar_ms: int = FIVE_MIN, seed: int = 7
) -> BacktestResult:
    """A random-walk market, a random equity curve and alternating long/short trades."""
    rng = np.random.default_rng(seed)
    ts = T0 + np.arange(n_bars, dtype=np.int64) * bar_ms
    close = 42_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n_bars)))
    equity = 10_000.0 * np.exp(np.cumsum(rng.normal(2e-5, 0.001, n_bars)))
    trades = []
    hold = max(1, n_bars // (n_trades + 1) // 2)
    for k in range(n_trades):
        i = k * (n_bars // (n_trades + 1))
        j = i + hold
        liquidated = k == 3
        trades.append(
            TradeRecord(
                symbol="BTC/USDT",
                side="long" if k % 2 == 0 else "short",
                entry_time=int(ts[i]),
                exit_time=int(ts[j]),
                entry_price=float(close[i]),
                exit_price=float(close[j]),
                quantity=0.05,
                pnl=-950.0 if liquidated else float(rng.normal(5.0, 40.0)),
                fees=1.25,
                funding=0.1,
                exit_reason="liquidation" if liquidated else "signal",
            )
        )
    metrics = compute_metrics(
        ts,
        equity,
        trades,
        initial_capital=10_000.0,
        fees_paid=1.25 * n_trades,
        funding_paid=0.1 * n_trades,
        liquidations=1,
        exposure=None,
    )
    config = {
        "strategy": {"name": "ema_cross <fast&slow>"},
        "symbol": "BTC/USDT",
        "timeframe": "5m",
        "capital": 10_000.0,
        "notes": ["<script>alert(1)</script>"],
    }
    return BacktestResult(
        config=config,
        metrics=metrics,
        trades=trades,
        timestamps=ts,
        equity=equity,
        close=close,
        events=[{"type": "liquidation", "time": trades[3].exit_time if n_trades > 3 else 0}],
    )


def _assert_offline(page: str) -> None:
    """No network reference of any kind: every src is a data URI, no scripts, links or URLs."""
    assert "http://" not in page
    assert "https://" not in page
    assert not re.search(r"(?:src|href)\s*=\s*(?![\"']?data:)", page, re.IGNORECASE)
    assert not re.search(r"<\s*(?:script|link|iframe|object|embed)\b", page, re.IGNORECASE)
    assert "@import" not in page
    assert "url(" not in page


def _decoded_images(page: str) -> list[np.ndarray]:
    payloads = IMG_RE.findall(page)
    assert page.count("<img") == len(payloads)
    return [imread(io.BytesIO(base64.b64decode(p, validate=True)), format="png") for p in payloads]


def test_report_is_self_contained_and_complete(tmp_path: Path) -> None:
    # 50 days of 5-minute bars from 20 Jan: January, February and March 2024 appear.
    result = _synthetic_result(50 * 288, n_trades=12)
    path = tmp_path / "report.html"
    write_report(result, path)

    assert path.exists()
    page = path.read_text(encoding="utf-8")
    _assert_offline(page)

    # Header from the config, escaped.
    assert "ema_cross &lt;fast&amp;slow&gt; · BTC/USDT · 5m" in page
    assert "2024-01-20T00:00:00Z" in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page

    # Metrics table.
    sharpe = result.metrics["sharpe"]
    assert f"<td>Sharpe</td><td>{sharpe:,.3f}</td>" in page
    assert (
        f"<td>Max drawdown (daily)</td><td>{result.metrics['max_drawdown'] * 100:,.2f}%</td>"
        in (page)
    )
    assert "<td>Trades</td><td>12</td>" in page
    assert "<td>Liquidations</td><td>1</td>" in page

    # Charts: equity, drawdown, price with trades; every one decodes to a real picture.
    images = _decoded_images(page)
    assert len(images) == 3
    for image in images:
        assert image.ndim == 3
        assert image.shape[0] > 100
        assert image.shape[1] > 500

    # Monthly table: one 2024 row, months outside the run left blank.
    monthly = page[page.index('<table class="monthly">') :]
    monthly = monthly[: monthly.index("</table>")]
    assert '<th class="l">2024</th>' in monthly
    assert monthly.count("<tr>") == 2  # header + 2024
    assert monthly.count("%</td>") == 3 + 1  # Jan, Feb, Mar and the year

    # Trade table: every trade, the liquidation highlighted.
    trades = page[page.index('<table class="trades">') :]
    trades = trades[: trades.index("</table>")]
    assert len(re.findall(r"<tr(?: class=\"liq\")?><td>\d+</td>", trades)) == 12
    assert trades.count('<tr class="liq">') == 1
    assert ">liquidation</td>" in trades
    assert 'class="l long">long<' in trades
    assert 'class="l short">short<' in trades
    assert "Showing the first" not in page

    # Events (liquidations, vetoes) are listed with their time.
    events = page[page.index('<table class="events">') :]
    assert '<td class="l">liquidation</td>' in events[: events.index("</table>")]


def test_trade_table_is_capped(tmp_path: Path) -> None:
    result = _synthetic_result(20_000, n_trades=MAX_TRADE_ROWS + 100)
    path = tmp_path / "report.html"
    write_report(result, path, title="Capped")
    page = path.read_text(encoding="utf-8")
    assert "<title>Capped</title>" in page
    assert f"Showing the first {MAX_TRADE_ROWS} of {MAX_TRADE_ROWS + 100} trades" in page
    assert len(re.findall(r"<tr(?: class=\"liq\")?><td>\d+</td>", page)) == MAX_TRADE_ROWS


def test_empty_run_still_renders(tmp_path: Path) -> None:
    empty = BacktestResult(
        config={},
        metrics={},
        trades=[],
        timestamps=np.array([], dtype=np.int64),
        equity=np.array([], dtype=np.float64),
        close=np.array([], dtype=np.float64),
    )
    path = tmp_path / "empty.html"
    write_report(empty, path)
    page = path.read_text(encoding="utf-8")
    _assert_offline(page)
    assert "No trades." in page
    assert "No equity curve to plot." in page


def test_million_bar_report_is_small(tmp_path: Path) -> None:
    # ~3.5 years of 2-minute bars with a thousand trades.
    result = _synthetic_result(1_000_000, n_trades=1_000, bar_ms=2 * 60_000)
    assert result.timestamps[-1] - result.timestamps[0] > 1_000 * MS_PER_DAY
    path = tmp_path / "big.html"
    write_report(result, path)

    size = path.stat().st_size
    assert size < 2 * 1024 * 1024, f"report is {size / 1e6:.2f} MB"
    page = path.read_text(encoding="utf-8")
    _assert_offline(page)
    assert len(_decoded_images(page)) == 3
    assert page.count('<th class="l">20') == 4  # years 2024..2027 in the monthly table


def test_envelope_keeps_extremes_in_time_order() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(size=100_003)
    values[54_321] = 50.0
    values[77_777] = -50.0
    idx = envelope_indices(values, buckets=500)
    assert idx.size <= 2 * 500 + 2
    assert np.all(np.diff(idx) > 0)
    assert idx[0] == 0
    assert idx[-1] == values.size - 1
    assert 54_321 in idx
    assert 77_777 in idx
    assert np.array_equal(envelope_indices(values[:900], buckets=500), np.arange(900))
