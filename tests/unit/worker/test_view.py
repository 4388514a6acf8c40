"""The live view: a pure rendering of a WorkerStatus, checked as text."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import Console

from axis.worker.status import DrainState, TradingState, WorkerPhase, WorkerStatus
from axis.worker.view import BLOCKS, live_view, render, sparkline

if TYPE_CHECKING:
    from conftest import FakeWorker


def text_of(status: WorkerStatus, width: int = 120) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, record=True)
    console.print(render(status))
    return console.export_text()


def test_sparkline_spans_the_range_and_samples_long_series() -> None:
    assert sparkline((1.0, 2.0, 3.0)) == BLOCKS[0] + BLOCKS[4] + BLOCKS[-1]
    assert sparkline(()) == ""
    assert len(set(sparkline((5.0, 5.0, 5.0)))) == 1
    long = sparkline(tuple(float(i) for i in range(1000)), width=40)
    assert len(long) == 40
    assert long[0] == BLOCKS[0]
    assert long[-1] == BLOCKS[-1]
    assert list(long) == sorted(long)  # a rising curve stays rising


def test_the_view_shows_account_positions_orders_alerts_and_clock(
    status_factory: Callable[..., WorkerStatus],
) -> None:
    text = text_of(status_factory())
    for expected in (
        "trend_futures",
        "[paper]",
        "Running",
        "trading active",
        "clock 2024-03-01 12:00:00 UTC",
        "bars 1,234",
        "p50 0.41 ms",
        "p99 1.87 ms",
        "simulated ok",
        "10,512.25",  # equity
        "+430.50",  # realized PnL
        "+250.00",  # unrealized, summed over positions
        "4.20%",  # drawdown
        "BTC/USDT:USDT",
        "49,100.00",  # liquidation price
        "20.8%",  # liquidation distance
        "axis-stop-1",
        "stop_market",
        "58,000.00",
        "job_slow",
        "still running after its 5s budget",
    ):
        assert expected in text, expected
    assert sparkline(status_factory().equity_curve) in text


def test_an_empty_halted_draining_worker_says_so(
    status_factory: Callable[..., WorkerStatus],
) -> None:
    status = status_factory(
        phase=WorkerPhase.HALTED,
        trading_state=TradingState.HALTED,
        drain=DrainState.DRAINING,
        positions=(),
        open_orders=(),
        recent_alerts=(),
        equity_curve=(),
        last_decision_ms=None,
        decision_latency_p50_ms=None,
        decision_latency_p99_ms=None,
    )
    text = text_of(status)
    assert "Halted" in text
    assert "trading halted" in text
    assert "drain draining" in text
    assert "flat" in text
    assert "p50 —" in text


def test_live_view_redraws_until_cancelled_and_leaves_the_final_state(
    fake_worker: FakeWorker,
) -> None:
    out = io.StringIO()
    console = Console(file=out, width=120, color_system=None, force_terminal=True)

    async def main() -> None:
        task = asyncio.create_task(live_view(fake_worker, console, refresh_s=0.01))
        await asyncio.sleep(0.05)
        fake_worker.request_drain(flatten=True)
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    screen = out.getvalue()
    assert "Running" in screen
    assert screen.removesuffix("\x1b[?25h").rstrip().endswith("╯")  # last frame drawn whole
    assert screen.rfind("Draining") > screen.rfind("Running")
