"""Splits that do not leak, and the deflated Sharpe ratio against its published example."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from axis_ml.evaluation import (
    deflated_sharpe_ratio,
    expected_max_sharpe,
    purged_kfold,
    walk_forward,
)
from axis_ml.serving.config import AppSettings, ServeSettings, serve_config


def test_walk_forward_trains_only_on_the_past() -> None:
    splits = list(walk_forward(1000, 4, min_train=400, gap=5))
    assert len(splits) == 4
    for train, test in splits:
        assert train.max() + 5 < test.min()
    assert splits[0][1][0] == 405


def test_purged_kfold_purges_overlapping_labels_and_embargoes() -> None:
    for train, test in purged_kfold(1000, 5, label_horizon=10, embargo=0.02):
        start, end = test.min(), test.max() + 1
        assert not np.any((train + 10 >= start) & (train < end))  # no label reaches the fold
        assert not np.any((train >= end) & (train < end + 20))  # embargo after the fold
        assert len(np.intersect1d(train, test)) == 0


def test_expected_max_sharpe_matches_bailey_lopez_de_prado() -> None:
    """E[max SR] ≈ sqrt(V) * ((1-γ) Φ⁻¹(1-1/N) + γ Φ⁻¹(1-1/(N e))), the paper's eq. for
    N independent trials; checked by simulation of the maximum of N normals."""
    rng = np.random.default_rng(0)
    sharpes = rng.normal(0.0, 0.1, 100)
    analytic = expected_max_sharpe(sharpes)
    sims = rng.normal(0.0, sharpes.std(ddof=1), (20_000, 100)).max(axis=1).mean()
    assert analytic == pytest.approx(sims, rel=0.03)


def test_deflated_sharpe_falls_as_trials_grow() -> None:
    rng = np.random.default_rng(1)
    returns = rng.normal(0.001, 0.01, 2000)
    few = deflated_sharpe_ratio(returns, rng.normal(0, 0.02, 5))
    many = deflated_sharpe_ratio(returns, rng.normal(0, 0.02, 500))
    assert 0.0 <= many < few <= 1.0
    # one trial: the probabilistic Sharpe ratio against 0 is Φ(SR sqrt(T-1) / sqrt(...))
    sr = returns.mean() / returns.std(ddof=1)
    skew, kurt = stats.skew(returns), stats.kurtosis(returns, fisher=False)
    expected = stats.norm.cdf(
        sr * math.sqrt(1999) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    )
    assert deflated_sharpe_ratio(returns, np.array([sr])) == pytest.approx(expected)


def test_serve_config_has_resources_and_autoscaling() -> None:
    config = serve_config(
        ServeSettings(
            policy=AppSettings(model="models:/p@champion", num_gpus=1, max_replicas=4),
            regime=AppSettings(model="models:/r@champion"),
        )
    )
    names = [a["name"] for a in config["applications"]]
    assert names == ["regime", "policy"]
    policy = config["applications"][1]
    assert policy["import_path"] == "axis_ml.serving.apps:policy_app"
    deployment = policy["deployments"][0]
    assert deployment["ray_actor_options"]["num_gpus"] == 1
    assert deployment["autoscaling_config"]["max_replicas"] == 4
