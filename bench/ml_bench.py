"""ML benchmark: environment steps/s (single, NumPy batch and torch batch at N=1,024; the
portfolio env) against gym-anytrading's stock env on the same bars, and regime and forecast
inference latency in-process and through Ray Serve (HAProxy ingress and the Python proxy).

Run with ``make bench`` (or ``.venv/bin/python bench/ml_bench.py``; ``--no-serving`` skips
Ray); writes ``bench/ml_results.json``. The torch batch runs on CUDA when present.
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
from typing import Any

import numpy as np
import pandas as pd

from axis.data import sample_bars

OUT = Path(__file__).resolve().parent / "ml_results.json"
STEPS = 200_000
BATCH = 1024
BATCH_STEPS = 1_000
BATCH_TARGET = 10_000_000  # env-steps/s on CPU at N=1,024 (issue 6)


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


def _batch_rate(market: Any, threads: int, rounds: int = 5) -> dict[str, float]:
    """Env-steps/s (accounts x step calls per second) of ``BATCH_STEPS`` step_arrays calls at
    N=1,024, resets included, the median of ``rounds`` runs: by the wall clock, and per CPU
    second of the process (what the step costs, whatever else the machine is running)."""
    from axis_ml.envs.trading import BatchTradingEnv

    batch = BatchTradingEnv(BATCH, market=market, seed=0, threads=threads)
    batch.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = [rng.integers(0, 3, BATCH) for _ in range(16)]
    batch.step_arrays(actions[0])
    wall, cpu = [], []
    for _ in range(rounds):
        started, cpu_started = time.perf_counter(), time.process_time()
        for k in range(BATCH_STEPS):
            batch.step_arrays(actions[(k // 50) % 16])
        wall.append(BATCH * BATCH_STEPS / (time.perf_counter() - started))
        cpu.append(BATCH * BATCH_STEPS / (time.process_time() - cpu_started))
    return {"wall_clock": statistics.median(wall), "per_cpu_second": statistics.median(cpu)}


def batch_steps_per_s() -> dict[str, Any]:
    """The NumPy batch at N=1,024 on one thread and on two, before torch is imported and with
    torch imported and its thread pool started (as in training), then through SB3's VecEnv
    adapter. The machine may be shared: the 1-minute load average is recorded with it."""
    import numba

    from axis_ml.envs.market import EnvConfig, build_market

    market = build_market(EnvConfig(window=16))
    out: dict[str, Any] = {"load_average_1m": os.getloadavg()[0]}
    torch_loaded = "torch" in sys.modules
    out["torch_imported_before"] = torch_loaded
    out["one_thread"] = _batch_rate(market, 1)
    out["two_threads"] = _batch_rate(market, 2)
    out["threading_layer"] = numba.threading_layer()
    import torch

    torch.ones(256, 256) @ torch.ones(256, 256)  # torch's own OpenMP pool now exists
    out["one_thread_torch_imported"] = _batch_rate(market, 1)
    out["two_threads_torch_imported"] = _batch_rate(market, 2)

    from axis_ml.envs.sb3 import BatchVecEnv
    from axis_ml.envs.trading import BatchTradingEnv

    vec = BatchVecEnv(BatchTradingEnv(BATCH, market=market, seed=1))
    vec.reset()
    rng = np.random.default_rng(0)
    actions = [rng.integers(0, 3, BATCH) for _ in range(16)]
    started = time.perf_counter()
    for k in range(BATCH_STEPS // 4):
        vec.step(actions[(k // 50) % 16])
    out["sb3_vecenv_one_thread"] = BATCH * (BATCH_STEPS // 4) / (time.perf_counter() - started)
    out["load_average_1m_after"] = os.getloadavg()[0]
    return out


def torch_batch_steps_per_s() -> dict[str, float | str]:
    """The torch batch env at N=1,024 (and a large N), on CUDA when present, else CPU."""
    import torch

    from axis_ml.envs.market import EnvConfig, build_market
    from axis_ml.envs.torch_batch import TorchBatchTradingEnv, default_device

    device = default_device()
    if device.type == "cpu":
        torch.set_num_threads(1)  # op-bound on CPU: a second thread only contends
    market = build_market(EnvConfig(window=16))
    out: dict[str, float | str] = {"device": str(device)}
    for n, steps in ((BATCH, 300), (65_536 if device.type == "cuda" else 16_384, 100)):
        env = TorchBatchTradingEnv(n, market=market, seed=0, device=device)
        env.reset(seed=0)
        rng = np.random.default_rng(0)
        actions = [torch.as_tensor(rng.integers(0, 3, n), device=device) for _ in range(16)]
        env.step_arrays(actions[0])
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        for k in range(steps):
            env.step_arrays(actions[(k // 50) % 16])
        if device.type == "cuda":
            torch.cuda.synchronize()
        out[f"n_{n}_env_steps_per_s"] = n * steps / (time.perf_counter() - started)
    return out


def portfolio_steps_per_s() -> float:
    from axis_ml.envs.portfolio import PortfolioEnv

    env = PortfolioEnv()
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = [rng.uniform(-1, 1, env.config.n_assets + 1) for _ in range(16)]
    env.step(actions[0])
    steps = 20_000
    started = time.perf_counter()
    for k in range(steps):
        _, _, terminated, truncated, _ = env.step(actions[(k // 50) % 16])
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - started)


def percentiles(samples: list[float]) -> dict[str, float]:
    array = np.array(samples)
    return {
        "p50_ms": float(np.percentile(array, 50)),
        "p99_ms": float(np.percentile(array, 99)),
        "mean_ms": float(statistics.fmean(samples)),
    }


def _timed(call: object, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def serving_latency(ingress: str) -> dict[str, object]:
    """Regime inference on a 300-bar history and a forecast of one feature window:
    in-process and through Ray Serve over HTTP (single requests, then 8 concurrent clients)."""
    import ray
    from ray import serve

    from axis_ml.features import compute_features
    from axis_ml.models.forecast import ForecastConfig, feature_windows, train_forecast
    from axis_ml.registry import promote
    from axis_ml.serving import FALLBACKS, ModelClient
    from axis_ml.serving.config import AppSettings, ServeSettings, ray_environment, run_locally
    from axis_ml.training import train_regime

    folder = tempfile.mkdtemp(prefix="axis-bench-mlflow-")
    os.environ["AXIS_MLFLOW_DIR"] = folder
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder}/mlflow.db"
    train_regime("rule", "BTC/USDT", "5m", "bench-regime")
    train_forecast(
        ForecastConfig(kind="lightgbm", window=16, n_estimators=100, registered_name="bench-fc")
    )
    promote("bench-fc", "1", "champion")  # the forecast app serves NAME@champion
    uri, forecast_uri = "models:/bench-regime/1", "models:/bench-fc/1"
    bars = sample_bars("BTC/USDT", "5m")
    history = bars.between(int(bars.timestamp[-300]), None)
    row = feature_windows(compute_features(bars), np.array([len(bars) - 1]), 16)[0]
    local = ModelClient(None)
    for _ in range(20):
        local.regime(history, uri)
        local.forecast(forecast_uri, row)
    result: dict[str, object] = {
        "regime_in_process": percentiles(_timed(lambda: local.regime(history, uri), 300)),
        "forecast_in_process": percentiles(_timed(lambda: local.forecast(forecast_uri, row), 300)),
    }
    settings = ServeSettings(
        host="127.0.0.1",
        port=8765,
        ingress=ingress,  # type: ignore[arg-type]
        regime=AppSettings(model=uri, num_cpus=1, max_replicas=1),
        forecast=AppSettings(model="bench-fc", num_cpus=0.5, max_replicas=1),
    )
    os.environ.update(ray_environment(settings))
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"MLFLOW_TRACKING_URI": os.environ["MLFLOW_TRACKING_URI"]}},
    )
    try:
        run_locally(settings)
        remote = ModelClient("http://127.0.0.1:8765", timeout_s=5.0)
        for _ in range(50):
            remote.regime(history)
            remote.forecast(forecast_uri, row, model_id="bench-fc")
        if FALLBACKS:
            raise RuntimeError(f"Serve did not answer: {dict(FALLBACKS)}")
        remote.latencies_ms.clear()
        for _ in range(500):
            remote.regime(history)
        result["regime_ray_serve"] = percentiles(remote.latencies_ms)
        remote.latencies_ms.clear()
        for _ in range(500):
            remote.forecast(forecast_uri, row, model_id="bench-fc")
        result["forecast_ray_serve"] = percentiles(remote.latencies_ms)
        clients = [ModelClient("http://127.0.0.1:8765", timeout_s=10.0) for _ in range(8)]
        per_client = 60
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda c: [c.regime(history) for _ in range(per_client)], clients))
        elapsed = time.perf_counter() - started
        result["regime_ray_serve_throughput_rps_8_clients"] = 8 * per_client / elapsed
        result["regime_ray_serve_8_clients"] = percentiles(
            [x for c in clients for x in c.latencies_ms]
        )
    finally:
        serve.shutdown()
        ray.shutdown()
    return result


def main() -> None:
    bars = sample_bars("BTC/USDT", "5m")
    results: dict[str, object] = {"machine_cpus": os.cpu_count()}
    any_rate = anytrading_steps_per_s(bars)
    single = single_steps_per_s()
    batch = batch_steps_per_s()
    results["env"] = {
        "gym_anytrading_stocks_steps_per_s": any_rate,
        "axis_single_steps_per_s": single,
        "single_vs_anytrading": single / any_rate,
        # The headline: one thread, the batch env's default.
        "axis_batch_1024_env_steps_per_s": batch["one_thread"]["wall_clock"],
        "axis_batch_1024": batch,
        "axis_torch_batch": torch_batch_steps_per_s(),
        "axis_portfolio_10_assets_steps_per_s": portfolio_steps_per_s(),
    }
    print(json.dumps(results["env"], indent=2))
    one = batch["one_thread"]
    rate = one["wall_clock"]
    print(
        f"batch env, N={BATCH}, one thread: {rate / 1e6:.1f} M env-steps/s by the wall clock "
        f"({'meets' if rate >= BATCH_TARGET else 'MISSES'} the {BATCH_TARGET / 1e6:.0f} M target), "
        f"{one['per_cpu_second'] / 1e6:.1f} M per CPU second; "
        f"gym-anytrading in the same run: {any_rate / 1e3:.0f} k steps/s; "
        f"load average {batch['load_average_1m']:.1f} on {os.cpu_count()} CPUs"
    )
    if "--no-serving" not in sys.argv:
        for ingress in ("haproxy", "proxy"):
            results[f"serving_{ingress}"] = serving_latency(ingress)
            print(json.dumps({ingress: results[f"serving_{ingress}"]}, indent=2))
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
