"""Regime classifiers: one interface, the evidence the seed stores, and no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from axis.data import sample_bars
from axis_ml.models.regime import REGIMES, make_classifier


@pytest.fixture(scope="module")
def bars():  # type: ignore[no-untyped-def]
    return sample_bars("BTC/USDT", "5m")


@pytest.mark.parametrize("kind", ["rule", "hmm", "markov"])
def test_truncating_the_data_leaves_past_labels_unchanged(kind: str, bars) -> None:  # type: ignore[no-untyped-def]
    train = bars.between(None, int(bars.timestamp[4000]))
    model = make_classifier(kind).fit(train)
    full = model.classify_series(bars.between(None, int(bars.timestamp[6000])))
    cut = model.classify_series(bars.between(None, int(bars.timestamp[5000])))
    head = full.iloc[: len(cut)].reset_index(drop=True)
    pd.testing.assert_frame_equal(head, cut, check_exact=False, rtol=1e-9)
    assert set(full["regime"]) <= set(REGIMES)
    assert len(set(full["regime"].iloc[100:])) >= 2  # it does tell regimes apart
    assert full["confidence"].between(0, 1).all()


def test_result_carries_the_evidence(bars) -> None:  # type: ignore[no-untyped-def]
    result = make_classifier("rule").classify(bars)
    d = result.to_dict()
    assert set(d) == {
        "regime",
        "volatility_regime",
        "confidence",
        "adx",
        "rsi",
        "price_vs_ma50",
        "trend_strength",
    }
    assert d["volatility_regime"] in ("high", "low")
    assert 0 <= d["rsi"] <= 100
    assert 0 <= d["adx"] <= 100
    close = bars.close
    assert d["price_vs_ma50"] == pytest.approx(close[-1] / np.mean(close[-50:]) - 1, rel=1e-6)


def test_smoothed_probabilities_would_fail_the_truncation_test(bars) -> None:  # type: ignore[no-untyped-def]
    """The check has teeth: hmmlearn's smoothed posteriors change when data is added."""
    model = make_classifier("hmm").fit(bars.between(None, int(bars.timestamp[4000])))
    from axis_ml.models.regime import _hmm_features, evidence

    x = _hmm_features(evidence(bars))
    smooth_full = model.model.predict_proba(x[:6000])
    smooth_cut = model.model.predict_proba(x[:5000])
    assert not np.allclose(smooth_full[:5000], smooth_cut)


@pytest.mark.parametrize("kind", ["rule", "hmm", "markov"])
def test_array_path_equals_the_last_row_of_the_series(kind: str, bars) -> None:  # type: ignore[no-untyped-def]
    """What serving computes (price arrays in, the last bar's result out) is what training
    and evaluation see for that bar."""
    model = make_classifier(kind).fit(bars.between(None, int(bars.timestamp[4000])))
    history = bars.between(int(bars.timestamp[5000]), int(bars.timestamp[5300]))
    row = model.classify_series(history).iloc[-1].to_dict()
    fast = model.classify_arrays(history.high, history.low, history.close).to_dict()
    assert fast["regime"] == row["regime"]
    assert fast["volatility_regime"] == row["volatility_regime"]
    for key in ("confidence", "adx", "rsi", "price_vs_ma50", "trend_strength"):
        assert fast[key] == pytest.approx(row[key], rel=1e-12)


def test_hmm_emission_densities_equal_hmmlearns(bars) -> None:  # type: ignore[no-untyped-def]
    from axis_ml.models.regime import _hmm_features, evidence

    model = make_classifier("hmm").fit(bars.between(None, int(bars.timestamp[4000])))
    x = _hmm_features(evidence(bars))
    np.testing.assert_allclose(
        model.log_likelihood(x), model.model._compute_log_likelihood(x), rtol=1e-10
    )
