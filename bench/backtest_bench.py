"""`make bench`: 1,000,000 five-minute bars, SMA(20/50) crossover, 0.1% fees.

The bars are block-bootstrapped from the bundled real BTC/USDT returns (fixed seed, the sample's
drift removed so the price stays in a realistic range). The same
scenario — long on a cross above, flat on a cross below, orders filled at the next bar's open,
0.1% fee per side, 10% of equity per entry (all-in entries would let 0.2% per round trip
compound the account to dust over ~12,000 round trips and stop every engine trading) — runs
through:

  (a) AXIS's vectorised signal path,
  (b) AXIS's per-bar ``on_bar`` path (the event engine): the strategy has an ``on_bar`` of its
      own, so the engine calls it on every one of the 1M bars,
  (b') the same event engine on the strategy as shipped: a signal strategy with the default
      ``on_bar``, whose replay skips the bars where nothing can happen (no target, no order,
      no price level waited for); reported beside (b), not instead of it,
  (c) vectorbt's ``Portfolio.from_signals``,
  (d) backtesting.py's ``Backtest.run``,

in this one process. Each AXIS path is timed from the bars to the finished trade list (signals,
simulation, trades); vectorbt from the close series to its trade records; backtesting.py for its
run. Compilation is excluded by a warm-up on a small slice. Peak memory of a complete 1M-bar
backtest (data, signals, simulation, metrics) is the max RSS of a child process that runs it.

AXIS runs its whole risk chain on every order; only the loss halts (daily loss, max drawdown)
are lifted, since the reference engines have none and a halt would stop the comparison.

Targets: (a) at least as fast as vectorbt; (b) at least 10x backtesting.py; peak < 500 MB.
Results go to bench/results.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from axis.backtest.runner import Prepared, prepare, run_event
from axis.backtest.vectorized import run_vectorized
from axis.config import BacktestConfig
from axis.data import Bars, block_bootstrap, sample_bars
from axis.strategies.base import BarView
from axis.strategies.ma_crossover import MaCrossover

SEED = 42
FAST, SLOW = 20, 50
FEE = 0.001
EXPOSURE = 0.1
CAPITAL = 10_000.0
OUT = Path(__file__).with_name("results.json")


def bench_bars(n_bars: int) -> Bars:
    # Detrended: the sample's 45% rally compounded over 3.8 years would take BTC past 1e9.
    return block_bootstrap(sample_bars("BTC/USDT", "5m"), n_bars, seed=SEED, detrend=True)


def axis_config(engine: str) -> BacktestConfig:
    return BacktestConfig(
        strategy="ma_crossover",
        params={"fast": FAST, "slow": SLOW, "exposure": EXPOSURE},
        symbol="BTC/USDT",
        capital=CAPITAL,
        fee_model=f"{FEE}/{FEE}",
        slippage=0.0,
        engine=engine,  # type: ignore[arg-type]
    )


def prepared_for(bars: Bars, engine: str) -> Prepared:
    prepared = prepare(axis_config(engine), bars)
    no_halts = prepared.limits.model_copy(update={"daily_loss_limit": 1.0, "max_drawdown": 1.0})
    return dataclasses.replace(prepared, limits=no_halts)


class EveryBarMaCrossover(MaCrossover):
    """The built-in crossover with an ``on_bar`` of its own (the default's decisions): the
    engine cannot skip a bar of a strategy that may act on any bar, so it visits them all."""

    def on_bar(self, bar: BarView) -> None:
        super().on_bar(bar)


def run_axis(bars: Bars, engine: str, every_bar: bool = False) -> tuple[float, Any]:
    prepared = prepared_for(bars, engine)
    if every_bar:
        prepared = dataclasses.replace(prepared, strategy_cls=EveryBarMaCrossover)
    started = time.perf_counter()
    outcome = run_vectorized(prepared) if engine == "vectorized" else run_event(prepared)
    return time.perf_counter() - started, outcome


def run_vectorbt(bars: Bars) -> tuple[float, int]:
    import vectorbt as vbt

    index = pd.to_datetime(bars.timestamp, unit="ms", utc=True)
    close = pd.Series(bars.close, index=index)
    opens = pd.Series(bars.open, index=index)
    started = time.perf_counter()
    fast = vbt.MA.run(close, FAST).ma
    slow = vbt.MA.run(close, SLOW).ma
    entries = fast.vbt.crossed_above(slow).shift(1, fill_value=False)
    exits = fast.vbt.crossed_below(slow).shift(1, fill_value=False)
    portfolio = vbt.Portfolio.from_signals(
        close,
        entries,
        exits,
        price=opens,
        size=EXPOSURE,
        size_type="percent",
        fees=FEE,
        init_cash=CAPITAL,
        freq="5min",
    )
    trades = len(portfolio.trades.records)
    return time.perf_counter() - started, trades


def run_backtesting_py(bars: Bars) -> tuple[float, int]:
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover

    def sma(values: Any, period: int) -> Any:
        return pd.Series(values).rolling(period).mean().to_numpy()

    class SmaCross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.fast = self.I(sma, self.data.Close, FAST)
            self.slow = self.I(sma, self.data.Close, SLOW)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                self.buy(size=EXPOSURE)
            elif crossover(self.slow, self.fast):
                self.position.close()

    frame = pd.DataFrame(
        {
            "Open": bars.open,
            "High": bars.high,
            "Low": bars.low,
            "Close": bars.close,
            "Volume": bars.volume,
        },
        index=pd.to_datetime(bars.timestamp, unit="ms"),
    )
    # A large cash balance so whole-unit sizing does not starve the strategy of trades.
    test = Backtest(frame, SmaCross, cash=1e9, commission=FEE, finalize_trades=True)
    started = time.perf_counter()
    stats = test.run()
    return time.perf_counter() - started, int(stats["# Trades"])


def peak_memory_mb(n_bars: int) -> float:
    """Peak RSS of a child process that builds the bars and runs a full backtest.

    Read from the child's own ``VmHWM``: ``getrusage().ru_maxrss`` would also count the pages of
    this (much larger) parent process that the forked child shared before it exec'd."""
    code = (
        "import re, sys; sys.path.insert(0, 'bench');"
        "from backtest_bench import bench_bars, prepared_for;"
        "from axis.backtest.runner import assemble;"
        "from axis.backtest.vectorized import run_vectorized;"
        "from axis.config import EngineChoice;"
        f"p = prepared_for(bench_bars({n_bars}), 'vectorized');"
        "assemble(p, run_vectorized(p), EngineChoice.VECTORIZED);"
        "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return int(out.strip().splitlines()[-1]) / 1024.0


def fill_digest(fills: list[tuple[Any, ...]]) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(fills).encode()).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--skip-backtesting-py", action="store_true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    n = args.bars
    bars = bench_bars(n)
    warm = bench_bars(5_000)
    for engine in ("vectorized", "event"):
        run_axis(warm, engine)
    run_axis(warm, "event", every_bar=True)
    run_vectorbt(warm)

    t_vec, out_vec = min((run_axis(bars, "vectorized") for _ in range(3)), key=lambda r: r[0])
    t_event, out_event = run_axis(bars, "event", every_bar=True)
    t_skip, out_skip = run_axis(bars, "event")
    t_vbt, vbt_trades = min((run_vectorbt(bars) for _ in range(2)), key=lambda r: r[0])
    digest = fill_digest(out_vec.fills)
    same = digest == fill_digest(out_event.fills) == fill_digest(out_skip.fills)
    results: dict[str, Any] = {
        "bars": n,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "axis_vectorized": {
            "seconds": t_vec,
            "bars_per_second": n / t_vec,
            "trades": len(out_vec.trades),
        },
        "axis_event": {
            "seconds": t_event,
            "bars_per_second": n / t_event,
            "trades": len(out_event.trades),
        },
        "axis_event_signal_replay": {
            "seconds": t_skip,
            "bars_per_second": n / t_skip,
            "trades": len(out_skip.trades),
        },
        "vectorbt": {"seconds": t_vbt, "bars_per_second": n / t_vbt, "trades": vbt_trades},
        "paths_produce_same_trades": same,
    }
    if not args.skip_backtesting_py:
        t_bt, bt_trades = run_backtesting_py(bars)
        results["backtesting_py"] = {
            "seconds": t_bt,
            "bars_per_second": n / t_bt,
            "trades": bt_trades,
        }
        results["event_vs_backtesting_py"] = t_bt / t_event
        results["signal_replay_vs_backtesting_py"] = t_bt / t_skip
    results["vectorized_vs_vectorbt"] = t_vbt / t_vec
    results["peak_memory_mb"] = peak_memory_mb(n)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2))

    print(f"{n:,} bars, SMA({FAST}/{SLOW}) crossover, {FEE:.1%} fees")
    for key in (
        "axis_vectorized",
        "axis_event",
        "axis_event_signal_replay",
        "vectorbt",
        "backtesting_py",
    ):
        if key in results:
            r = results[key]
            print(
                f"  {key:<24} {r['seconds']:8.3f} s  {r['bars_per_second']:>14,.0f} bars/s"
                f"  {r['trades']:>6} trades"
            )
    print(
        f"  vectorised path vs vectorbt:      {results['vectorized_vs_vectorbt']:.1f}x "
        "(target >= 1)"
    )
    if "event_vs_backtesting_py" in results:
        print(
            f"  on_bar path vs backtesting.py:    {results['event_vs_backtesting_py']:.1f}x "
            "(target >= 10; on_bar called on every bar)"
        )
        print(
            "  signal replay vs backtesting.py:  "
            f"{results['signal_replay_vs_backtesting_py']:.1f}x (idle bars skipped)"
        )
    print(f"  vectorised, on_bar and signal-replay trades equal: {same}")
    print(f"  peak memory of a 1M-bar backtest: {results['peak_memory_mb']:.0f} MB (target < 500)")
    print(f"wrote {OUT}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
