"""The multi-asset portfolio environment on the bundled ten alt/BTC markets: aligned data,
softmax weights, the venue's fees and slippage on turnover, checked against independent
arithmetic, and observations that do not look ahead."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from axis.data import sample_bars
from axis.domain.catalog import instrument_for
from axis_ml.envs.portfolio import (
    ALT_BTC,
    PortfolioConfig,
    PortfolioEnv,
    align,
    build_portfolio,
    rebalance,
    softmax,
)


@pytest.fixture(scope="module")
def market():  # type: ignore[no-untyped-def]
    return build_portfolio(PortfolioConfig(window=4))


@pytest.fixture(scope="module")
def free_market():  # type: ignore[no-untyped-def]
    config = PortfolioConfig(window=4, fee_model="zero", slippage=0.0, score_scale=50.0)
    return build_portfolio(config)


def test_markets_share_one_grid_and_gaps_carry_the_close() -> None:
    series = [sample_bars(s, "5m") for s in ALT_BTC]
    assert len({len(s) for s in series}) > 1  # the samples do have gaps
    grid, aligned = align(series, 300_000)
    assert np.all(np.diff(grid) == 300_000)
    ada_raw, ada = series[0], aligned[0]
    missing = np.setdiff1d(grid, ada_raw.timestamp)
    assert len(missing) > 0
    k = int(np.searchsorted(grid, missing[0]))
    assert ada.open[k] == ada.high[k] == ada.low[k] == ada.close[k] == ada.close[k - 1]
    assert ada.volume[k] == 0.0
    j = int(np.searchsorted(ada_raw.timestamp, grid[k + 5]))
    if ada_raw.timestamp[j] == grid[k + 5]:
        assert ada.close[k + 5] == ada_raw.close[j]


def test_weights_are_a_softmax_of_the_scores() -> None:
    scores = np.array([0.3, -1.0, 2.0, 0.0])
    w = softmax(scores)
    assert w.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(w, softmax(scores + 7.0))
    np.testing.assert_allclose(w, np.exp(scores) / np.exp(scores).sum())


def test_all_in_one_asset_without_costs_tracks_its_price(free_market) -> None:  # type: ignore[no-untyped-def]
    env = PortfolioEnv(market=free_market)
    start = free_market.first_decision + 100
    env.reset(options={"start": start})
    eth = ALT_BTC.index("ETH/BTC")
    action = -np.ones(len(ALT_BTC) + 1, dtype=np.float32)
    action[eth] = 1.0
    weights = softmax(env.config.score_scale * action.astype(np.float64))
    assert weights[eth] > 0.9999
    equity = []
    for _ in range(200):
        _, _, _, _, info = env.step(action)
        equity.append(info["equity"])
    close, open_ = free_market.close[eth], free_market.open[eth]
    # Bought once at the next open, lot-rounded; the rest stays cash (tiny weights round to 0).
    lot = free_market.lots[eth]
    qty = np.floor(weights[eth] * 10.0 / close[start] / lot) * lot
    cash = 10.0 - qty * open_[start + 1]
    expected = cash + qty * close[start + 1 : start + 201]
    np.testing.assert_allclose(equity, expected, rtol=1e-12)


def test_turnover_pays_the_venues_taker_fee_and_slippage(market) -> None:  # type: ignore[no-untyped-def]
    env = PortfolioEnv(market=market)
    start = market.first_decision + 50
    env.reset(options={"start": start})
    action = np.zeros(len(ALT_BTC) + 1, dtype=np.float32)  # equal weights, cash included
    _, _, _, _, info = env.step(action)
    weights = softmax(np.zeros(len(ALT_BTC) + 1))
    fees, spent, value = 0.0, 0.0, 0.0
    for i, symbol in enumerate(ALT_BTC):
        close, fill = market.close[i, start], market.open[i, start + 1] * (1 + 0.0005)
        inst = instrument_for(symbol, reference_price=float(market.close[i, 0]))
        lot = inst.lot_size
        qty = np.floor(weights[i] * 10.0 / close / lot + 1e-9) * lot
        fee = qty * fill * inst.taker_fee
        assert inst.taker_fee == 0.001  # Binance spot, VIP 0
        fees += fee
        spent += qty * fill + fee
        value += qty * market.close[i, start + 1]
    assert info["fees"] == pytest.approx(fees, rel=1e-9)
    assert info["equity"] == pytest.approx(10.0 - spent + value, rel=1e-9)
    assert info["fills"] == len(ALT_BTC)
    assert info["turnover"] == pytest.approx(10 / 11, rel=0.02)
    # Holding the same weights within a band trades nothing more.
    banded = PortfolioEnv(PortfolioConfig(window=4, rebalance_band=0.02), market=None)
    banded.reset(options={"start": start})
    banded.step(action)
    _, _, _, _, again = banded.step(action)
    assert again["fills"] == len(ALT_BTC)  # none after the first rebalance


def test_buys_scale_down_to_the_cash_there_is() -> None:
    holdings = np.zeros(2)
    cash, fees, traded, fills = rebalance(
        holdings,
        100.0,
        np.array([1.0, 0.0, 0.0]),
        np.array([10.0, 5.0]),
        np.array([20.0, 5.0]),  # the open doubled overnight
        np.array([1.0, 1.0]),
        np.array([0, 0], dtype=np.int64),
        np.array([0.001, 0.001]),
        0.0,
        0.0,
    )
    # Wanted 10 units at 20 plus fee (200.2) with 100 in cash: 0.4995 of it, 4 whole lots.
    assert holdings.tolist() == [4.0, 0.0]
    assert fees == pytest.approx(4 * 20 * 0.001)
    assert cash == pytest.approx(100.0 - 80.0 - 0.08)
    assert (traded, fills) == (80.0, 1)


def test_observation_does_not_look_ahead(market) -> None:  # type: ignore[no-untyped-def]
    cut = market.first_decision + 400
    series = [sample_bars(s, "5m") for s in ALT_BTC]
    _, aligned = align(series, 300_000)
    head = [b.between(None, int(market.timestamp[cut]) + 1) for b in aligned]
    short = build_portfolio(PortfolioConfig(window=4), head)
    a, b = PortfolioEnv(market=market), PortfolioEnv(market=short)
    obs_a, _ = a.reset(options={"start": cut - 1})
    obs_b, _ = b.reset(options={"start": cut - 1})
    np.testing.assert_array_equal(obs_a, obs_b)
    assert obs_a.shape == (4 * len(ALT_BTC) * 8 + len(ALT_BTC) + 1,)
    assert obs_a[-1] == 1.0  # all cash at the start


def test_registered_with_gymnasium_and_passes_its_checker() -> None:
    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env

    from axis_ml.envs import PORTFOLIO_ENV_ID, register_envs

    register_envs()
    env = gym.make(PORTFOLIO_ENV_ID, config=PortfolioConfig(window=2, episode_length=32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # unbounded observation features
        check_env(env.unwrapped, skip_render_check=True)
    env.reset(seed=1)
    done, steps = False, 0
    while not done:
        _obs, _reward, terminated, truncated, _ = env.step(env.action_space.sample())
        done = terminated or truncated
        steps += 1
    assert steps == 32
