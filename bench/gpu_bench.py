"""GPU benchmark, for a machine with CUDA (nothing in the test suite needs one).

Measures, in one run and on the same bars:

- the torch batch environment's env-steps/s at growing N on the GPU, and on the CPU at the
  sizes the CPU can hold, so the two are comparable;
- a PPO training run (stable-baselines3) on the torch batch env with the environment and the
  policy on the GPU, and the same run entirely on the CPU: timesteps/s of each, and the trained
  GPU policy's out-of-sample result against the baselines on the held-out tail.

Writes ``bench/gpu_results.json`` (or ``--out``). Run: ``python bench/gpu_bench.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
for src in ("services", "ml"):
    sys.path.insert(0, str(ROOT / src))

from axis_ml.envs.market import EnvConfig, TradingMarket, build_market  # noqa: E402
from axis_ml.envs.sb3 import BatchVecEnv  # noqa: E402
from axis_ml.envs.torch_batch import TorchBatchTradingEnv  # noqa: E402
from axis_ml.models.rl import (  # noqa: E402
    PolicyPredictor,
    RLTrainConfig,
    baselines,
    build_model,
    one_action,
    run_policy_on,
    split_markets,
)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def env_steps_per_s(market: TradingMarket, n: int, steps: int, device: torch.device) -> float:
    """Env-steps/s of ``step_arrays`` (the raw tensor step, no SB3 conversion) at batch ``n``."""
    env = TorchBatchTradingEnv(n, market=market, seed=0, device=device)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = [torch.as_tensor(rng.integers(0, 3, n), device=device) for _ in range(16)]
    for k in range(5):  # warm-up: kernels compiled and caches filled before timing
        env.step_arrays(actions[k])
    sync(device)
    started = time.perf_counter()
    for k in range(steps):
        env.step_arrays(actions[(k // 50) % 16])
    sync(device)
    return n * steps / (time.perf_counter() - started)


def ppo_run(
    config: RLTrainConfig, train: TradingMarket, device: torch.device
) -> tuple[PolicyPredictor, dict[str, float]]:
    """Train PPO with the env and the policy on ``device``; timesteps/s of ``learn``."""
    vec = BatchVecEnv(TorchBatchTradingEnv(config.n_envs, market=train, seed=0, device=device))
    vec.seed(0)
    model = build_model(config.model_copy(update={"device": str(device)}), vec, seed=0)
    sync(device)
    started = time.perf_counter()
    model.learn(total_timesteps=config.total_timesteps)
    sync(device)
    elapsed = time.perf_counter() - started
    return PolicyPredictor(model, config.algo, config.env), {
        "timesteps": float(model.num_timesteps),
        "seconds": elapsed,
        "timesteps_per_s": model.num_timesteps / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "gpu_results.json")
    parser.add_argument("--ppo-timesteps", type=int, default=1024 * 64 * 6)
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes on the CPU, to check the script itself"
    )
    args = parser.parse_args()
    if not torch.cuda.is_available() and not args.smoke:
        sys.exit("gpu_bench: no CUDA device here; run it on a GPU machine")
    gpu = torch.device("cpu" if args.smoke else "cuda")
    cpu = torch.device("cpu")
    scale = 64 if args.smoke else 1
    results: dict[str, Any] = {
        "gpu": torch.cuda.get_device_name(0) if gpu.type == "cuda" else "none (smoke run)",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }
    market = build_market(EnvConfig(window=16))
    results["bars"] = int(market.prices.shape[1])
    env: dict[str, float] = {}
    sizes = ((1_024, 400), (16_384, 300), (65_536, 200), (262_144, 100), (1_048_576, 50))
    for n, steps in sizes[: 2 if args.smoke else None]:
        n //= scale
        env[f"gpu_n_{n}"] = env_steps_per_s(market, n, steps // scale + 2, gpu)
        print(f"torch batch env  cuda  N={n:>9,}  {env[f'gpu_n_{n}']:>14,.0f} env-steps/s")
    for n, steps in ((1_024, 200), (16_384, 50)):
        n //= scale
        env[f"cpu_n_{n}"] = env_steps_per_s(market, n, steps // scale + 2, cpu)
        print(f"torch batch env  cpu   N={n:>9,}  {env[f'cpu_n_{n}']:>14,.0f} env-steps/s")
    results["torch_batch_env_steps_per_s"] = env

    config = RLTrainConfig(
        batch_env="torch",
        n_envs=1024 // scale,
        n_steps=64,
        batch_size=8192 // scale,
        total_timesteps=args.ppo_timesteps // scale,
        net_arch=[256, 256],
        registered_name=None,
    )
    train, test = split_markets(config)
    ppo: dict[str, Any] = {"config": json.loads(config.model_dump_json())}
    policy, ppo["gpu"] = ppo_run(config, train, gpu)
    print(f"PPO cuda: {ppo['gpu']['timesteps_per_s']:,.0f} timesteps/s")
    _, ppo["cpu"] = ppo_run(config, train, cpu)
    print(f"PPO cpu : {ppo['cpu']['timesteps_per_s']:,.0f} timesteps/s")
    evaluation = run_policy_on(test, lambda obs: one_action(policy, obs), "ppo_gpu")
    ppo["out_of_sample"] = {
        e.name: {k: float(v) for k, v in e.metrics.items() if k in ("sharpe", "total_return")}
        for e in [evaluation, *baselines(test)]
    }
    results["ppo"] = ppo
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
