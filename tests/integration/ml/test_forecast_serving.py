"""train-forecast / train-volatility → promote → the forecast Serve app (multiplexed per
model) and in-process inference, through the ModelClient; the ml_forecast strategy backtests
the same through both. Real local MLflow and Ray Serve."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from axis.cli import main
from axis.data import sample_bars

pytestmark = pytest.mark.slow

FORECASTERS = {
    "lightgbm": "axis-forecast-lgbm",
    "lstm": "axis-forecast-lstm",
    "transformer": "axis-forecast-transformer",
}
VOLATILITY = "axis-volatility-test"
WINDOW = 8


def _cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return int(exit_info.value.code or 0)


@pytest.fixture(scope="module")
def trained(mlflow_store: Path) -> dict[str, str]:
    for kind, name in FORECASTERS.items():
        args = ["ml", "train-forecast", "--kind", kind, "--window", str(WINDOW), "--name", name]
        args += ["--n-estimators", "60"] if kind == "lightgbm" else ["--epochs", "1"]
        assert _cli(args) == 0
        assert _cli(["ml", "promote", name, "1", "--alias", "champion"]) == 0
    assert _cli(["ml", "train-volatility", "--name", VOLATILITY]) == 0
    assert _cli(["ml", "promote", VOLATILITY, "1"]) == 0
    return FORECASTERS


def _rows(n: int) -> np.ndarray:
    from axis_ml.features import compute_features
    from axis_ml.models.forecast import feature_windows

    bars = sample_bars("BTC/USDT", "5m")
    features = compute_features(bars)
    return feature_windows(features, np.arange(len(bars) - n, len(bars)), WINDOW)


@pytest.mark.parametrize("kind", list(FORECASTERS))
def test_training_logs_metrics_reliability_signature_and_requirements(
    trained: dict[str, str], kind: str
) -> None:
    import mlflow
    from mlflow.models import get_model_info

    name = trained[kind]
    uri = f"models:/{name}@champion"
    client = mlflow.MlflowClient()
    version = client.get_model_version_by_alias(name, "champion")
    run = client.get_run(version.run_id)
    assert run.data.params["kind"] == kind
    metrics = run.data.metrics
    for key in ("test_raw_brier", "test_calibrated_brier", "test_calibrated_ece"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["test_climatology_brier"] == pytest.approx(0.25, abs=0.01)
    assert "reliability_test.png" in {a.path for a in client.list_artifacts(version.run_id)}
    info = get_model_info(uri)
    assert info.signature is not None
    assert len(info.signature.inputs.input_names()) == WINDOW * 8
    assert info.metadata["forecast_kind"] == kind
    assert info.metadata["window"] == WINDOW
    requirements = Path(mlflow.pyfunc.get_model_dependencies(uri)).read_text()
    assert "lightgbm==" in requirements
    assert "torch==" in requirements


def test_in_process_forecasts_are_calibrated_probabilities(trained: dict[str, str]) -> None:
    from axis_ml.serving import FALLBACKS, ModelClient

    before = sum(FALLBACKS.values())
    client = ModelClient(None)
    rows = _rows(64)
    for name in trained.values():
        uri = f"models:/{name}@champion"
        batch = client.forecast_batch(uri, rows)
        assert batch.shape == (64,)
        assert np.all((batch >= 0) & (batch <= 1))
        assert client.forecast(uri, rows[-1]) == pytest.approx(batch[-1], rel=1e-12)
    assert sum(FALLBACKS.values()) == before


@pytest.fixture(scope="module")
def served(trained: dict[str, str], ray_session: int) -> str:
    from axis_ml.serving.config import AppSettings, ServeSettings, run_locally

    settings = ServeSettings(
        host="127.0.0.1",
        port=ray_session,
        forecast=AppSettings(model=trained["lightgbm"], num_cpus=0.5, max_replicas=1),
    )
    assert run_locally(settings) == ["forecast"]
    return f"http://127.0.0.1:{ray_session}"


def test_serve_multiplexes_forecasters_and_matches_in_process(
    trained: dict[str, str], served: str
) -> None:
    from axis_ml.serving import ModelClient

    remote, local = ModelClient(served, timeout_s=30.0), ModelClient(None)
    rows = _rows(32)
    for name in trained.values():
        uri = f"models:/{name}@champion"
        np.testing.assert_allclose(
            remote.forecast_batch(uri, rows, model_id=name),
            local.forecast_batch(uri, rows),
            rtol=1e-9,
        )
        assert remote.forecast_metadata(uri, model_id=name) == local.forecast_metadata(uri)
    # No model id: the app's default model, the LightGBM one.
    default_uri = f"models:/{trained['lightgbm']}@champion"
    assert remote.forecast(default_uri, rows[0]) == pytest.approx(
        local.forecast(default_uri, rows[0]), rel=1e-9
    )


def test_ml_forecast_backtests_the_same_in_process_and_through_serve(
    trained: dict[str, str], served: str, tmp_path: Path
) -> None:
    common = [
        "backtest",
        "--strategy",
        "ml_forecast",
        "--symbol",
        "BTC/USDT",
        "--leverage",
        "2",
        "--end",
        "2023-01-12",
        "--param",
        f"model={trained['lightgbm']}",
        "--param",
        f"volatility_model={VOLATILITY}",
        "--param",
        "threshold=0.51",
    ]
    assert _cli([*common, "--out", str(tmp_path / "local")]) == 0
    remote_params = ["--param", f"serve_url={served}", "--param", "timeout_ms=30000"]
    assert _cli([*common, *remote_params, "--out", str(tmp_path / "served")]) == 0
    local = json.loads((tmp_path / "local" / "result.json").read_text())
    remote = json.loads((tmp_path / "served" / "result.json").read_text())
    assert local["metrics"]["num_trades"] > 0
    assert local["trades_sha256"] == remote["trades_sha256"]
    assert local["metrics"] == remote["metrics"]


def test_paper_worker_trades_ml_forecast_through_serve_like_the_backtest(
    trained: dict[str, str], served: str, tmp_path: Path
) -> None:
    """A paper worker replaying bundled bars with ml_forecast, its forecasts from Ray Serve,
    fills what the backtest of the same spec fills (its bars arrive one at a time: the
    forecasts are made from the closed bars only)."""
    import asyncio

    from axis.backtest.runner import run_event
    from axis.config.specs import TradingStrategySpec
    from axis.data.loader import write_bars
    from axis.worker.build import WorkerOptions, build_worker, prepare_spec

    bars = sample_bars("BTC/USDT", "5m")
    data = write_bars(
        bars.between(None, int(bars.timestamp[600])), tmp_path / "BTC_USDT-5m-candles.csv.gz"
    )
    params = {"model": trained["lightgbm"], "volatility_model": VOLATILITY, "threshold": 0.51}

    def spec(extra: dict[str, object]) -> TradingStrategySpec:
        return TradingStrategySpec.model_validate(
            {
                "strategy": "ml_forecast",
                "symbols": ["BTC/USDT"],
                "leverage": 2,
                "params": params | extra,
                "data": {"source": "replay", "path": str(data)},
            }
        )

    from axis_ml.serving import FALLBACKS

    fallbacks = sum(FALLBACKS.values())
    served_spec = spec({"serve_url": served, "timeout_ms": 30000})
    worker = build_worker(
        served_spec, WorkerOptions(name="fc-paper", database_url=f"sqlite:///{tmp_path}/w.db")
    )
    asyncio.run(worker.run())
    paper = [
        (f.timestamp, f.side.sign, f.quantity, f.price, f.fee, o.tag)
        for o, f in worker.engine.fills
    ]
    assert worker.engine.strategy.client().serve_url == served  # type: ignore[attr-defined]
    assert sum(FALLBACKS.values()) == fallbacks  # Serve answered every request
    backtest = run_event(prepare_spec(spec({})))
    assert len(backtest.fills) > 0
    assert paper == backtest.fills


def test_unreachable_forecaster_holds_and_counts() -> None:
    from axis_ml.serving import FALLBACKS, ModelClient

    client = ModelClient("http://127.0.0.1:9", timeout_s=0.05)
    before = FALLBACKS[("forecast", "ConnectError")]
    out = client.forecast_batch("models:/none@champion", np.zeros((3, WINDOW * 8)))
    assert out.shape == (3,)
    assert all(math.isnan(x) for x in out)
    assert FALLBACKS[("forecast", "ConnectError")] == before + 1
