"""Sentiment: VADER's lexicon score, the bundled MiniLM encoder loaded offline with nothing
downloaded, and a classifier on its embeddings that beats the lexicon on crypto headlines."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from axis_ml.models.sentiment import (
    cross_validate,
    load_headlines,
    vader_labels,
    vader_scores,
)


def test_lexicon_score_is_vaders_compound() -> None:
    texts = [
        "Great news: bitcoin gains strongly",
        "Exchange hacked, funds stolen",
        "The exchange publishes its monthly report",
    ]
    analyzer = SentimentIntensityAnalyzer()
    expected = [analyzer.polarity_scores(t)["compound"] for t in texts]
    scores = vader_scores(texts)
    np.testing.assert_allclose(scores, expected)
    assert vader_labels(scores).tolist() == ["positive", "negative", "neutral"]


def test_embedding_classifier_beats_the_lexicon_on_crypto_headlines() -> None:
    frame = load_headlines()
    assert frame["label"].value_counts().to_dict() == {
        "positive": 40,
        "negative": 40,
        "neutral": 40,
    }
    metrics = cross_validate(frame["text"].tolist(), frame["label"].tolist())
    assert metrics["cv_accuracy"] >= 0.7  # three balanced classes: chance is 1/3
    assert metrics["cv_accuracy"] > metrics["vader_accuracy"]
    assert metrics["cv_macro_f1"] > metrics["vader_macro_f1"]


def test_bad_training_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("label,text\nbullish,to the moon\n")
    with pytest.raises(ValueError, match="unknown labels"):
        load_headlines(path)


def test_encoder_loads_offline_and_downloads_nothing(tmp_path: Path) -> None:
    """In a fresh process with an empty Hugging Face cache, HF_HUB_OFFLINE=1 and every
    non-loopback connection refused, the encoder loads from the package and embeds; the
    cache stays empty."""
    script = textwrap.dedent(
        """
        import socket

        real_connect = socket.socket.connect

        def guarded(self, address):
            host = address[0] if isinstance(address, tuple) else address
            if host not in ("127.0.0.1", "::1", "localhost"):
                raise OSError(f"network access attempted: {address}")
            return real_connect(self, address)

        socket.socket.connect = guarded
        from axis_ml.models.sentiment import embed
        import huggingface_hub.constants as constants

        vectors = embed(["funding flips negative", "ETF inflows hit a record"])
        print(constants.HF_HUB_OFFLINE, vectors.shape)
        """
    )
    cache = tmp_path / "hf"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "True (2, 384)"
    assert not cache.exists() or not any(p.is_file() for p in cache.rglob("*"))
