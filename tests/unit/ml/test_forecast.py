"""Forecasters: the input layout, labels that do not leak, calibration judged by reliability
measures, and that each classifier learns."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss

from axis.data import sample_bars
from axis_ml.features import N_FEATURES, WARMUP, compute_features
from axis_ml.models.calibration import (
    ProbabilityCalibrator,
    expected_calibration_error,
    reliability,
)
from axis_ml.models.forecast import (
    ForecastConfig,
    Forecaster,
    build_dataset,
    feature_windows,
    fit_forecaster,
    make_classifier,
    time_split,
)


@pytest.fixture(scope="module")
def bars():  # type: ignore[no-untyped-def]
    return sample_bars("BTC/USDT", "5m")


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibrators_recover_known_probabilities(method: str) -> None:
    """Scores that are over-confident (log-odds three times the truth) are mapped back:
    the calibrated Brier score is the oracle's, the raw one is clearly worse."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=40_000)
    truth = 1.0 / (1.0 + np.exp(-2.0 * x))
    y = (rng.uniform(size=x.size) < truth).astype(int)
    raw = 1.0 / (1.0 + np.exp(-6.0 * x))  # over-confident: log-odds three times too large
    calib, test = slice(0, 20_000), slice(20_000, None)
    calibrator = ProbabilityCalibrator(method).fit(raw[calib], y[calib])  # type: ignore[arg-type]
    calibrated = calibrator.transform(raw[test])
    oracle = brier_score_loss(y[test], truth[test])
    assert brier_score_loss(y[test], raw[test]) > oracle + 0.02
    assert brier_score_loss(y[test], calibrated) == pytest.approx(oracle, abs=0.002)
    assert expected_calibration_error(calibrated, y[test]) < 0.02
    assert expected_calibration_error(raw[test], y[test]) > 0.1


def test_expected_calibration_error_by_hand() -> None:
    # bin [0.1, 0.2): predicted 0.1, observed 0.5; bin [0.9, 1]: predicted 0.9, observed 1.0
    p = np.array([0.1, 0.1, 0.9, 0.9])
    y = np.array([0, 1, 1, 1])
    assert expected_calibration_error(p, y) == pytest.approx(0.5 * 0.4 + 0.5 * 0.1)
    measures = reliability(p, y)
    assert measures["brier"] == pytest.approx(brier_score_loss(y, p))
    assert measures["accuracy"] == pytest.approx(0.75)


def test_inputs_are_the_environment_feature_window(bars) -> None:  # type: ignore[no-untyped-def]
    """Row t holds bars t-window+1..t, oldest first, bar-major: the trading environment's
    observation layout without the account part."""
    features = compute_features(bars)
    rows = np.array([WARMUP + 20, 500, len(bars) - 1])
    x = feature_windows(features, rows, 8)
    assert x.shape == (3, 8 * N_FEATURES)
    for k, t in enumerate(rows):
        np.testing.assert_array_equal(x[k], features[t - 7 : t + 1].ravel())


def test_labels_look_ahead_only_in_the_label_and_parts_are_purged(bars) -> None:  # type: ignore[no-untyped-def]
    data = build_dataset(bars, window=4, horizon=3)
    close = bars.close
    t = data.bar
    np.testing.assert_array_equal(data.y, (close[t + 3] > close[t]).astype(int))
    # A row's inputs stop at its own bar: recomputing on the data cut right after it agrees.
    cut = int(t[1000]) + 1
    head = build_dataset(bars.between(None, int(bars.timestamp[cut + 3])), window=4, horizon=3)
    np.testing.assert_array_equal(head.x[1000], data.x[1000])
    train, calib, test = time_split(len(data), 0.6, 0.2, gap=3)
    assert calib[0] - train[-1] > 3
    assert test[0] - calib[-1] > 3


def test_lightgbm_calibration_beats_raw_on_held_out_data(bars) -> None:  # type: ignore[no-untyped-def]
    """An over-fitted booster is over-confident on data it never saw; isotonic calibration on
    the held-out part brings its Brier score and calibration error down."""
    config = ForecastConfig(
        kind="lightgbm", n_estimators=150, num_leaves=63, learning_rate=0.2, window=8
    )
    fit = fit_forecaster(config, bars)
    m = fit.metrics
    assert m["test_calibrated_brier"] < m["test_raw_brier"]
    assert m["test_calibrated_ece"] < m["test_raw_ece"]
    assert m["test_calibrated_brier"] < m["test_climatology_brier"] + 0.002
    train, _, test = fit.parts
    assert train[-1] < test[0]
    p = fit.forecaster.probability_up(fit.dataset.x[test])
    assert m["test_calibrated_brier"] == pytest.approx(
        brier_score_loss(fit.dataset.y[test], p), rel=1e-12
    )


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_sequence_models_learn_and_pickle(kind: str) -> None:
    """On inputs whose label is the sign of the last three bars' first feature, a few epochs
    suffice; a pickled model predicts the same."""
    config = ForecastConfig(
        kind=kind, window=6, epochs=4, hidden=16, batch_size=128, learning_rate=3e-3
    )
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5000, 6 * N_FEATURES)).astype(np.float32)
    y = (x[:, [-3 * N_FEATURES, -2 * N_FEATURES, -N_FEATURES]].sum(axis=1) > 0).astype(int)
    model = make_classifier(config).fit(x[:4000], y[:4000])
    accuracy = ((model.predict_up(x[4000:]) > 0.5) == (y[4000:] == 1)).mean()
    assert accuracy > 0.8
    assert model.losses[-1] < model.losses[0]  # type: ignore[union-attr]
    forecaster = Forecaster(config, model, ProbabilityCalibrator("none"))
    again = pickle.loads(pickle.dumps(forecaster))
    np.testing.assert_allclose(again.probability_up(x[4000:]), forecaster.probability_up(x[4000:]))


def test_forecaster_rejects_inputs_of_the_wrong_width(bars) -> None:  # type: ignore[no-untyped-def]
    config = ForecastConfig(kind="lightgbm", n_estimators=5, window=4)
    fit = fit_forecaster(config, bars.between(None, int(bars.timestamp[3000])))
    with pytest.raises(ValueError, match="reads 32 features"):
        fit.forecaster.probability_up(np.zeros(31))
    assert fit.forecaster.probability_up(np.zeros(32)).shape == (1,)
