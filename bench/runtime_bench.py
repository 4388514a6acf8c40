"""`make bench`: the paper worker's decision latency, bar close to order handed to the venue.

The real worker runtime (``axis.worker.build.build_worker``: engine, risk chain, position
monitor, simulated exchange, write-ahead journal in SQLite, scheduled jobs) replays bundled
data as fast as it can (stepped clock) through ``Worker.run``. Each closed bar's decision is
timed as the worker times it: from the bar's arrival at ``Worker.on_bar`` through the strategy,
the risk checks and the order manager to the bar's first order stored (write-ahead) and handed
to the simulated venue. Bars that send no order make no decision to time; their cost, and the
whole bar in the trader (fills, protective orders, books), is reported beside it. Each as
p50, p99, p99.9 and max.

Scenarios (the embedded defaults of ``axis up`` and two more for a larger order count):

  trend_futures  BTC/USDT 5m perpetual, 5x     (10,999 bars)
  trend_futures  XRP/USDT:USDT 5m, 3x          (1,999 bars)
  ma_crossover   BTC/USDT 5m spot, SMA(5/20)   (10,999 bars; trades often)

Target: decision p99 < 5 ms. Results: bench/runtime_results.json.

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
    decision_ms: list[float] = []  # arrival -> first order stored and handed to the venue
    step_ms: list[float] = []  # the whole bar in the trader (fills, stops, books), every bar
    step_with_orders_ms: list[float] = []
    orders = 0
    with tempfile.TemporaryDirectory(prefix="axis-bench-") as scratch:
        options = WorkerOptions(name="bench", database_url=f"sqlite:///{scratch}/worker.db")
        worker = build_worker(spec, options)
        on_bar = worker.on_bar

        def timed_bar(bar: ClosedBar) -> Decision:
            nonlocal orders
            started = time.perf_counter()
            decision = on_bar(bar)
            handed = worker.journal.first_stored_at  # set by the write-ahead of the bar's 1st
            step_ms.append(decision.latency_s * 1000)
            if handed is not None:
                decision_ms.append((handed - started) * 1000)
                step_with_orders_ms.append(decision.latency_s * 1000)
                orders += decision.orders
            if max_bars is not None and len(step_ms) >= max_bars:
                worker.request_stop()
            return decision

        # An instance attribute shadows the method the run loop calls: the same path, timed.
        worker.on_bar = timed_bar  # type: ignore[method-assign]
        started = time.perf_counter()
        final = asyncio.run(worker.run())
        wall = time.perf_counter() - started
    return {
        "scenario": name,
        "bars": len(step_ms),
        "orders": orders,
        "wall_seconds": wall,
        "bars_per_second": len(step_ms) / wall,
        "final_equity": final.equity,
        "decision_to_venue": percentiles(decision_ms),
        "bar_step_all_bars": percentiles(step_ms),
        "bar_step_bars_with_orders": percentiles(step_with_orders_ms),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bars", type=int, default=None, help="stop each replay after N bars")
    args = parser.parse_args()
    configure_logging(level="warning")
    results = [measure(name, spec, args.bars) for name, spec in scenarios().items()]
    worst = max((r["decision_to_venue"].get("p99_ms", 0.0) for r in results), default=0.0)
    OUT.write_text(
        json.dumps(
            {
                "machine": {
                    "python": platform.python_version(),
                    "cpu": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(),
                },
                "target_p99_ms": TARGET_P99_MS,
                "worst_decision_p99_ms": worst,
                "scenarios": results,
            },
            indent=2,
        )
    )
    print("paper worker: bar close -> first order stored and handed to the venue (ms)")
    nan = float("nan")
    for r in results:
        d, step = r["decision_to_venue"], r["bar_step_all_bars"]
        print(
            f"  {r['scenario']:<33} {r['bars']:>6,} bars {r['bars_per_second']:>6,.0f}/s"
            f"  decisions {d['count']:>4,}: p50 {d.get('p50_ms', nan):.3f} p99"
            f" {d.get('p99_ms', nan):.3f} max {d.get('max_ms', nan):.3f}"
            f"  | whole bar p50 {step['p50_ms']:.3f} p99 {step['p99_ms']:.3f}"
        )
    print(f"  worst decision p99: {worst:.3f} ms (target < {TARGET_P99_MS:g})")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
