"""train-rl → promote → serve → the rl_policy strategy, on the bundled data, against a real
local MLflow store and a real local Ray Serve."""

from __future__ import annotations

import json
import math
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from axis.cli import main

pytestmark = pytest.mark.slow

POLICY = "axis-rl-policy"


def _cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return int(exit_info.value.code or 0)


@pytest.fixture(scope="module")
def trained(mlflow_store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("rl")
    config = folder / "ppo.yaml"
    config.write_text(
        f"""
algo: ppo
n_envs: 8
total_timesteps: 2048
seeds: [0, 1]
n_steps: 64
batch_size: 128
net_arch: [32, 32]
checkpoint_every: 1024
registered_name: {POLICY}
out_dir: {folder / "out"}
env:
  symbol: BTC/USDT:USDT
  leverage: 3
  window: 8
  episode_length: 512
"""
    )
    assert _cli(["ml", "train-rl", "--config", str(config)]) == 0
    assert _cli(["ml", "promote", POLICY, "1", "--alias", "champion"]) == 0
    return {"folder": folder}


def test_training_logged_runs_checkpoints_and_a_registered_model(
    trained: dict[str, object],
) -> None:
    import mlflow

    client = mlflow.MlflowClient()
    version = client.get_model_version_by_alias(POLICY, "champion")
    assert str(version.version) == "1"
    run = client.get_run(version.run_id)
    assert run.data.params["algo"] == "ppo"
    assert "test_sharpe" in run.data.metrics
    assert any(k.startswith("baseline_buy_and_hold") for k in run.data.metrics)
    artifacts = {a.path for a in client.list_artifacts(version.run_id)}
    assert {"checkpoints", "equity_test.png"} <= artifacts  # MLflow 3 keeps the model apart
    from mlflow.models import get_model_info

    info = get_model_info(f"models:/{POLICY}@champion")
    assert info.signature is not None
    requirements = Path(mlflow.pyfunc.get_model_dependencies(f"models:/{POLICY}@champion"))
    assert "stable-baselines3==" in requirements.read_text()
    runs = mlflow.search_runs(experiment_names=["axis-rl"])
    assert len(runs) >= 2  # one per seed


def test_rl_policy_backtests_in_process(trained: dict[str, object], tmp_path: Path) -> None:
    from axis_ml.serving import FALLBACKS

    before = sum(FALLBACKS.values())
    out = tmp_path / "bt"
    code = _cli(
        [
            "backtest",
            "--strategy",
            "rl_policy",
            "--symbol",
            "BTC/USDT",
            "--leverage",
            "3",
            "--end",
            "2023-01-20",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    result = json.loads((out / "result.json").read_text())
    assert result["config"]["strategy"] == "rl_policy"
    assert result["config"]["engine"] == "event"
    assert sum(FALLBACKS.values()) == before  # every decision came from the model


@pytest.fixture(scope="module")
def served(trained: dict[str, object], ray_session: int) -> str:
    from axis_ml.serving.config import AppSettings, ServeSettings, run_locally

    settings = ServeSettings(
        host="127.0.0.1",
        port=ray_session,
        policy=AppSettings(model=f"models:/{POLICY}@champion", num_cpus=0.5, max_replicas=1),
    )
    assert run_locally(settings) == ["policy"]
    return f"http://127.0.0.1:{ray_session}"


def test_serve_and_in_process_give_the_same_actions(served: str) -> None:
    from axis_ml.serving import ModelClient

    uri = f"models:/{POLICY}@champion"
    remote, local = ModelClient(served, timeout_s=5.0), ModelClient(None)
    meta = remote.policy_metadata(uri)
    assert meta == local.policy_metadata(uri)
    size = int(meta["env"]["window"]) * 8 + 3
    rng = np.random.default_rng(0)
    for _ in range(5):
        obs = rng.normal(size=size).astype(np.float32)
        assert remote.policy_action(uri, obs) == local.policy_action(uri, obs)


def test_backtest_through_serve_matches_in_process(served: str, tmp_path: Path) -> None:
    common = [
        "backtest",
        "--strategy",
        "rl_policy",
        "--symbol",
        "BTC/USDT",
        "--leverage",
        "3",
        "--end",
        "2023-01-08",
    ]
    assert _cli([*common, "--out", str(tmp_path / "local")]) == 0
    assert (
        _cli(
            [
                *common,
                "--param",
                f"serve_url={served}",
                "--param",
                "timeout_ms=5000",
                "--out",
                str(tmp_path / "served"),
            ]
        )
        == 0
    )
    local = json.loads((tmp_path / "local" / "result.json").read_text())
    remote = json.loads((tmp_path / "served" / "result.json").read_text())
    assert local["trades_sha256"] == remote["trades_sha256"]
    assert local["metrics"] == remote["metrics"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_paper_worker_trades_the_served_policy(
    served: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`axis trade --config` with the rl_policy strategy and AXIS_SERVE_URL: a paper worker
    replays a stretch of the bundled BTC/USDT bars, asks Ray Serve for every decision, and
    ends where a backtest of the same spec (policy in-process) ends."""
    from axis.backtest.runner import run_event
    from axis.config.specs import TradingStrategySpec
    from axis.data import sample_bars
    from axis.data.loader import write_bars
    from axis.worker.build import prepare_spec
    from axis_ml.features import WARMUP
    from axis_ml.serving import FALLBACKS
    from axis_ml.serving.client import ModelClient

    bars = sample_bars("BTC/USDT", "5m")
    data = write_bars(
        bars.between(None, int(bars.timestamp[400])), tmp_path / "BTC_USDT-5m-candles.csv.gz"
    )
    config = tmp_path / "rl-paper.yaml"
    config.write_text(
        "strategy: rl_policy\n"
        "symbols: [BTC/USDT]\n"
        "leverage: 3\n"
        "params: {timeout_ms: 5000}\n"
        f"data: {{source: replay, path: {data}}}\n"
    )
    monkeypatch.setenv("AXIS_SERVE_URL", served)
    monkeypatch.setenv("AXIS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("AXIS_DATABASE_URL", raising=False)
    routes: list[str] = []
    post = ModelClient._post

    def counted(self: ModelClient, route: str, payload: dict[str, Any], *rest: Any) -> Any:
        routes.append(route)
        return post(self, route, payload, *rest)

    monkeypatch.setattr(ModelClient, "_post", counted)
    fallbacks = sum(FALLBACKS.values())
    capsys.readouterr()
    assert _cli(["trade", "--config", str(config), "--port", str(_free_port())]) == 0
    out = capsys.readouterr().out
    status = json.loads(out[out.rindex("\n{") + 1 :] if not out.startswith("{") else out)
    assert status["phase"] == "Stopped", out
    assert status["mode"] == "paper"
    assert status["lastDecisionAt"] is not None
    assert sum(FALLBACKS.values()) == fallbacks  # Serve answered every decision
    window = 8  # the trained policy's (the training config above)
    assert routes == ["policy"] * (400 - (WARMUP + window - 1))

    monkeypatch.delenv("AXIS_SERVE_URL")  # the same spec backtested, the policy in-process
    spec = TradingStrategySpec.model_validate(
        {
            "strategy": "rl_policy",
            "symbols": ["BTC/USDT"],
            "leverage": 3,
            "data": {"source": "replay", "path": str(data)},
        }
    )
    outcome = run_event(prepare_spec(spec))
    assert len(outcome.fills) > 0
    assert status["equity"] == pytest.approx(float(outcome.equity[-1]), rel=1e-9)


def test_unreachable_serve_falls_back_to_hold_and_counts(trained: dict[str, object]) -> None:
    from axis_ml.serving import FALLBACKS, ModelClient

    client = ModelClient("http://127.0.0.1:9", timeout_s=0.05)
    before = FALLBACKS[("policy", "ConnectError")]
    action = client.policy_action(f"models:/{POLICY}@champion", np.zeros(131, dtype=np.float32))
    assert math.isnan(action)
    assert FALLBACKS[("policy", "ConnectError")] == before + 1


def test_promote_unknown_version_is_a_clear_error(
    trained: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(["ml", "promote", POLICY, "99"]) == 2
    assert "cannot promote" in capsys.readouterr().err
