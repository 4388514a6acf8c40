"""The NumPy batch environment's hot path: the parallel step equals the one-thread step, the
observation is the feature window it claims to be, and the output buffers are reused."""

from __future__ import annotations

import numpy as np
import pytest

from axis_ml.envs import core
from axis_ml.envs.market import EnvConfig, build_market
from axis_ml.envs.trading import BatchTradingEnv

CONFIG = EnvConfig(window=6, episode_length=60, leverage=5.0, actions="discrete5")


@pytest.fixture(scope="module")
def market():  # type: ignore[no-untyped-def]
    return build_market(CONFIG)


def _policy_actions(rng: np.random.Generator, n: int, steps: int) -> list[np.ndarray]:
    held = rng.integers(0, 5, n)
    out = []
    for _ in range(steps):
        change = rng.uniform(size=n) < 0.1
        held = np.where(change, rng.integers(0, 5, n), held)
        out.append(held.copy())
    return out


def test_two_threads_step_exactly_like_one(market) -> None:  # type: ignore[no-untyped-def]
    n = 256
    one = BatchTradingEnv(n, market=market, seed=3, threads=1)
    two = BatchTradingEnv(n, market=market, seed=3, threads=2)
    obs_one, _ = one.reset()
    obs_two, _ = two.reset()
    np.testing.assert_array_equal(obs_one, obs_two)
    ended = 0
    for actions in _policy_actions(np.random.default_rng(0), n, 150):
        a = one.step(actions)
        b = two.step(actions)
        for x, y in zip(a[:4], b[:4], strict=True):
            np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(one.states, two.states)
        ended += int((a[2] | a[3]).sum())
    assert ended > n  # every account went through at least one reset
    assert one.states[:, core.ST_TRADES].sum() > 0


def test_observation_is_the_feature_window_and_the_account(market) -> None:  # type: ignore[no-untyped-def]
    env = BatchTradingEnv(64, market=market, seed=1)
    env.reset()
    for actions in _policy_actions(np.random.default_rng(1), 64, 30):
        obs, _, _ = env.step_arrays(actions)
    width = CONFIG.window * market.features.shape[2]
    for i, row in enumerate(env.states):
        m, t = int(row[core.ST_MARKET]), int(row[core.ST_T])
        window = market.features[m, t - CONFIG.window + 1 : t + 1].ravel()
        np.testing.assert_array_equal(obs[i, :width], window)
        expected = core.position_features(
            row[core.ST_POS],
            row[core.ST_ENTRY],
            row[core.ST_EQUITY],
            row[core.ST_PEAK],
            market.prices[m, t, core.P_CLOSE],
            market.spec[core.S_CS],
            market.spec[core.S_LEV],
        )
        np.testing.assert_array_equal(obs[i, width:], np.array(expected, dtype=np.float32))
    account = obs[:, width:]
    assert (account[:, 0] != 0).any()  # some accounts hold a position
    assert np.isfinite(account).all()
    assert (account[:, 2] <= 0).all()  # drawdown from the equity peak


def test_step_arrays_reuses_its_buffers_and_flags_resets(market) -> None:  # type: ignore[no-untyped-def]
    env = BatchTradingEnv(32, market=market, seed=2)
    env.reset()
    actions = np.ones(32, dtype=np.int64)
    first = env.step_arrays(actions)
    starts_before = env.states[:, core.ST_START].copy()
    saw_done = False
    for _ in range(CONFIG.episode_length + 2):
        obs, rewards, done = env.step_arrays(actions)
        assert obs is first[0]
        assert rewards is first[1]
        assert done is first[2]
        if done.any():
            saw_done = True
            # An ended account was reset in the same call: a new episode, first bar unplayed.
            restarted = env.states[done]
            assert (restarted[:, core.ST_T] == restarted[:, core.ST_START]).all()
            assert (restarted[:, core.ST_EQUITY] == CONFIG.capital).all()
    assert saw_done
    assert not np.array_equal(starts_before, env.states[:, core.ST_START])


def test_threads_must_fit_numbas_pool(market) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="threads must be between 1 and"):
        BatchTradingEnv(4, market=market, threads=0)
