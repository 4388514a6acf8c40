"""The batch trading environment in torch: N accounts stepped as tensors, on a GPU when one
is present.

Same semantics as :class:`axis_ml.envs.trading.BatchTradingEnv` — same state columns
(:mod:`axis_ml.envs.core`), same order of events within a bar, same sizing, risk chain, fills,
fees, funding, per-exchange tiered liquidation price, position monitor, rewards,
observations, episode ends and resets (drawn from the same NumPy generator). The core writes
each rule once as a scalar numba function; here each is the same formula over a tensor of
accounts, in float64, in the same operation order, and a test steps both environments with
the same actions and compares every observation, reward, flag and state column. Where the
scalar code branches, the tensors compute both sides and select (``torch.where``); the
intrabar event loop runs a fixed number of rounds with finished accounts masked out.

Observations are float32 tensors on the environment's device; actions may be a tensor or a
NumPy array. :class:`axis_ml.envs.sb3.BatchVecEnv` hands it to stable-baselines3 like the
NumPy batch.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv

from axis.backtest.vectorized import (
    K_AMOUNT,
    K_CAP,
    K_MAX_LEV,
    K_MMR,
    L_DAILY_LOSS,
    L_MAX_DRAWDOWN,
    L_MAX_LEV,
    L_MAX_ORDERS,
    L_MAX_POS_NOTIONAL,
    L_MAX_TOTAL_LEV,
    L_MAX_TOTAL_NOTIONAL,
    L_MIN_LIQ,
    S_CROSS,
    S_CS,
    S_EXCH,
    S_LEV,
    S_LOT,
    S_LOT_DEC,
    S_MIN_NOTIONAL,
    S_MIN_QTY,
    S_PERP,
    S_SLIPPAGE,
    S_TAKER,
)
from axis.domain import liquidation as liqmod
from axis_ml.envs import core
from axis_ml.envs.core import (
    C_CAPITAL,
    C_DD_PENALTY,
    C_DEADBAND,
    C_DSR_ETA,
    C_MAX_DRAWDOWN,
    C_REWARD,
    C_REWARD_SCALE,
    C_WINDOW,
    M_ALERT,
    M_EMERGENCY,
    M_FRACTION,
    P_CLOSE,
    P_DAY,
    P_FUNDING,
    P_HIGH,
    P_LOW,
    P_MCLOSE,
    P_MHIGH,
    P_MLOW,
    P_MOPEN,
    P_OPEN,
)
from axis_ml.envs.market import EnvConfig, EpisodeDraws, TradingMarket, build_market
from axis_ml.envs.trading import _spaces

Tensor = torch.Tensor
SNAP_REL = 1e-12  # axis.domain.instrument's snapping tolerance
TIER_EPS = 1e-9  # axis.domain.liquidation's tier-boundary slack
EVENT_ROUNDS = 8  # at most ~5 events in a bar (liquidations around two orders), and spares


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class _Rules:
    """The core's rules as tensor functions, bound to one market's settings."""

    def __init__(self, market: TradingMarket, device: torch.device) -> None:
        spec, lim = market.spec, market.limits
        self.device = device
        self.cs, self.lev = float(spec[S_CS]), float(spec[S_LEV])
        self.lot, self.lot_dec = float(spec[S_LOT]), int(spec[S_LOT_DEC])
        self.taker, self.slippage = float(spec[S_TAKER]), float(spec[S_SLIPPAGE])
        self.min_qty, self.min_notional = float(spec[S_MIN_QTY]), float(spec[S_MIN_NOTIONAL])
        self.perp, self.cross = bool(spec[S_PERP] > 0), bool(spec[S_CROSS] > 0)
        self.exchange = int(spec[S_EXCH])
        self.lim = [float(x) for x in lim]
        b = market.brackets

        def t(row: int) -> Tensor:
            return torch.as_tensor(np.ascontiguousarray(b[row]), dtype=torch.float64, device=device)

        self.caps, self.max_lev, self.mmr, self.amount = (
            t(K_CAP),
            t(K_MAX_LEV),
            t(K_MMR),
            t(K_AMOUNT),
        )
        # Each tier's notional range: from the previous cap to its own (the last is open).
        zero = torch.zeros(1, dtype=torch.float64, device=device)
        self.floors = torch.cat([zero, self.caps[:-1]])[None, :]
        ceilings = self.caps.clone()
        ceilings[-1] = math.inf
        self.ceilings = ceilings[None, :]
        self.monitor = [float(x) for x in market.monitor]

    # -- instrument arithmetic ----------------------------------------------------------------
    def floor_step(self, value: Tensor, step: float, decimals: int) -> Tensor:
        units = value / step
        nearest = torch.round(units)
        snap = (units - nearest).abs() <= SNAP_REL * torch.clamp(units.abs(), min=1.0)
        units = torch.where(snap, nearest, units)
        scale = 10.0**decimals
        return torch.round((torch.floor(units) * step) * scale) / scale

    def exposure_quantity(self, budget: Tensor, price: Tensor) -> Tensor:
        per_contract = self.cs * price * (1.0 + self.slippage) * (1.0 / self.lev + self.taker)
        size = self.floor_step(budget / per_contract, self.lot, self.lot_dec)
        return torch.where((budget <= 0.0) | (price <= 0.0), torch.zeros_like(size), size)

    # -- intrabar path ------------------------------------------------------------------------
    @staticmethod
    def path(o: Tensor, h: Tensor, lo: Tensor, c: Tensor) -> Tensor:
        high_first = (h - o) <= (o - lo)
        return torch.stack(
            [o, torch.where(high_first, h, lo), torch.where(high_first, lo, h), c], dim=-1
        )

    @staticmethod
    def price_at(p: Tensor, t: Tensor) -> Tensor:
        k = torch.clamp(torch.floor(t), 0.0, 2.0).long()
        a = p.gather(1, k[:, None])[:, 0]
        b = p.gather(1, (k + 1)[:, None])[:, 0]
        inner = a + (b - a) * (t - k.to(t.dtype))
        return torch.where(t <= 0.0, p[:, 0], torch.where(t >= 3.0, p[:, 3], inner))

    @classmethod
    def touch_time(cls, p: Tensor, level: Tensor, direction: Tensor, t_from: Tensor) -> Tensor:
        def beyond(price: Tensor) -> Tensor:
            return torch.where(direction > 0, price >= level, price <= level)

        never = torch.full_like(level, math.inf)
        prev = cls.price_at(p, t_from)
        out = torch.where(beyond(prev) & (t_from < 3.0), t_from, never)
        found = out < math.inf
        found |= t_from >= 3.0
        prev_t = t_from.clone()
        first = torch.floor(t_from)
        for k in range(3):
            active = ~found & (first <= k)
            nxt = p[:, k + 1]
            hit = active & beyond(nxt)
            when = prev_t + (k + 1.0 - prev_t) * (level - prev) / (nxt - prev)
            out = torch.where(hit, when, out)
            found |= hit
            move = active & ~hit
            prev = torch.where(move, nxt, prev)
            prev_t = torch.where(move, torch.full_like(prev_t, k + 1.0), prev_t)
        return out

    # -- futures math -------------------------------------------------------------------------
    @staticmethod
    def _finish(side: Tensor, price: Tensor) -> Tensor:
        nan = torch.full_like(price, math.nan)
        settled = torch.where(price > 0.0, price, torch.where(side > 0.0, nan, 0.0))
        return torch.where(torch.isnan(price) | torch.isinf(price), nan, settled)

    def _solve_mark_based(
        self,
        side: Tensor,
        q: Tensor,
        entry: Tensor,
        collateral: Tensor,
        rate: Tensor,
        amount: Tensor,
    ) -> Tensor:
        q = q.abs()
        denominator = q * (rate - side)
        price = self._finish(side, (collateral + amount - side * q * entry) / denominator)
        invalid = (q <= 0.0) | (entry <= 0.0) | (side == 0.0)
        invalid = invalid | ((side > 0.0) & (denominator >= 0.0))
        return torch.where(invalid, torch.full_like(price, math.nan), price)

    def _liquidation_core(
        self,
        side: Tensor,
        q: Tensor,
        entry: Tensor,
        collateral: Tensor,
        mmr: Tensor,
        amount: Tensor,
    ) -> Tensor:
        code = self.exchange
        if code == liqmod.BINANCE:
            return self._solve_mark_based(side, q, entry, collateral, mmr, amount)
        if code in (liqmod.OKX, liqmod.GATE):
            return self._solve_mark_based(side, q, entry, collateral, mmr + self.taker, amount)
        # Bybit: the maintenance margin is valued at the entry price, plus the closing fee on
        # the bankruptcy price.
        q = q.abs()
        bankrupt = entry - side * collateral / q
        bankrupt = torch.where(bankrupt > 0.0, bankrupt, torch.zeros_like(bankrupt))
        closing_fee = q * bankrupt * self.taker
        maintenance = q * entry * mmr - amount + closing_fee
        price = self._finish(side, entry - side * (collateral - maintenance) / q)
        invalid = (q <= 0.0) | (entry <= 0.0) | (side == 0.0)
        return torch.where(invalid, torch.full_like(price, math.nan), price)

    def _tier_at(self, notional: Tensor) -> Tensor:
        """The first tier whose cap exceeds ``notional``, else the last (NaN included)."""
        below = notional[:, None] < self.caps[None, :]
        last = torch.full_like(notional, len(self.caps) - 1, dtype=torch.long)
        return torch.where(below.any(dim=1), below.to(torch.int8).argmax(dim=1), last)

    def liquidation_price(
        self, side: Tensor, q: Tensor, entry: Tensor, collateral: Tensor
    ) -> Tensor:
        """The tier-aware liquidation price (:func:`liquidation_price_tiered`): OKX and Bybit
        take the tier at entry; Binance and Gate the first tier whose own solution lies in
        it (every tier solved at once), else the tier at entry."""
        q = q.abs()
        at_entry = self._tier_at(q * entry)
        by_entry = self._liquidation_core(
            side, q, entry, collateral, self.mmr[at_entry], self.amount[at_entry]
        )
        if self.exchange in (liqmod.OKX, liqmod.BYBIT):
            return by_entry
        s_, q_, e_, c_ = side[:, None], q[:, None], entry[:, None], collateral[:, None]
        prices = self._liquidation_core(s_, q_, e_, c_, self.mmr[None, :], self.amount[None, :])
        notional = q_ * prices
        inside = (self.floors * (1.0 - TIER_EPS) <= notional) & (
            notional <= self.ceilings * (1.0 + TIER_EPS)
        )
        inside &= ~torch.isnan(prices)
        chosen = prices.gather(1, inside.to(torch.int8).argmax(dim=1)[:, None])[:, 0]
        out = torch.where(inside.any(dim=1), chosen, by_entry)
        # A long that survives any price in the lowest tier survives everywhere.
        return torch.where(torch.isnan(prices[:, 0]), prices[:, 0], out)

    def liquidation_distance(self, mark: Tensor, liq: Tensor) -> Tensor:
        far = torch.isnan(liq) | (liq <= 0.0)
        distance = (mark - liq).abs() / mark
        distance = torch.where(mark <= 0.0, torch.full_like(mark, math.nan), distance)
        return torch.where(far, torch.full_like(mark, math.inf), distance)

    def margin_allows(
        self,
        pos: Tensor,
        entry: Tensor,
        margin: Tensor,
        wallet: Tensor,
        side: Tensor,
        qty: Tensor,
        price: Tensor,
    ) -> Tensor:
        against = qty * side * pos < 0
        closing = torch.where(against, torch.minimum(qty, pos.abs()), torch.zeros_like(qty))
        opening = qty - closing
        need = opening * self.cs * price * (1.0 / self.lev + self.taker)
        sign = torch.where(pos > 0, 1.0, -1.0).to(pos.dtype)
        upnl = torch.where(pos != 0.0, sign * (pos.abs() * self.cs).abs() * (price - entry), 0.0)
        available = wallet + upnl - margin
        released = torch.where(closing > 0.0, margin * closing / pos.abs(), 0.0)
        return (opening <= 0.0) | (need <= (available + released) * (1.0 + 1e-12))

    def fill_position(
        self,
        pos: Tensor,
        entry: Tensor,
        margin: Tensor,
        side: Tensor,
        qty: Tensor,
        price: Tensor,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        signed = qty * side
        against = (pos != 0.0) & ((signed > 0) != (pos > 0))
        closed = torch.where(against, torch.minimum(signed.abs(), pos.abs()), 0.0)
        sign = torch.where(pos > 0, 1.0, -1.0).to(pos.dtype)
        realized = torch.where(against, sign * (closed * self.cs).abs() * (price - entry), 0.0)
        margin = torch.where(against, margin - margin * closed / pos.abs(), margin)
        pos = torch.where(against, pos + torch.copysign(closed, signed), pos)
        flat = against & (pos.abs() <= self.lot * 1e-9)
        pos = torch.where(flat, 0.0, pos)
        entry = torch.where(flat, 0.0, entry)
        margin = torch.where(flat, 0.0, margin)
        opened = signed.abs() - closed
        opens = opened > 0.0
        total = pos.abs() + opened
        entry = torch.where(opens, (entry * pos.abs() + price * opened) / total, entry)
        pos = torch.where(opens, torch.copysign(total, signed), pos)
        margin = torch.where(opens, margin + opened * self.cs * price / self.lev, margin)
        return pos, entry, margin, realized

    def fee_for(self, qty: Tensor, price: Tensor) -> Tensor:
        return qty.abs() * self.cs * price * self.taker

    # -- the risk chain -----------------------------------------------------------------------
    def _shrink(self, qty: Tensor, side: Tensor, pos: Tensor, cap: Tensor, price: Tensor) -> Tensor:
        fits = (pos + qty * side).abs() * self.cs * price <= cap
        target = (
            self.floor_step(torch.clamp(cap, min=0.0) / (price * self.cs), self.lot, self.lot_dec)
            * side
        )
        room = self.floor_step(torch.clamp((target - pos) * side, min=0.0), self.lot, self.lot_dec)
        return torch.where(fits, qty, room)

    def _instrument_rules(
        self, qty: Tensor, reduce_only: Tensor, price: Tensor
    ) -> tuple[Tensor, Tensor]:
        rounded = self.floor_step(qty.abs(), self.lot, self.lot_dec)
        bad = (rounded <= 0.0) | (rounded < self.min_qty)
        bad |= ~reduce_only & (rounded * self.cs * price < self.min_notional)
        code = torch.where(bad, 7, 0)
        return torch.where(bad, 0.0, rounded), code

    def risk_check(
        self,
        side: Tensor,
        qty: Tensor,
        reduce_only: Tensor,
        price: Tensor,
        pos: Tensor,
        entry_now: Tensor,
        margin_now: Tensor,
        equity: Tensor,
        peak: Tensor,
        day_start: Tensor,
        open_orders: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """(quantity, veto code) of :func:`axis.backtest.vectorized.risk_check` per account."""
        lim = self.lim
        signed = qty * side
        reducing = (pos != 0.0) & (signed * pos < 0) & (signed.abs() <= pos.abs())
        code = torch.zeros_like(qty, dtype=torch.long)

        def veto(condition: Tensor, value: int) -> None:
            nonlocal code
            code = torch.where((code == 0) & condition, value, code)

        veto((peak > 0) & (equity <= peak * (1.0 - lim[L_MAX_DRAWDOWN])), 1)
        veto((day_start > 0) & (equity <= day_start * (1.0 - lim[L_DAILY_LOSS])), 2)
        veto(open_orders >= lim[L_MAX_ORDERS], 3)
        veto(~((price > 0.0) & (price < math.inf)), 4)
        notional = (pos + qty * side).abs() * self.cs * price
        if self.perp:
            bracket_max = self.max_lev[self._tier_at(notional)]
        else:
            bracket_max = torch.ones_like(notional)
        allowed = torch.clamp(bracket_max, max=lim[L_MAX_LEV])
        veto(self.lev > allowed + 1e-12, 4)
        q = self._shrink(qty, side, pos, equity * allowed, price)
        veto(q <= 0.0, 4)
        cap = equity * lim[L_MAX_TOTAL_LEV]
        if lim[L_MAX_POS_NOTIONAL] > 0:
            cap = torch.clamp(cap, max=lim[L_MAX_POS_NOTIONAL])
        if lim[L_MAX_TOTAL_NOTIONAL] > 0:
            cap = torch.clamp(cap, max=lim[L_MAX_TOTAL_NOTIONAL])
        q = self._shrink(q, side, pos, cap, price)
        veto(q <= 0.0, 5)
        after = pos + q * side
        if self.perp:
            base = after.abs() * self.cs
            adding = pos * after > 0
            added = after.abs() - pos.abs()
            entry = torch.where(
                adding, (entry_now * pos.abs() + price * added) / after.abs(), price
            )
            margin = torch.where(
                adding, margin_now + added * self.cs * price / self.lev, base * price / self.lev
            )
            if self.cross:
                margin = torch.maximum(equity, margin)
            liq_side = torch.where(after > 0, 1.0, -1.0).to(after.dtype)
            liq = self.liquidation_price(liq_side, base, entry, margin)
            veto((after != 0.0) & (self.liquidation_distance(price, liq) < lim[L_MIN_LIQ]), 6)
        chain_q, chain_rule = self._instrument_rules(q, reduce_only, price)
        chain_q = torch.where(code == 0, chain_q, 0.0)
        chain_code = torch.where(code == 0, chain_rule, code)
        short_q, short_code = self._instrument_rules(qty, reduce_only, price)
        return (
            torch.where(reducing, short_q, chain_q),
            torch.where(reducing, short_code, chain_code),
        )


class TorchBatchTradingEnv(VectorEnv[Tensor, Tensor, Tensor]):
    """``num_envs`` accounts stepped together as tensors on ``device`` (default: CUDA when
    available). An account that ends is reset in the same step."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}  # noqa: RUF012

    def __init__(
        self,
        num_envs: int = 1024,
        config: EnvConfig | None = None,
        *,
        market: TradingMarket | None = None,
        seed: int | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        self.market = market if market is not None else build_market(config or EnvConfig())
        self.config = self.market.config
        self.num_envs = num_envs
        self.device = torch.device(device) if device is not None else default_device()
        single_obs, single_action = _spaces(self.config)
        self.single_observation_space = single_obs
        self.single_action_space = single_action
        self.observation_space = gym.vector.utils.batch_space(single_obs, num_envs)
        self.action_space = gym.vector.utils.batch_space(single_action, num_envs)
        self.draws = EpisodeDraws(self.market, np.random.default_rng(seed))
        self.rules = _Rules(self.market, self.device)
        dev = self.device
        m = self.market
        self.prices = torch.as_tensor(m.prices, dtype=torch.float64, device=dev)
        self.features = torch.as_tensor(m.features, dtype=torch.float32, device=dev)
        self.lengths = m.lengths
        cfg = m.config_array
        self.capital = float(cfg[C_CAPITAL])
        self.window = int(cfg[C_WINDOW])
        self.reward_kind = int(cfg[C_REWARD])
        self.cfg = [float(x) for x in cfg]
        table = self.config.action_targets()
        self.table = (
            None if table is None else torch.as_tensor(table, dtype=torch.float64, device=dev)
        )
        self.state = torch.zeros((num_envs, core.N_STATE), dtype=torch.float64, device=dev)
        self.obs = torch.zeros(
            (num_envs, self.config.observation_size), dtype=torch.float32, device=dev
        )
        self.rewards = torch.zeros(num_envs, dtype=torch.float64, device=dev)
        self.terminated = torch.zeros(num_envs, dtype=torch.bool, device=dev)
        self.truncated = torch.zeros(num_envs, dtype=torch.bool, device=dev)
        self._offsets = torch.arange(self.window, device=dev) - (self.window - 1)

    # -- resets -------------------------------------------------------------------------------
    def _reset_accounts(self, indices: np.ndarray) -> None:
        if len(indices) == 0:
            return
        markets, starts, ends = self.draws.take(len(indices))  # as the NumPy batch draws
        rows = np.zeros((len(indices), core.N_STATE))
        rows[:, core.ST_MARKET], rows[:, core.ST_T], rows[:, core.ST_END] = markets, starts, ends
        rows[:, core.ST_START] = starts
        rows[:, core.ST_WALLET] = rows[:, core.ST_EQUITY] = self.capital
        rows[:, core.ST_PEAK] = rows[:, core.ST_DAY_START] = self.capital
        rows[:, core.ST_LIQ] = math.nan
        rows[:, core.ST_LAST_TARGET] = math.nan
        index = torch.as_tensor(indices, dtype=torch.long, device=self.device)
        self.state[index] = torch.as_tensor(rows, dtype=torch.float64, device=self.device)
        mask = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        mask[index] = True
        self._observe(mask)

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Tensor, dict[str, Any]]:
        if seed is not None:
            rng = np.random.default_rng(seed if isinstance(seed, int) else seed[0])
            self.draws = EpisodeDraws(self.market, rng)
        self._reset_accounts(np.arange(self.num_envs))
        return self.obs.clone(), {}

    # -- one step -----------------------------------------------------------------------------
    def _targets(self, actions: Any) -> Tensor:
        a = torch.as_tensor(
            np.asarray(actions) if not isinstance(actions, Tensor) else actions, device=self.device
        )
        if self.table is not None:
            return self.table[a.reshape(self.num_envs).long()]
        return torch.clamp(a.reshape(self.num_envs).to(torch.float64), -1.0, 1.0)

    def _col(self, column: int) -> Tensor:
        return self.state[:, column]

    def _set(self, column: int, mask: Tensor, value: Tensor | float) -> None:
        self.state[:, column] = torch.where(mask, value, self.state[:, column])

    def _bar(self, field: int, offset: int = 0) -> Tensor:
        m = self._col(core.ST_MARKET).long()
        t = self._col(core.ST_T).long() + offset
        return self.prices[m, t, field]

    def _decide(self, action: Tensor, active: Tensor) -> None:
        r = self.rules
        last = self._col(core.ST_LAST_TARGET)
        target = torch.where(
            action == core.HALVE, torch.where(torch.isnan(last), 0.0, last * 0.5), action
        )
        none = torch.isnan(target) | (target == last)
        none |= (
            ~torch.isnan(last) & (target != 0.0) & ((target - last).abs() < self.cfg[C_DEADBAND])
        )
        go = active & ~none
        self._set(core.ST_LAST_TARGET, go, target)
        pos, entry = self._col(core.ST_POS), self._col(core.ST_ENTRY)
        margin, eq = self._col(core.ST_MARGIN), self._col(core.ST_EQUITY)
        close = self._bar(P_CLOSE)
        exiting = go & (target == 0.0)
        size = r.exposure_quantity(eq * target.abs(), close)
        delta = torch.copysign(size, target) - pos
        trade = go & (target != 0.0) & (delta.abs() >= r.lot * 0.5)
        grows = (size > pos.abs()) | (target * pos < 0)
        qty = torch.where(exiting, pos.abs(), torch.where(trade, delta.abs(), 0.0))
        side = torch.where(
            exiting, torch.where(pos > 0, -1.0, 1.0), torch.where(delta > 0, 1.0, -1.0)
        ).to(torch.float64)
        reduce_only = torch.where(exiting, True, ~grows)
        wants = (exiting | trade) & (qty > 0.0)
        working = (self._col(core.ST_EMERG_QTY) > 0.0).to(torch.float64)
        q_ok, code = r.risk_check(
            side,
            qty,
            reduce_only,
            close,
            pos,
            entry,
            margin,
            eq,
            self._col(core.ST_PEAK),
            self._col(core.ST_DAY_START),
            working,
        )
        self._set(core.ST_VETOES, wants & (code != 0), self._col(core.ST_VETOES) + 1.0)
        place = wants & (code == 0)
        self._set(core.ST_PEND_SIDE, place, side)
        self._set(core.ST_PEND_QTY, place, q_ok)
        self._set(core.ST_PEND_REDUCE, place, reduce_only.to(torch.float64))

    def _advance(self, active: Tensor) -> Tensor:
        r = self.rules
        self._set(core.ST_T, active, self._col(core.ST_T) + 1.0)
        new_day = self._bar(P_DAY) != self._bar(P_DAY, -1)
        self._set(core.ST_DAY_START, active & new_day, self._col(core.ST_EQUITY))
        wallet, pos = self._col(core.ST_WALLET).clone(), self._col(core.ST_POS).clone()
        entry, margin = self._col(core.ST_ENTRY).clone(), self._col(core.ST_MARGIN).clone()
        liq = self._col(core.ST_LIQ).clone()
        o, h, lo, c = (self._bar(f) for f in (P_OPEN, P_HIGH, P_LOW, P_CLOSE))
        mo, mh, ml, mc = (self._bar(f) for f in (P_MOPEN, P_MHIGH, P_MLOW, P_MCLOSE))
        trade_path, mark_path = r.path(o, h, lo, c), r.path(mo, mh, ml, mc)
        rate = self._bar(P_FUNDING)
        funded = active & (rate != 0.0) & (pos != 0.0) if r.perp else torch.zeros_like(active)
        side_p = torch.where(pos > 0, 1.0, -1.0).to(torch.float64)
        amount = -side_p * (pos.abs() * r.cs).abs() * mo * rate
        wallet = torch.where(funded, wallet + amount, wallet)
        self._set(core.ST_FUNDING, funded, self._col(core.ST_FUNDING) - amount)
        if r.cross:
            liq = torch.where(
                funded, r.liquidation_price(side_p, pos.abs() * r.cs, entry, wallet), liq
            )
        else:
            margin = torch.where(funded, margin + amount, margin)
            solved = r.liquidation_price(side_p, pos.abs() * r.cs, entry, margin)
            liq = torch.where(funded, torch.where(margin <= 0.0, mo, solved), liq)
        liquidated = torch.zeros_like(active)
        slot = torch.zeros(self.num_envs, dtype=torch.long, device=self.device)
        now = torch.zeros_like(wallet)
        running = active.clone()
        for _ in range(EVENT_ROUNDS):
            slot = torch.where((slot == 0) & (self._col(core.ST_EMERG_QTY) <= 0.0), 1, slot)
            slot = torch.where((slot == 1) & (self._col(core.ST_PEND_QTY) <= 0.0), 2, slot)
            direction = torch.where(pos > 0, -1.0, 1.0).to(torch.float64)
            t_liq = torch.where(
                torch.isnan(liq), math.inf, r.touch_time(mark_path, liq, direction, now)
            )
            t_order = torch.where(slot < 2, now, math.inf)
            running &= ~(torch.isinf(t_liq) & torch.isinf(t_order))
            if not bool(running.any()):
                break
            # A liquidation: closed at the liquidation price with the taker fee.
            hit = running & (t_liq <= t_order)
            sign = torch.where(pos > 0, 1.0, -1.0).to(torch.float64)
            fee = r.fee_for(pos.abs(), liq)
            pnl = sign * (pos.abs() * r.cs).abs() * (liq - entry)
            wallet = torch.where(hit, wallet + pnl - fee, wallet)
            self._set(core.ST_FEES, hit, self._col(core.ST_FEES) + fee)
            pos = torch.where(hit, 0.0, pos)
            entry = torch.where(hit, 0.0, entry)
            margin = torch.where(hit, 0.0, margin)
            liq = torch.where(hit, math.nan, liq)
            now = torch.where(hit, t_liq, now)
            liquidated |= hit
            self._set(core.ST_LIQUIDATIONS, hit, self._col(core.ST_LIQUIDATIONS) + 1.0)
            self._set(core.ST_ALERTED, hit, 0.0)
            self._set(core.ST_REDUCED, hit, 0.0)
            self._set(core.ST_EMERG_QTY, hit, 0.0)
            self._set(core.ST_PEND_QTY, hit & (self._col(core.ST_PEND_REDUCE) > 0), 0.0)
            # An order arriving at the open: the monitor's, then the agent's.
            order = running & ~hit
            first = slot == 0
            side = torch.where(first, self._col(core.ST_EMERG_SIDE), self._col(core.ST_PEND_SIDE))
            qty = torch.where(first, self._col(core.ST_EMERG_QTY), self._col(core.ST_PEND_QTY))
            reduce_only = first | (self._col(core.ST_PEND_REDUCE) > 0)
            self._set(core.ST_EMERG_QTY, order & first, 0.0)
            self._set(core.ST_PEND_QTY, order & ~first, 0.0)
            slot = torch.where(order, slot + 1, slot)
            price = r.price_at(trade_path, now) * (1.0 + side * r.slippage)
            pos_side = torch.where(pos > 0, 1.0, -1.0).to(torch.float64)
            expired = reduce_only & ((pos == 0.0) | (pos_side != -side))
            qty = torch.where(reduce_only, torch.minimum(qty, pos.abs()), qty)
            allowed = r.margin_allows(pos, entry, margin, wallet, side, qty, price)
            rejected = order & ~expired & ~allowed
            self._set(core.ST_VETOES, rejected, self._col(core.ST_VETOES) + 1.0)
            filled = order & ~expired & allowed
            fee = r.fee_for(qty, price)
            n_pos, n_entry, n_margin, realized = r.fill_position(
                pos, entry, margin, side, qty, price
            )
            pos = torch.where(filled, n_pos, pos)
            entry = torch.where(filled, n_entry, entry)
            margin = torch.where(filled, n_margin, margin)
            wallet = torch.where(filled, wallet + realized - fee, wallet)
            self._set(core.ST_FEES, filled, self._col(core.ST_FEES) + fee)
            self._set(core.ST_TRADES, filled, self._col(core.ST_TRADES) + 1.0)
            flat = filled & ((pos == 0.0) | (not r.perp))
            liq = torch.where(flat, math.nan, liq)
            self._set(core.ST_ALERTED, flat, 0.0)
            self._set(core.ST_REDUCED, flat, 0.0)
            held = filled & ~flat
            collateral = wallet if r.cross else margin
            new_side = torch.where(pos > 0, 1.0, -1.0).to(torch.float64)
            solved = r.liquidation_price(new_side, pos.abs() * r.cs, entry, collateral)
            liq = torch.where(held, solved, liq)
        else:
            if bool(running.any()):
                raise RuntimeError("the intrabar event loop did not settle")
        self._set(core.ST_WALLET, active, wallet)
        self._set(core.ST_POS, active, pos)
        self._set(core.ST_ENTRY, active, entry)
        self._set(core.ST_MARGIN, active, margin)
        self._set(core.ST_LIQ, active, liq)
        sign = torch.where(pos > 0, 1.0, -1.0).to(torch.float64)
        upnl = torch.where(pos != 0.0, sign * (pos.abs() * r.cs).abs() * (c - entry), 0.0)
        eq = wallet + upnl
        self._set(core.ST_EQUITY, active, eq)
        self._set(core.ST_PEAK, active, torch.maximum(self._col(core.ST_PEAK), eq))
        self._monitor(active & (pos != 0.0) & ~torch.isnan(liq), mc, c)
        return liquidated

    def _monitor(self, watch: Tensor, mark: Tensor, close: Tensor) -> None:
        r = self.rules
        alert_d, emergency_d, fraction = (r.monitor[k] for k in (M_ALERT, M_EMERGENCY, M_FRACTION))
        distance = r.liquidation_distance(mark, self._col(core.ST_LIQ))
        far = watch & (distance >= alert_d)
        self._set(core.ST_ALERTED, far, 0.0)
        self._set(core.ST_REDUCED, far, 0.0)
        near = watch & ~far
        fresh = near & (self._col(core.ST_ALERTED) == 0.0)
        self._set(core.ST_ALERTED, fresh, 1.0)
        self._set(core.ST_ALERTS, fresh, self._col(core.ST_ALERTS) + 1.0)
        self._set(core.ST_REDUCED, near & (distance >= emergency_d), 0.0)
        cut = near & (distance < emergency_d) & (self._col(core.ST_REDUCED) == 0.0)
        self._set(core.ST_REDUCED, cut, 1.0)
        self._set(core.ST_EMERGENCIES, cut, self._col(core.ST_EMERGENCIES) + 1.0)
        pos = self._col(core.ST_POS)
        qty = r.floor_step(pos.abs() * fraction, r.lot, r.lot_dec)
        send = cut & (qty > 0.0)
        side = torch.where(pos > 0, -1.0, 1.0).to(torch.float64)
        q_ok, code = r.risk_check(
            side,
            qty,
            torch.ones_like(send),
            close,
            pos,
            self._col(core.ST_ENTRY),
            self._col(core.ST_MARGIN),
            self._col(core.ST_EQUITY),
            self._col(core.ST_PEAK),
            self._col(core.ST_DAY_START),
            torch.zeros_like(qty),
        )
        self._set(core.ST_VETOES, send & (code != 0), self._col(core.ST_VETOES) + 1.0)
        place = send & (code == 0)
        self._set(core.ST_EMERG_SIDE, place, side)
        self._set(core.ST_EMERG_QTY, place, q_ok)

    def _reward(self, active: Tensor, eq_before: Tensor, peak_before: Tensor) -> Tensor:
        eq = self._col(core.ST_EQUITY)
        ret = (eq - eq_before) / self.capital
        if self.reward_kind == core.REWARD_DSR:
            a, b, eta = self._col(core.ST_DSR_A), self._col(core.ST_DSR_B), self.cfg[C_DSR_ETA]
            da, db = ret - a, ret * ret - b
            var = b - a * a
            value = torch.where(
                var > 1e-12, (b * da - 0.5 * a * db) / torch.clamp(var, min=1e-300) ** 1.5, 0.0
            )
            self._set(core.ST_DSR_A, active, a + eta * da)
            self._set(core.ST_DSR_B, active, b + eta * db)
            return value
        scale = self.cfg[C_REWARD_SCALE]
        if self.reward_kind == core.REWARD_DRAWDOWN:
            dd_before = torch.where(peak_before > 0, 1.0 - eq_before / peak_before, 0.0)
            peak = self._col(core.ST_PEAK)
            dd_now = torch.where(peak > 0, 1.0 - eq / peak, 0.0)
            worse = torch.clamp(dd_now - dd_before, min=0.0)
            return (ret - self.cfg[C_DD_PENALTY] * worse) * scale
        return ret * scale

    def _observe(self, mask: Tensor) -> None:
        """Feature window and account features of the masked accounts
        (:func:`axis_ml.envs.core.write_observation`)."""
        r = self.rules
        m = self._col(core.ST_MARKET).long()
        t = self._col(core.ST_T).long()
        rows = t[:, None] + self._offsets[None, :]
        window = self.features[m[:, None], rows].reshape(self.num_envs, -1)
        pos, entry = self._col(core.ST_POS), self._col(core.ST_ENTRY)
        equity, peak = self._col(core.ST_EQUITY), self._col(core.ST_PEAK)
        close = self.prices[m, t, P_CLOSE]
        live = (equity > 0) & (pos != 0.0)
        exposure = torch.where(live, pos * r.cs * close / (equity * r.lev), 0.0)
        sign = torch.where(pos > 0, 1.0, -1.0).to(torch.float64)
        upnl = torch.where(live, sign * (pos.abs() * r.cs).abs() * (close - entry) / equity, 0.0)
        drawdown = torch.where(peak > 0, equity / peak - 1.0, 0.0)
        account = torch.stack(
            [torch.clamp(exposure, -2.0, 2.0), torch.clamp(upnl, -1.0, 1.0), drawdown], dim=1
        ).to(torch.float32)
        fresh = torch.cat([window, account], dim=1)
        self.obs = torch.where(mask[:, None], fresh, self.obs)

    def _step_accounts(self, actions: Any) -> None:
        active = self._col(core.ST_T) < self._col(core.ST_END)
        eq_before, peak_before = self._col(core.ST_EQUITY).clone(), self._col(core.ST_PEAK).clone()
        self._decide(self._targets(actions), active)
        liquidated = self._advance(active)
        reward = self._reward(active, eq_before, peak_before)
        eq, peak = self._col(core.ST_EQUITY), self._col(core.ST_PEAK)
        max_dd = self.cfg[C_MAX_DRAWDOWN]
        ended = liquidated | (eq <= 0.0)
        if max_dd > 0:
            ended |= eq <= peak * (1.0 - max_dd)
        self.rewards = torch.where(active, reward, 0.0)
        self.terminated = active & ended
        at_end = self._col(core.ST_T) >= self._col(core.ST_END)
        self.truncated = torch.where(active, ~self.terminated & at_end, True)
        self._observe(active)

    def step(self, actions: Any) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]]:
        self._step_accounts(actions)
        infos: dict[str, Any] = {}
        done = self.terminated | self.truncated
        if bool(done.any()):
            infos["final_obs"] = torch.where(done[:, None], self.obs, 0.0)
            infos["_final_obs"] = done.clone()
            infos["final_equity"] = torch.where(done, self._col(core.ST_EQUITY), math.nan)
            infos["_final_equity"] = done.clone()
            self._reset_accounts(np.flatnonzero(done.cpu().numpy()))
        return (
            self.obs.clone(),
            self.rewards.clone(),
            self.terminated.clone(),
            self.truncated.clone(),
            infos,
        )

    def step_arrays(self, actions: Any) -> tuple[Tensor, Tensor, Tensor]:
        """The hot path without copies: (observations, rewards, done), valid until the next
        call."""
        self._step_accounts(actions)
        done = self.terminated | self.truncated
        if bool(done.any()):
            self._reset_accounts(np.flatnonzero(done.cpu().numpy()))
        return self.obs, self.rewards, done

    @property
    def states(self) -> Tensor:
        return self.state
