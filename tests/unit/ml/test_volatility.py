"""GARCH(1,1) volatility: rescaled as arch advises, the recursion checked against arch's own
results, forecasts causal, and the volatility-target sizing rule."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from arch import arch_model
from arch.utility.exceptions import DataScaleWarning

from axis.data import sample_bars
from axis_ml.models.volatility import (
    GarchVolatility,
    log_returns,
    per_bar_volatility,
    volatility_target_exposure,
)


@pytest.fixture(scope="module")
def returns() -> np.ndarray:
    return log_returns(sample_bars("BTC/USDT", "5m").close)[1:]


@pytest.fixture(scope="module")
def model(returns: np.ndarray) -> GarchVolatility:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataScaleWarning)  # our fit never triggers it
        return GarchVolatility.fit(returns[:7000])


def test_fit_rescales_as_arch_advises_and_equals_arch_on_rescaled_returns(
    returns: np.ndarray, model: GarchVolatility
) -> None:
    raw = returns[:7000]
    with pytest.warns(DataScaleWarning):  # arch's advice on the unscaled returns
        arch_model(raw, mean="Constant", vol="GARCH", p=1, q=1).fit(disp="off")
    # The advised power of ten puts the variance in [0.1, 10000).
    assert 0.1 <= np.var(raw * model.scale) < 1e4
    assert model.scale in (10.0, 100.0, 1000.0, 10_000.0)
    reference = arch_model(raw * model.scale, mean="Constant", vol="GARCH", p=1, q=1).fit(
        disp="off"
    )
    np.testing.assert_allclose(model.arch_params(), reference.params.to_numpy(), rtol=1e-6)
    assert 0 < model.alpha < 1
    assert 0 < model.beta < 1
    assert model.persistence < 1.0 + 1e-6
    expected = reference.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0]
    assert model.initial_variance == pytest.approx(expected, rel=1e-9)


def test_recursion_equals_arch_fixed_parameter_results(
    returns: np.ndarray, model: GarchVolatility
) -> None:
    scaled = returns * model.scale
    am = arch_model(scaled, mean="Constant", vol="GARCH", p=1, q=1)
    fixed = am.fix(model.arch_params())
    # arch starts the recursion from a backcast of the residuals about the sample mean.
    backcast = float(am.volatility.backcast(scaled - scaled.mean()))
    ours = model.conditional_variance(returns, initial=backcast)
    np.testing.assert_allclose(ours, fixed.conditional_volatility**2, rtol=1e-10)
    # The forecast made at the last close, back in return units.
    arch_next = fixed.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0]
    ours_next = model.forecast_volatility(returns, initial=backcast)[-1]
    assert ours_next == pytest.approx(math.sqrt(arch_next) / model.scale, rel=1e-10)
    # One streaming step per bar gives the same numbers.
    variance = ours[-1]
    assert model.update(variance, returns[-1]) == pytest.approx(arch_next, rel=1e-10)


def test_forecasts_are_causal_and_in_return_units(
    returns: np.ndarray, model: GarchVolatility
) -> None:
    full = model.forecast_volatility(returns)
    head = model.forecast_volatility(returns[:8000])
    np.testing.assert_array_equal(full[:8000], head)
    # Out of sample the forecasts track realised volatility (same order of magnitude).
    tail_forecast = float(np.sqrt(np.mean(full[7000:-1] ** 2)))
    tail_realised = float(np.std(returns[7001:]))
    assert tail_forecast == pytest.approx(tail_realised, rel=0.35)


def test_volatility_target_exposure() -> None:
    # 1% forecast bar volatility, 2x leverage, 0.5% target: a quarter of equity x leverage.
    assert volatility_target_exposure(0.01, 0.005, 2.0) == pytest.approx(0.25)
    assert volatility_target_exposure(0.001, 0.005, 2.0) == 1.0  # capped
    assert volatility_target_exposure(0.001, 0.005, 2.0, max_exposure=0.4) == 0.4
    assert volatility_target_exposure(math.nan, 0.005, 2.0) == 0.0
    assert volatility_target_exposure(0.0, 0.005, 2.0) == 0.0
    per_year_5m = 365.25 * 24 * 12
    assert per_bar_volatility(0.5, "5m") == pytest.approx(0.5 / math.sqrt(per_year_5m))


def test_sizing_holds_equity_volatility_near_the_target(
    returns: np.ndarray, model: GarchVolatility
) -> None:
    """Sizing each bar by its forecast makes the position's realised volatility close to the
    target, where a fixed size's volatility swings with the market."""
    forecast = model.forecast_volatility(returns)
    target, leverage = 0.0005, 1.0
    size = np.array(
        [volatility_target_exposure(v, target, leverage, max_exposure=10.0) for v in forecast]
    )
    pnl = size[7000:-1] * leverage * returns[7001:]
    assert float(np.std(pnl)) == pytest.approx(target, rel=0.3)
