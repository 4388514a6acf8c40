"""ML benchmark: environment steps/s (single and batch N=1,024) against gym-anytrading's
stock env on the same bars, and regime-inference latency in-process and through Ray Serve.

Run with ``make bench`` (or ``.venv/bin/python bench/ml_bench.py``); writes
``bench/ml_results.json``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from axis.data import sample_bars

OUT = Path(__file__).resolve().parent / "ml_results.json"
STEPS = 200_000
BATCH = 1024
BATCH_STEPS = 2_000


def anytrading_steps_per_s(bars: object) -> float:
    from gym_anytrading.envs import StocksEnv

    df = pd.DataFrame(
        {
            "Open": bars.open,  # type: ignore[attr-defined]
            "High": bars.high,  # type: ignore[attr-defined]
            "Low": bars.low,  # type: ignore[attr-defined]
            "Close": bars.close,  # type: ignore[attr-defined]
            "Volume": bars.volume,  # type: ignore[attr-defined]
        }
    )
    env = StocksEnv(df=df, window_size=16, frame_bound=(16, len(df)))
    env.reset(seed=0)
    started = time.perf_counter()
    for k in range(STEPS):
        _, _, terminated, truncated, _ = env.step(k % 2)
        if terminated or truncated:
            env.reset()
    return STEPS / (time.perf_counter() - started)


def single_steps_per_s() -> float:
    from axis_ml.envs.market import EnvConfig, build_market
    from axis_ml.envs.trading import TradingEnv

    env = TradingEnv(market=build_market(EnvConfig(window=16)))
    env.reset(seed=0)
    env.step(1)
    started = time.perf_counter()
    for k in range(STEPS):
        _, _, terminated, truncated, _ = env.step((k // 50) % 3)
        if terminated or truncated:
            env.reset()
    return STEPS / (time.perf_counter() - started)


def batch_steps_per_s() -> tuple[float, float]:
    from axis_ml.envs.market import EnvConfig, build_market
    from axis_ml.envs.sb3 import BatchVecEnv
    from axis_ml.envs.trading import BatchTradingEnv

    market = build_market(EnvConfig(window=16))
    batch = BatchTradingEnv(BATCH, market=market, seed=0)
    batch.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = [rng.integers(0, 3, BATCH) for _ in range(16)]
    batch.step_arrays(actions[0])
    started = time.perf_counter()
    for k in range(BATCH_STEPS):
        batch.step_arrays(actions[(k // 50) % 16])
    raw = BATCH * BATCH_STEPS / (time.perf_counter() - started)
    vec = BatchVecEnv(BatchTradingEnv(BATCH, market=market, seed=1))
    vec.reset()
    started = time.perf_counter()
    for k in range(BATCH_STEPS // 4):
        vec.step(actions[(k // 50) % 16])
    sb3 = BATCH * (BATCH_STEPS // 4) / (time.perf_counter() - started)
    return raw, sb3


def percentiles(samples: list[float]) -> dict[str, float]:
    array = np.array(samples)
    return {
        "p50_ms": float(np.percentile(array, 50)),
        "p99_ms": float(np.percentile(array, 99)),
        "mean_ms": float(statistics.fmean(samples)),
    }


def serving_latency() -> dict[str, object]:
    """Regime inference on a 300-bar history: in-process pyfunc and Ray Serve over HTTP."""
    import ray
    from ray import serve

    from axis_ml.serving import ModelClient
    from axis_ml.serving.config import AppSettings, ServeSettings, run_locally
    from axis_ml.training import train_regime

    folder = tempfile.mkdtemp(prefix="axis-bench-mlflow-")
    os.environ["AXIS_MLFLOW_DIR"] = folder
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder}/mlflow.db"
    train_regime("rule", "BTC/USDT", "5m", "bench-regime")
    uri = "models:/bench-regime/1"
    bars = sample_bars("BTC/USDT", "5m")
    history = bars.between(int(bars.timestamp[-300]), None)
    local = ModelClient(None)
    for _ in range(20):
        local.regime(history, uri)
    samples = []
    for _ in range(300):
        started = time.perf_counter()
        local.regime(history, uri)
        samples.append((time.perf_counter() - started) * 1000)
    result: dict[str, object] = {"in_process": percentiles(samples)}
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"MLFLOW_TRACKING_URI": os.environ["MLFLOW_TRACKING_URI"]}},
    )
    try:
        run_locally(
            ServeSettings(host="127.0.0.1", port=8765, regime=AppSettings(model=uri, num_cpus=1))
        )
        remote = ModelClient("http://127.0.0.1:8765", timeout_s=5.0)
        for _ in range(30):
            remote.regime(history)
        remote.latencies_ms.clear()
        for _ in range(300):
            remote.regime(history)
        result["ray_serve"] = percentiles(remote.latencies_ms)
        clients = [ModelClient("http://127.0.0.1:8765", timeout_s=10.0) for _ in range(8)]
        per_client = 40
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda c: [c.regime(history) for _ in range(per_client)], clients))
        elapsed = time.perf_counter() - started
        result["ray_serve_throughput_rps_8_clients"] = 8 * per_client / elapsed
    finally:
        serve.shutdown()
        ray.shutdown()
    return result


def main() -> None:
    bars = sample_bars("BTC/USDT", "5m")
    results: dict[str, object] = {"machine_cpus": os.cpu_count()}
    any_rate = anytrading_steps_per_s(bars)
    single = single_steps_per_s()
    raw, sb3 = batch_steps_per_s()
    results["env"] = {
        "gym_anytrading_stocks_steps_per_s": any_rate,
        "axis_single_steps_per_s": single,
        "single_vs_anytrading": single / any_rate,
        "axis_batch_1024_env_steps_per_s": raw,
        "axis_batch_1024_sb3_vecenv_env_steps_per_s": sb3,
    }
    print(json.dumps(results["env"], indent=2))
    if "--no-serving" not in sys.argv:
        results["serving_regime"] = serving_latency()
        print(json.dumps(results["serving_regime"], indent=2))
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
