"""``axis ml evaluate`` end to end against a real local MLflow: a training procedure by purged
k-fold with an embargo and by walk-forward (one tiny policy per window and seed), and a
registered policy on the data after its training; baselines in every window, the deflated
Sharpe ratio, the report and the MLflow run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from axis.cli import main
from axis.data import sample_bars
from axis_ml.evaluation.policy import EvaluationConfig, plan_windows

pytestmark = pytest.mark.slow

CONFIG = """
algo: ppo
n_envs: 4
total_timesteps: 256
n_steps: 32
batch_size: 64
net_arch: [16]
registered_name: {name}
out_dir: {out}
env:
  symbol: BTC/USDT:USDT
  end: 2023-01-16
  leverage: 3
  window: 4
  episode_length: 256
"""


def _cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return int(exit_info.value.code or 0)


def _config(folder: Path, name: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(CONFIG.format(name=name, out=folder / name))
    return path


def test_windows_are_purged_and_embargoed() -> None:
    cfg = EvaluationConfig(scheme="purged_kfold", folds=4, embargo=0.02)
    for w in plan_windows(1000, cfg, purge=10):
        start, end = w.test
        for a, b in w.train:
            assert b <= start - 10 or a >= end + 20  # 10 purged before, 2% embargoed after
    wf = plan_windows(1000, EvaluationConfig(folds=3, min_train_fraction=0.4), purge=5)
    for w in wf:
        assert len(w.train) == 1
        assert w.train[0] == (0, w.test[0] - 5)


def _check_report(report: dict, seeds: list[int], windows: int) -> None:  # type: ignore[type-arg]
    assert len(report["windows"]) == windows
    for entry in report["windows"]:
        names = set(entry["runs"])
        assert {"buy_and_hold", "ma_crossover"} <= names
        assert {f"random_seed{s}" for s in seeds} <= names
        for metrics in entry["runs"].values():
            assert metrics["fees_paid"] >= 0.0  # costs are in every run
    dsr = report["deflated_sharpe_ratio"]
    assert dsr is None or 0.0 <= dsr <= 1.0
    assert report["best_trial"] in report["trials"]


@pytest.mark.parametrize("scheme", ["purged_kfold", "walk_forward"])
def test_evaluate_a_training_procedure(mlflow_store: Path, tmp_path: Path, scheme: str) -> None:
    import mlflow

    config = _config(tmp_path, f"eval-{scheme}")
    out = tmp_path / "report"
    args = ["ml", "evaluate", "--config", str(config), "--scheme", scheme, "--folds", "2"]
    assert _cli([*args, "--seed", "0", "--seed", "1", "--purge", "8", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["scheme"] == scheme
    _check_report(report, [0, 1], windows=2)
    assert set(report["trials"]) == {"policy_seed0", "policy_seed1"}
    for entry in report["windows"]:
        assert {"policy_seed0", "policy_seed1"} <= set(entry["runs"])
        start, end = entry["test_start"], entry["test_end"]
        for first, last in entry["train_segments"]:  # no training bar near the test bars
            assert last < start - 8 * 300_000 or first > end
    assert (out / "equity.png").stat().st_size > 0
    runs = mlflow.search_runs(experiment_names=["axis-evaluation"])
    run = runs[runs["tags.mlflow.runName"] == f"evaluate-{scheme}"].iloc[0]
    assert run["params.scheme"] == scheme
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run["run_id"], "evaluation")}
    assert {"evaluation/report.json", "evaluation/equity.png"} <= artifacts
    if report["deflated_sharpe_ratio"] is not None:
        assert math.isclose(
            run["metrics.deflated_sharpe_ratio"], report["deflated_sharpe_ratio"], rel_tol=1e-9
        )


def test_evaluate_a_registered_policy_out_of_sample(mlflow_store: Path, tmp_path: Path) -> None:
    name = "axis-eval-policy"
    assert _cli(["ml", "train-rl", "--config", str(_config(tmp_path, name))]) == 0
    assert _cli(["ml", "promote", name, "1"]) == 0
    out = tmp_path / "registered"
    args = ["ml", "evaluate", "--model", f"models:/{name}@champion", "--folds", "2"]
    assert _cli([*args, "--seed", "3", "--seed", "4", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["out_of_sample"] is True
    _check_report(report, [3, 4], windows=2)
    from axis_ml.registry.tracking import model_metadata

    train_end = model_metadata(f"models:/{name}@champion")["train_end_ms"]
    assert all(entry["test_start"] >= train_end for entry in report["windows"])
    bars = sample_bars("BTC/USDT", "5m")
    last = int(bars.timestamp[np.searchsorted(bars.timestamp, 1673827200000) - 1])  # 01-16
    assert report["windows"][-1]["test_end"] == last


def test_evaluate_needs_exactly_one_subject(mlflow_store: Path) -> None:
    assert _cli(["ml", "evaluate"]) == 2
    assert _cli(["ml", "evaluate", "--model", "models:/x@y", "--config", "x.yaml"]) == 2
    assert _cli(["ml", "evaluate", "--model", "models:/x@y", "--scheme", "kfold"]) == 2
