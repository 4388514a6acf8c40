"""train-regime → promote → the regime Serve app, through the ModelClient: the same answer
as in-process inference and as the classifier itself, concurrent requests batched, and the
rule-based fallback when Serve cannot answer. Real local MLflow and Ray Serve."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from axis.cli import main
from axis.data import sample_bars

pytestmark = pytest.mark.slow

NAME = "axis-regime-test"
URI = f"models:/{NAME}@champion"


def _cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return int(exit_info.value.code or 0)


@pytest.fixture(scope="module")
def served(mlflow_store: Path, ray_session: int) -> str:
    from axis_ml.serving.config import AppSettings, ServeSettings, run_locally

    assert _cli(["ml", "train-regime", "--kind", "hmm", "--name", NAME]) == 0
    assert _cli(["ml", "promote", NAME, "1"]) == 0
    settings = ServeSettings(
        host="127.0.0.1",
        port=ray_session,
        regime=AppSettings(model=URI, num_cpus=0.5, max_replicas=1),
    )
    assert run_locally(settings) == ["regime"]
    return f"http://127.0.0.1:{ray_session}"


def _histories(n: int, length: int = 300) -> list:  # type: ignore[type-arg]
    bars = sample_bars("BTC/USDT", "5m")
    ends = range(len(bars) - 1, len(bars) - 1 - 97 * n, -97)
    return [
        bars.between(int(bars.timestamp[e - length + 1]), int(bars.timestamp[e]) + 1) for e in ends
    ]


def test_serve_in_process_and_the_classifier_agree(served: str) -> None:
    from axis_ml.registry.tracking import load_predictor
    from axis_ml.serving import FALLBACKS, ModelClient

    before = sum(FALLBACKS.values())
    remote, local = ModelClient(served, timeout_s=10.0), ModelClient(None)
    classifier = load_predictor(URI)
    seen = set()
    for history in _histories(12):
        answer = remote.regime(history)
        assert answer == local.regime(history, URI)
        assert answer == classifier.classify(history).to_dict()
        assert set(answer) == {
            "regime",
            "volatility_regime",
            "confidence",
            "adx",
            "rsi",
            "price_vs_ma50",
            "trend_strength",
        }
        seen.add(answer["regime"])
    assert len(seen) >= 2  # the histories span more than one regime
    assert sum(FALLBACKS.values()) == before


def test_concurrent_requests_are_batched_and_each_answered(served: str) -> None:
    from axis_ml.serving import ModelClient

    histories = _histories(16)
    local = ModelClient(None)
    expected = [local.regime(h, URI) for h in histories]
    clients = [ModelClient(served, timeout_s=20.0) for _ in histories]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda pair: pair[0].regime(pair[1]), zip(clients, histories)))
    assert answers == expected


def test_the_bars_frame_request_shape_is_still_served(served: str) -> None:
    from axis_ml.models.regime import bars_frame
    from axis_ml.serving import ModelClient

    history = _histories(1)[0]
    body = {"bars": bars_frame(history).to_dict(orient="list")}
    response = httpx.post(f"{served}/regime", json=body, timeout=10.0)
    response.raise_for_status()
    assert response.json() == ModelClient(None).regime(history, URI)


def test_unreachable_serve_falls_back_to_the_rule_regime_and_counts() -> None:
    from axis_ml.models.regime import RuleRegime
    from axis_ml.serving import FALLBACKS, ModelClient

    history = _histories(1)[0]
    before = FALLBACKS[("regime", "ConnectError")]
    answer = ModelClient("http://127.0.0.1:9", timeout_s=0.05).regime(history)
    assert answer.pop("fallback") is True
    assert answer == RuleRegime().classify(history).to_dict()
    assert FALLBACKS[("regime", "ConnectError")] == before + 1
