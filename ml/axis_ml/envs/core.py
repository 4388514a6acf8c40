"""The compiled step of the trading environments: N accounts, one bar each per call.

Nothing here defines a trading rule. Sizing (:func:`axis.venues.fills.exposure_quantity`),
the risk chain (:func:`axis.backtest.vectorized.risk_check`), fills at the next bar's open
with slippage and taker fee, the margin check and the position update
(:mod:`axis.venues.fills`), funding (:func:`axis.domain.futures.funding_payment`) and
liquidation on the mark path (:func:`axis.venues.fills.touch_time` and the exchange's tiered
liquidation price) are the core's own numba functions; this module only sequences them the way
the backtest engine does for a strategy that sets a target exposure at each bar's close:

1. at the close of bar ``t`` the action becomes a target exposure; a changed target sizes one
   market order against equity at the close, which passes the risk chain;
2. bar ``t + 1``: funding settles at the open; the liquidation price and the orders arriving
   at the open (the position monitor's emergency order first, then the agent's: submission
   order) are processed in intrabar-path order (a liquidation wins a tie);
3. equity is marked at the close of ``t + 1``; the position monitor
   (:mod:`axis.risk.monitor`'s rules on the mark close) raises its liquidation-distance alert
   and, inside the emergency distance, sends a reduce-only market order for half the position
   through the risk chain; the reward, the termination test (liquidation, drawdown limit) and
   the truncation test (episode length, end of data) follow.

Isolated and cross margin follow the kernel: in cross mode funding and realised PnL move the
wallet that backs the position, and the liquidation price is solved on the wallet.

A test replays one action sequence through this step and through the core's engine and
SimulatedVenue and compares the equity curves.
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
from pathlib import Path
from types import FunctionType
from typing import Any

import numba
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from axis.backtest.vectorized import (
    S_CROSS,
    S_CS,
    S_LEV,
    S_LOT,
    S_LOT_DEC,
    S_PERP,
    S_SLIPPAGE,
    S_TAKER,
    liquidation_price_spec,
    risk_check,
)
from axis.domain.futures import funding_payment, liquidation_distance, unrealized_pnl
from axis.domain.instrument import floor_step
from axis.venues import fills as rules

# Market fields, the last axis of the prices array (markets, bars, fields): one bar's
# fields share a cache line.
P_OPEN, P_HIGH, P_LOW, P_CLOSE, P_MOPEN, P_MHIGH, P_MLOW, P_MCLOSE, P_FUNDING, P_DAY = range(10)
N_PRICE_FIELDS = 10

# Per-account state columns.
(
    ST_MARKET,
    ST_T,
    ST_END,
    ST_WALLET,
    ST_POS,
    ST_ENTRY,
    ST_MARGIN,
    ST_LIQ,
    ST_PEAK,
    ST_DAY_START,
    ST_EQUITY,
    ST_LAST_TARGET,
    ST_PEND_SIDE,
    ST_PEND_QTY,
    ST_PEND_REDUCE,
    ST_FEES,
    ST_FUNDING,
    ST_DSR_A,
    ST_DSR_B,
    ST_START,
    ST_LIQUIDATIONS,
    ST_VETOES,
    ST_TRADES,
    ST_EMERG_SIDE,
    ST_EMERG_QTY,
    ST_ALERTED,
    ST_REDUCED,
    ST_ALERTS,
    ST_EMERGENCIES,
) = range(29)
N_STATE = 29

# The position monitor's thresholds (the kernel's ``monitor`` array): alert distance,
# emergency distance, share of the position the emergency order closes.
M_ALERT, M_EMERGENCY, M_FRACTION = range(3)

# Settings of the episode and the reward, in one array.
C_CAPITAL, C_WINDOW, C_REWARD, C_DD_PENALTY, C_DSR_ETA, C_MAX_DRAWDOWN = range(6)
C_DEADBAND, C_REWARD_SCALE = 6, 7
N_CONFIG = 8

REWARD_PNL, REWARD_DSR, REWARD_DRAWDOWN = 0, 1, 2
REWARD_KINDS = {"pnl": REWARD_PNL, "differential_sharpe": REWARD_DSR, "drawdown": REWARD_DRAWDOWN}

# An action value meaning "halve the current target" (the 5-action space's reduce).
HALVE = 9.0

N_POSITION_FEATURES = 3  # exposure, unrealised PnL / equity, drawdown from peak


# The step's parts are inlined into it by numba (``inline="always"``): left to LLVM they stay
# calls, each passing its arrays through memory, and the step took twice as long.
@numba.njit(cache=True, inline="always")
def _decide(
    state: np.ndarray,
    i: int,
    action: float,
    prices: np.ndarray,
    spec: np.ndarray,
    brackets: np.ndarray,
    lim: np.ndarray,
    config: np.ndarray,
) -> None:
    """At the close of bar ``t``: turn the action into at most one market order."""
    m, t = int(state[i, ST_MARKET]), int(state[i, ST_T])
    target = resolve_target(action, state[i, ST_LAST_TARGET], config[C_DEADBAND])
    if target != target:
        return
    state[i, ST_LAST_TARGET] = target
    pos, entry, margin = state[i, ST_POS], state[i, ST_ENTRY], state[i, ST_MARGIN]
    eq, close = state[i, ST_EQUITY], prices[m, t, P_CLOSE]
    qty, side, reduce_only = 0.0, 0, True
    if target == 0.0:
        if pos != 0.0:
            qty, side = abs(pos), -1 if pos > 0 else 1
    else:
        size = rules.exposure_quantity(
            eq * abs(target),
            close,
            spec[S_LEV],
            spec[S_CS],
            spec[S_TAKER],
            spec[S_SLIPPAGE],
            spec[S_LOT],
            int(spec[S_LOT_DEC]),
        )
        delta = math.copysign(size, target) - pos
        if abs(delta) >= spec[S_LOT] * 0.5:
            grows = size > abs(pos) or target * pos < 0
            qty, side = abs(delta), 1 if delta > 0 else -1
            reduce_only = not grows
    if qty <= 0.0:
        return
    q_ok, code = risk_check(
        side,
        qty,
        reduce_only,
        close,
        pos,
        entry,
        margin,
        eq,
        state[i, ST_PEAK],
        state[i, ST_DAY_START],
        1 if state[i, ST_EMERG_QTY] > 0.0 else 0,  # the monitor's order is working
        spec,
        brackets,
        lim,
    )
    if code != 0:
        state[i, ST_VETOES] += 1.0
        return
    state[i, ST_PEND_SIDE], state[i, ST_PEND_QTY] = side, q_ok
    state[i, ST_PEND_REDUCE] = 1.0 if reduce_only else 0.0


@numba.njit(cache=True, inline="always")
def _advance(
    state: np.ndarray,
    i: int,
    prices: np.ndarray,
    spec: np.ndarray,
    brackets: np.ndarray,
    lim: np.ndarray,
    monitor: np.ndarray,
) -> bool:
    """Play bar ``t + 1``: funding, then liquidation and the arriving orders in path order,
    then the close and the position monitor. Returns True when the position was liquidated."""
    m = int(state[i, ST_MARKET])
    t = int(state[i, ST_T]) + 1
    state[i, ST_T] = t
    if prices[m, t, P_DAY] != prices[m, t - 1, P_DAY]:
        state[i, ST_DAY_START] = state[i, ST_EQUITY]  # equity at the previous day's last close
    cs, lev, taker, lot = spec[S_CS], spec[S_LEV], spec[S_TAKER], spec[S_LOT]
    perp, cross = spec[S_PERP] > 0, spec[S_CROSS] > 0
    wallet, pos = state[i, ST_WALLET], state[i, ST_POS]
    entry, margin, liq = state[i, ST_ENTRY], state[i, ST_MARGIN], state[i, ST_LIQ]
    o, h, lo, c = (
        prices[m, t, P_OPEN],
        prices[m, t, P_HIGH],
        prices[m, t, P_LOW],
        prices[m, t, P_CLOSE],
    )
    mo, mh, ml, mc = (
        prices[m, t, P_MOPEN],
        prices[m, t, P_MHIGH],
        prices[m, t, P_MLOW],
        prices[m, t, P_MCLOSE],
    )
    rate = prices[m, t, P_FUNDING]
    if perp and rate != 0.0 and pos != 0.0:
        side_p = 1.0 if pos > 0 else -1.0
        amount = funding_payment(side_p, abs(pos) * cs, mo, rate)
        wallet += amount
        state[i, ST_FUNDING] -= amount
        if not cross:
            margin += amount  # isolated: funding moves the position's own margin
        if not cross and margin <= 0.0:
            liq = mo  # nothing backs the position: liquidated at the open
        else:
            collateral = wallet if cross else margin
            liq = liquidation_price_spec(
                spec, brackets, int(side_p), abs(pos) * cs, entry, collateral
            )
    liquidated = False
    slot = 0  # 0: the monitor's emergency order, 1: the agent's order (submission order)
    now = 0.0
    while True:
        if slot == 0 and state[i, ST_EMERG_QTY] <= 0.0:
            slot = 1
        if slot == 1 and state[i, ST_PEND_QTY] <= 0.0:
            slot = 2
        t_liq = math.inf
        if liq == liq and _mark_reaches(mo, mh, ml, mc, liq, pos):
            direction = -1 if pos > 0 else 1
            t_liq = rules.touch_time(mo, mh, ml, mc, liq, direction, now)
        t_order = now if slot < 2 else math.inf
        if t_liq == math.inf and t_order == math.inf:
            break
        if t_liq <= t_order:  # liquidation: closed at the liquidation price, taker fee
            now = t_liq
            side = -1 if pos > 0 else 1
            qty = abs(pos)
            fee = rules.fee_for(qty, liq, cs, taker)
            wallet += unrealized_pnl(-side, qty * cs, entry, liq) - fee
            state[i, ST_FEES] += fee
            pos, entry, margin, liq = 0.0, 0.0, 0.0, math.nan
            liquidated = True
            state[i, ST_LIQUIDATIONS] += 1.0
            state[i, ST_ALERTED], state[i, ST_REDUCED] = 0.0, 0.0
            state[i, ST_EMERG_QTY] = 0.0  # nothing left to reduce
            if state[i, ST_PEND_REDUCE] > 0:
                state[i, ST_PEND_QTY] = 0.0
            continue
        now = t_order
        if slot == 0:
            side, qty, reduce_only = int(state[i, ST_EMERG_SIDE]), state[i, ST_EMERG_QTY], True
            state[i, ST_EMERG_QTY] = 0.0
        else:
            side, qty = int(state[i, ST_PEND_SIDE]), state[i, ST_PEND_QTY]
            reduce_only = state[i, ST_PEND_REDUCE] > 0
            state[i, ST_PEND_QTY] = 0.0
        slot += 1
        price = rules.slipped_price(rules.price_at(o, h, lo, c, now), side, spec[S_SLIPPAGE])
        if reduce_only:
            if pos == 0.0 or (1 if pos > 0 else -1) != -side:
                continue
            qty = min(qty, abs(pos))
        if not rules.margin_allows(pos, entry, margin, wallet, side, qty, price, cs, lev, taker):
            state[i, ST_VETOES] += 1.0
            continue
        fee = rules.fee_for(qty, price, cs, taker)
        pos, entry, margin, realized = rules.fill_position(
            pos, entry, margin, side, qty, price, cs, lev, lot
        )
        wallet += realized - fee
        state[i, ST_FEES] += fee
        state[i, ST_TRADES] += 1.0
        if pos == 0.0 or not perp:
            liq = math.nan
            state[i, ST_ALERTED], state[i, ST_REDUCED] = 0.0, 0.0
        else:
            collateral = wallet if cross else margin
            liq = liquidation_price_spec(
                spec, brackets, 1 if pos > 0 else -1, abs(pos) * cs, entry, collateral
            )
    state[i, ST_WALLET], state[i, ST_POS] = wallet, pos
    state[i, ST_ENTRY], state[i, ST_MARGIN], state[i, ST_LIQ] = entry, margin, liq
    eq = wallet
    if pos != 0.0:
        eq += unrealized_pnl(1.0 if pos > 0 else -1.0, abs(pos) * cs, entry, c)
    state[i, ST_EQUITY] = eq
    state[i, ST_PEAK] = max(state[i, ST_PEAK], eq)
    if pos != 0.0 and liq == liq:
        _monitor(state, i, mc, c, spec, brackets, lim, monitor)
    return liquidated


@numba.njit(cache=True, inline="always")
def _mark_reaches(
    mark_open: float, mark_high: float, mark_low: float, mark_close: float, liq: float, pos: float
) -> bool:
    """Whether the bar's mark path can reach the liquidation price at all: the path's prices
    lie between its lowest and highest point, so a bar that stays clear of ``liq`` needs no
    :func:`~axis.venues.fills.touch_time` (most bars of most positions)."""
    if pos > 0:
        return min(min(mark_open, mark_high), min(mark_low, mark_close)) <= liq
    return max(max(mark_open, mark_high), max(mark_low, mark_close)) >= liq


@numba.njit(cache=True, inline="always")
def _monitor(
    state: np.ndarray,
    i: int,
    mark: float,
    close: float,
    spec: np.ndarray,
    brackets: np.ndarray,
    lim: np.ndarray,
    monitor: np.ndarray,
) -> None:
    """The position monitor at the close (:class:`axis.risk.monitor.PositionMonitor`'s rules,
    as the vectorised kernel runs them): an alert once per crossing of the alert distance,
    and once per crossing of the emergency distance a reduce-only market order for
    ``monitor[M_FRACTION]`` of the position, through the risk chain, arriving at the next
    open ahead of the agent's order."""
    distance = liquidation_distance(mark, state[i, ST_LIQ])
    if distance >= monitor[M_ALERT]:
        state[i, ST_ALERTED], state[i, ST_REDUCED] = 0.0, 0.0
        return
    if state[i, ST_ALERTED] == 0.0:
        state[i, ST_ALERTED] = 1.0
        state[i, ST_ALERTS] += 1.0
    if distance >= monitor[M_EMERGENCY]:
        state[i, ST_REDUCED] = 0.0
        return
    if state[i, ST_REDUCED] > 0.0:
        return
    state[i, ST_REDUCED] = 1.0
    state[i, ST_EMERGENCIES] += 1.0
    pos = state[i, ST_POS]
    qty = floor_step(abs(pos) * monitor[M_FRACTION], spec[S_LOT], int(spec[S_LOT_DEC]))
    if qty <= 0.0:
        return
    side = -1 if pos > 0 else 1
    q_ok, code = risk_check(
        side,
        qty,
        True,
        close,
        pos,
        state[i, ST_ENTRY],
        state[i, ST_MARGIN],
        state[i, ST_EQUITY],
        state[i, ST_PEAK],
        state[i, ST_DAY_START],
        0,
        spec,
        brackets,
        lim,
    )
    if code != 0:
        state[i, ST_VETOES] += 1.0
        return
    state[i, ST_EMERG_SIDE], state[i, ST_EMERG_QTY] = side, q_ok


@numba.njit(cache=True, inline="always")
def _reward(
    state: np.ndarray, i: int, eq_before: float, peak_before: float, config: np.ndarray
) -> float:
    eq = state[i, ST_EQUITY]
    capital = config[C_CAPITAL]
    ret = (eq - eq_before) / capital
    kind = int(config[C_REWARD])
    if kind == REWARD_DSR:
        # Moody & Saffell's differential Sharpe ratio on the per-step return.
        a, b, eta = state[i, ST_DSR_A], state[i, ST_DSR_B], config[C_DSR_ETA]
        da, db = ret - a, ret * ret - b
        var = b - a * a
        value = (b * da - 0.5 * a * db) / var**1.5 if var > 1e-12 else 0.0
        state[i, ST_DSR_A], state[i, ST_DSR_B] = a + eta * da, b + eta * db
        return value
    scale = config[C_REWARD_SCALE]
    if kind == REWARD_DRAWDOWN:
        dd_before = 1.0 - eq_before / peak_before if peak_before > 0 else 0.0
        peak = state[i, ST_PEAK]
        dd_now = 1.0 - eq / peak if peak > 0 else 0.0
        return (ret - config[C_DD_PENALTY] * max(dd_now - dd_before, 0.0)) * scale
    return ret * scale


@numba.njit(cache=True, inline="always")
def position_features(
    position: float,
    entry: float,
    equity: float,
    peak: float,
    close: float,
    contract_size: float,
    leverage: float,
) -> tuple[float, float, float]:
    """The account part of an observation: exposure as a share of equity x leverage (the
    unit of a target), unrealised PnL / equity, and the drawdown from the equity peak. The
    ``rl_policy`` strategy builds its observations with this same function."""
    exposure, upnl = 0.0, 0.0
    if equity > 0 and position != 0.0:
        exposure = position * contract_size * close / (equity * leverage)
        sign = 1.0 if position > 0 else -1.0
        upnl = unrealized_pnl(sign, abs(position) * contract_size, entry, close) / equity
    drawdown = equity / peak - 1.0 if peak > 0 else 0.0
    return min(max(exposure, -2.0), 2.0), min(max(upnl, -1.0), 1.0), drawdown


@numba.njit(cache=True, inline="always")
def resolve_target(action: float, last: float, deadband: float) -> float:
    """The target exposure an action asks for given the last one, or NaN for "no order":
    NaN holds, :data:`HALVE` halves the last target, an unchanged target or a change inside
    the dead band places nothing (exits always go through)."""
    target = action
    if action == HALVE:
        target = last * 0.5 if last == last else 0.0
    if target != target or target == last:
        return math.nan
    if last == last and target != 0.0 and abs(target - last) < deadband:
        return math.nan
    return target


def _copy_rows_typer(
    typingctx: Any, dst: Any, row: Any, src: Any, block: Any, first: Any, count: Any
) -> Any:
    """``dst[row, :count * F] = src[block, first : first + count, :].ravel()`` as one memcpy
    (F = ``src.shape[2]``; both arrays C-contiguous, same dtype, bounds are the caller's).
    The element loop numba generates for the same copy costs several times as much: the
    feature window is most of an observation."""
    if not (
        isinstance(dst, types.Array)
        and isinstance(src, types.Array)
        and dst.ndim == 2
        and src.ndim == 3
        and dst.layout == "C"
        and src.layout == "C"
        and dst.dtype == src.dtype
    ):
        return None
    sig = types.void(dst, types.intp, src, types.intp, types.intp, types.intp)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        out_value, row_i, in_value, block_i, first_i, count_i = args
        out = context.make_array(signature.args[0])(context, builder, out_value)
        source = context.make_array(signature.args[2])(context, builder, in_value)
        out_width = cgutils.unpack_tuple(builder, out.shape, 2)[1]
        _, rows, width = cgutils.unpack_tuple(builder, source.shape, 3)
        target = builder.gep(out.data, [builder.mul(row_i, out_width)])
        start = builder.mul(builder.add(builder.mul(block_i, rows), first_i), width)
        origin = builder.gep(source.data, [start])
        itemsize = context.get_abi_sizeof(context.get_data_type(signature.args[0].dtype))
        cgutils.raw_memcpy(builder, target, origin, builder.mul(count_i, width), itemsize)
        return context.get_dummy_value()

    return sig, codegen


_copy_rows: Any = intrinsic(_copy_rows_typer)


@numba.njit(cache=True, inline="always")
def write_observation(
    state: np.ndarray,
    i: int,
    prices: np.ndarray,
    features: np.ndarray,
    spec: np.ndarray,
    window: int,
    obs: np.ndarray,
) -> None:
    """Row ``i`` of ``obs``: the features of bars ``t - window + 1 .. t`` (row-major) and the
    account's position state. ``features`` and ``obs`` are C-contiguous float32."""
    m, t = int(state[i, ST_MARKET]), int(state[i, ST_T])
    _copy_rows(obs, i, features, m, t - window + 1, window)
    k = window * features.shape[2]
    exposure, upnl, drawdown = position_features(
        state[i, ST_POS],
        state[i, ST_ENTRY],
        state[i, ST_EQUITY],
        state[i, ST_PEAK],
        prices[m, t, P_CLOSE],
        spec[S_CS],
        spec[S_LEV],
    )
    obs[i, k], obs[i, k + 1], obs[i, k + 2] = exposure, upnl, drawdown


@numba.njit(cache=True, inline="always")
def reset_account(
    state: np.ndarray, i: int, market: int, start: int, end: int, config: np.ndarray
) -> None:
    """A fresh account of ``config[C_CAPITAL]`` on ``market`` whose first decision is at the
    close of bar ``start`` and whose last bar is ``end``."""
    state[i, :] = 0.0
    capital = config[C_CAPITAL]
    state[i, ST_MARKET], state[i, ST_T], state[i, ST_END] = market, start, end
    state[i, ST_START] = start
    state[i, ST_WALLET] = capital
    state[i, ST_EQUITY] = capital
    state[i, ST_PEAK] = capital
    state[i, ST_DAY_START] = capital
    state[i, ST_LIQ] = math.nan
    state[i, ST_LAST_TARGET] = math.nan


def _step_accounts(
    state: np.ndarray,
    actions: np.ndarray,
    prices: np.ndarray,
    features: np.ndarray,
    spec: np.ndarray,
    brackets: np.ndarray,
    lim: np.ndarray,
    monitor: np.ndarray,
    config: np.ndarray,
    obs: np.ndarray,
    rewards: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    done: np.ndarray,
) -> int:
    """One step of every account: decide at the close, play the next bar, reward, observe.
    Writes the output arrays in place and returns how many accounts ended (``done``).
    Accounts that end are left on their last bar; the caller resets them."""
    window = int(config[C_WINDOW])
    max_dd = config[C_MAX_DRAWDOWN]
    ended = 0
    for i in numba.prange(state.shape[0]):
        if state[i, ST_T] >= state[i, ST_END]:  # stepped past its end: nothing left to play
            rewards[i], terminated[i], truncated[i], done[i] = 0.0, False, True, True
            ended += 1
            continue
        eq_before, peak_before = state[i, ST_EQUITY], state[i, ST_PEAK]
        _decide(state, i, actions[i], prices, spec, brackets, lim, config)
        liquidated = _advance(state, i, prices, spec, brackets, lim, monitor)
        rewards[i] = _reward(state, i, eq_before, peak_before, config)
        eq, peak = state[i, ST_EQUITY], state[i, ST_PEAK]
        stop = liquidated or eq <= 0.0 or (max_dd > 0 and eq <= peak * (1.0 - max_dd))
        at_end = (not stop) and state[i, ST_T] >= state[i, ST_END]
        terminated[i], truncated[i], done[i] = stop, at_end, stop or at_end
        if stop or at_end:
            ended += 1
        write_observation(state, i, prices, features, spec, window, obs)
    return ended


# Compiled without numba's reference counting: these functions allocate nothing, and counting
# the references to every array handed to the inlined rules cost more than half of a step
# (5 -> 10 M env-steps/s on one core). ``_nrt`` is numba's own switch for it.
_UNCOUNTED: dict[str, Any] = {"cache": True, "_nrt": False}
_CONFIG: Any = numba.config


@numba.njit(cache=True, inline="always")
def draw_episode(
    u_market: float, u_start: float, lengths: np.ndarray, first: int, episode_length: int
) -> tuple[int, int, int]:
    """(market, start, end) of a random episode from two uniforms in [0, 1): each market
    equally likely, then each start from ``first`` to the latest that leaves a full episode
    (or one bar) to play; ``episode_length`` 0 plays to the market's last bar."""
    n_markets = lengths.shape[0]
    market = min(int(u_market * n_markets), n_markets - 1)
    last = lengths[market] - 1
    latest = max(first, last - (episode_length if episode_length > 0 else 1))
    start = first + min(int(u_start * (latest - first + 1)), latest - first)
    end = last if episode_length == 0 else min(start + episode_length, last)
    return market, start, end


@numba.njit(cache=True)
def draw_episodes(
    uniforms: np.ndarray,
    cursor: int,
    lengths: np.ndarray,
    first: int,
    episode_length: int,
    markets: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
) -> int:
    """Fill ``markets``, ``starts`` and ``ends`` with episodes drawn from ``uniforms`` from
    ``cursor`` on (two per episode); returns the cursor after them."""
    for k in range(markets.shape[0]):
        markets[k], starts[k], ends[k] = draw_episode(
            uniforms[cursor], uniforms[cursor + 1], lengths, first, episode_length
        )
        cursor += 2
    return cursor


@numba.njit(**_UNCOUNTED)
def reset_accounts(
    state: np.ndarray,
    accounts: np.ndarray,
    uniforms: np.ndarray,
    cursor: int,
    lengths: np.ndarray,
    first: int,
    episode_length: int,
    prices: np.ndarray,
    features: np.ndarray,
    spec: np.ndarray,
    config: np.ndarray,
    obs: np.ndarray,
) -> int:
    """Reset every account flagged in ``accounts`` (a mask over the accounts, in account
    order) onto an episode drawn as :func:`draw_episodes` draws them, with its first
    observation; returns the cursor after the uniforms used."""
    window = int(config[C_WINDOW])
    for i in range(accounts.shape[0]):
        if not accounts[i]:
            continue
        market, start, end = draw_episode(
            uniforms[cursor], uniforms[cursor + 1], lengths, first, episode_length
        )
        cursor += 2
        reset_account(state, i, market, start, end, config)
        write_observation(state, i, prices, features, spec, window, obs)
    return cursor


# One body, two compilations: ``step_accounts`` (uncounted, see above) runs on the calling
# thread; ``step_accounts_parallel`` splits the accounts over numba's worker threads (see
# :func:`choose_threading_layer`).
def _renamed(func: Any, name: str) -> FunctionType:
    """A copy of ``func`` under another name: numba's on-disk cache is keyed by the name."""
    copy = FunctionType(func.__code__, func.__globals__, name, func.__defaults__)
    copy.__qualname__ = name
    return copy


def check_threads(threads: int) -> int:
    """``threads`` if numba's thread pool has that many threads, else a ValueError."""
    most = int(_CONFIG.NUMBA_NUM_THREADS)
    if not 1 <= threads <= most:
        raise ValueError(f"threads must be between 1 and {most} (numba's thread pool)")
    return threads


def choose_threading_layer() -> str | None:
    """Pick numba's threading layer before its threads start, unless ``NUMBA_THREADING_LAYER``
    already says which; returns the layer chosen, None when the choice was not ours.

    TBB when the ``tbb`` package's library is installed (it lives in the environment's
    ``lib``, off the loader's path, so it is loaded here by its full path), else numba's
    default. Measured on a 2-core machine at N=1,024 with one core busy elsewhere: TBB's
    work stealing keeps two threads at ~10 M env-steps/s where OpenMP's static split and
    spinning barrier fall to ~0.4 M (every step waits for the thread whose core is taken),
    and the workqueue layer wakes its workers on every call (~5.5 M, below one thread)."""
    if "NUMBA_THREADING_LAYER" in os.environ:
        return None
    try:
        numba.threading_layer()
        return None  # numba's threads are running: too late to choose
    except ValueError:
        pass
    library = Path(sys.prefix) / "lib" / "libtbb.so.12"
    if not library.exists():
        return None
    try:
        ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)
    except OSError:
        return None
    _CONFIG.THREADING_LAYER = "tbb"
    return "tbb"


def use_threads(threads: int) -> None:
    """Run the next parallel step of this thread on ``threads`` of numba's threads (call
    :func:`choose_threading_layer` first, once)."""
    if numba.get_num_threads() != threads:
        numba.set_num_threads(threads)


step_accounts = numba.njit(**_UNCOUNTED)(_renamed(_step_accounts, "step_accounts"))
step_accounts_parallel = numba.njit(cache=True, parallel=True)(
    _renamed(_step_accounts, "step_accounts_parallel")
)
