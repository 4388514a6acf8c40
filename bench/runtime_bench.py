"""`make bench`: the paper worker's decision latency, bar close to order handed to the venue.

The real worker runtime (``axis.worker.build.build_worker``: engine, risk chain, position
monitor, simulated exchange, write-ahead journal in SQLite, scheduled jobs) replays bundled
data as fast as it can (stepped clock) through ``Worker.run``. Each closed bar's decision is
timed by the worker itself (``Decision.latency_s``: from the bar's receipt through the
strategy, the risk checks and the order manager's write-ahead to the orders handed to the
simulated venue). Reported per scenario, over every bar and over the bars that sent orders:
p50, p99, p99.9 and max. The time the worker then spends on its own books and metrics
(``Worker.on_bar`` around the decision) is reported beside it.

Scenarios (the embedded defaults of ``axis up`` and two more for a larger order count):

  trend_futures  BTC/USDT 5m perpetual, 5x     (10,999 bars)
  trend_futures  XRP/USDT:USDT 5m, 3x          (1,999 bars)
  ma_crossover   BTC/USDT 5m spot, SMA(5/20)   (10,999 bars; trades often)

Target: p99 < 5 ms on the bars that sent orders. Results: bench/runtime_results.json.

    .venv/bin/python bench/runtime_bench.py [--bars N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services"))

from axis.config.specs import DataSource, DataSpec, TradingStrategySpec  # noqa: E402
from axis.observability.logging import configure_logging  # noqa: E402
from axis.venues.base import ClosedBar  # noqa: E402
from axis.worker.build import WorkerOptions, build_worker  # noqa: E402
from axis.worker.trader import Decision  # noqa: E402

OUT = ROOT / "bench" / "runtime_results.json"
SAMPLES = ROOT / "services" / "axis" / "data" / "sample"
TARGET_P99_MS = 5.0


def scenarios() -> dict[str, TradingStrategySpec]:
    replay = DataSpec(source=DataSource.REPLAY, speed=0)
    return {
        "trend_futures BTC/USDT 5x": TradingStrategySpec(
            strategy="trend_futures", symbols=["BTC/USDT"], leverage=5.0, data=replay
        ),
        "trend_futures XRP/USDT:USDT 3x": TradingStrategySpec(
            strategy="trend_futures",
            symbols=["XRP/USDT:USDT"],
            leverage=3.0,
            data=DataSpec(
                source=DataSource.REPLAY,
                path=str(SAMPLES / "XRP_USDT_USDT-5m-futures.csv.gz"),
                speed=0,
            ),
        ),
        "ma_crossover BTC/USDT spot 5/20": TradingStrategySpec(
            strategy="ma_crossover",
            params={"fast": 5, "slow": 20},
            symbols=["BTC/USDT"],
            data=replay,
        ),
    }


def percentiles(values_ms: list[float]) -> dict[str, float | int]:
    if not values_ms:
        return {"count": 0}
    a = np.asarray(values_ms)
    return {
        "count": len(a),
        "p50_ms": float(np.percentile(a, 50)),
        "p99_ms": float(np.percentile(a, 99)),
        "p999_ms": float(np.percentile(a, 99.9)),
        "max_ms": float(a.max()),
    }


def measure(name: str, spec: TradingStrategySpec, max_bars: int | None) -> dict[str, Any]:
    decisions: list[Decision] = []
    books_ms: list[float] = []
    with tempfile.TemporaryDirectory(prefix="axis-bench-") as scratch:
        options = WorkerOptions(name="bench", database_url=f"sqlite:///{scratch}/worker.db")
        worker = build_worker(spec, options)
        decide = worker.trader.on_closed_bar
        on_bar = worker.on_bar

        def timed_decision(bar: ClosedBar) -> Decision:
            decision = decide(bar)
            decisions.append(decision)
            return decision

        def timed_bar(bar: ClosedBar) -> Decision:
            started = time.perf_counter()
            decision = on_bar(bar)
            books_ms.append((time.perf_counter() - started - decision.latency_s) * 1000)
            if max_bars is not None and len(decisions) >= max_bars:
                worker.request_stop()
            return decision

        # Instance attributes shadow the methods the run loop calls: the same path, timed.
        worker.trader.on_closed_bar = timed_decision  # type: ignore[method-assign]
        worker.on_bar = timed_bar  # type: ignore[method-assign]
        started = time.perf_counter()
        final = asyncio.run(worker.run())
        wall = time.perf_counter() - started
    every_bar = [d.latency_s * 1000 for d in decisions]
    with_orders = [d.latency_s * 1000 for d in decisions if d.orders]
    return {
        "scenario": name,
        "bars": len(decisions),
        "orders": sum(d.orders for d in decisions),
        "wall_seconds": wall,
        "bars_per_second": len(decisions) / wall,
        "final_equity": final.equity,
        "decision_all_bars": percentiles(every_bar),
        "decision_bars_with_orders": percentiles(with_orders),
        "after_decision_books_and_metrics": percentiles(books_ms),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bars", type=int, default=None, help="stop each replay after N bars")
    args = parser.parse_args()
    configure_logging(level="warning")
    results = [measure(name, spec, args.bars) for name, spec in scenarios().items()]
    worst = max((r["decision_bars_with_orders"].get("p99_ms", 0.0) for r in results), default=0.0)
    OUT.write_text(
        json.dumps(
            {
                "machine": {
                    "python": platform.python_version(),
                    "cpu": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(),
                },
                "target_p99_ms": TARGET_P99_MS,
                "worst_p99_ms_with_orders": worst,
                "scenarios": results,
            },
            indent=2,
        )
    )
    print("paper worker decision latency: bar close -> orders handed to the venue (ms)")
    for r in results:
        every, orders = r["decision_all_bars"], r["decision_bars_with_orders"]
        print(
            f"  {r['scenario']:<34} {r['bars']:>6,} bars {r['bars_per_second']:>7,.0f}/s  "
            f"all p50 {every['p50_ms']:.3f} p99 {every['p99_ms']:.3f}  "
            f"with orders ({orders['count']:,}) p50 {orders.get('p50_ms', float('nan')):.3f} "
            f"p99 {orders.get('p99_ms', float('nan')):.3f}"
        )
    print(f"  worst p99 on bars with orders: {worst:.3f} ms (target < {TARGET_P99_MS:g})")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
