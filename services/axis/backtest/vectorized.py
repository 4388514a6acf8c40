"""The vectorised signal path: a compiled kernel that replays a signal strategy's targets.

It implements, for one instrument, exactly what the event engine does with a strategy that
follows :class:`~axis.strategies.base.Signals` — same order of events, same fill, fee, funding,
stop and liquidation rules (the functions of :mod:`axis.venues.fills`,
:mod:`axis.domain.futures` and :mod:`axis.domain.liquidation`), same risk checks (state and
loss limits, leverage and notional caps with resizing, liquidation distance at entry,
instrument rules), same position monitor. Only the bookkeeping is compiled. A parity test runs
both paths and compares every fill.

Per bar ``i``: funding at the open; then, in intrabar-path order, liquidation, protective stops
and take-profits, and arriving market orders (ties: liquidation first, then older orders); at
the close the equity, the liquidation-distance monitor, then the strategy's target.

What needs the event engine instead: limit and stop-limit entries, a volume participation cap,
latency in milliseconds, strategies with their own ``on_bar``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numba
import numpy as np

from axis.domain.enums import MarginMode
from axis.domain.futures import funding_payment, liquidation_distance, unrealized_pnl
from axis.domain.instrument import floor_step, step_decimals
from axis.domain.liquidation import exchange_code, liquidation_price_tiered
from axis.venues import fills as rules
from axis.venues.simulated import funding_schedule

if TYPE_CHECKING:
    from axis.backtest.runner import Outcome, Prepared
    from axis.data import Bars

# Kinds and tags of working orders in the kernel's book.
MARKET, STOP, TAKE_PROFIT = 0, 1, 2
TAG_ENTRY, TAG_REDUCE, TAG_EXIT, TAG_STOP, TAG_TP, TAG_EMERGENCY, TAG_LIQ = range(7)
TAG_NAMES = ("entry", "reduce", "exit", "stop_loss", "take_profit", "emergency", "liquidation")
EXIT_REASONS = frozenset({"stop_loss", "take_profit", "liquidation", "emergency"})

# The book: one row per working order, in submission order (the venue's tie-break).
B_KIND, B_SIDE, B_QTY, B_LEVEL, B_REDUCE, B_TAG, B_ACTIVE, B_PROTECT = range(8)
BOOK_ROWS = 8  # a stop, a take-profit and a few pending market orders at most

# Account and instrument settings, packed so the kernel's helpers take one array.
S_LEV, S_CS, S_LOT, S_LOT_DEC, S_TICK, S_TICK_DEC, S_MIN_QTY, S_MIN_NOTIONAL = range(8)
S_TAKER, S_SLIPPAGE, S_PERP, S_CROSS, S_EXCH, S_LATENCY = range(8, 14)

# Risk limits (zero notional caps mean none).
L_MAX_LEV, L_MAX_TOTAL_LEV, L_MIN_LIQ, L_MAX_POS_NOTIONAL, L_MAX_TOTAL_NOTIONAL = range(5)
L_MAX_ORDERS, L_DAILY_LOSS, L_MAX_DRAWDOWN = range(5, 8)

# Leverage brackets, one column per bracket.
K_CAP, K_MAX_LEV, K_MMR, K_AMOUNT = range(4)

# Recorded events.
E_FUNDING, E_LIQUIDATION, E_ALERT, E_EMERGENCY, E_VETO = range(5)
VETO_RULES = (
    "",
    "max_drawdown",
    "daily_loss_limit",
    "max_open_orders",
    "max_leverage",
    "max_notional",
    "min_liquidation_distance",
    "instrument_rules",
)


@numba.njit(cache=True)
def _bracket(brackets: np.ndarray, notional: float) -> int:
    caps = brackets[K_CAP]
    for k in range(len(caps)):
        if notional < caps[k]:
            return k
    return len(caps) - 1


@numba.njit(cache=True)
def liquidation_price_spec(
    spec: np.ndarray,
    brackets: np.ndarray,
    side: int,
    base_qty: float,
    entry: float,
    collateral: float,
) -> float:
    return liquidation_price_tiered(
        int(spec[S_EXCH]),
        float(side),
        base_qty,
        entry,
        collateral,
        brackets[K_CAP],
        brackets[K_MMR],
        brackets[K_AMOUNT],
        spec[S_TAKER],
    )


@numba.njit(cache=True)
def _shrink(qty: float, side: int, pos: float, cap: float, price: float, spec: np.ndarray) -> float:
    """The order quantity that leaves the position at most ``cap`` notional (``qty`` itself
    when it already does); 0 when no room is left."""
    cs, lot, dec = spec[S_CS], spec[S_LOT], int(spec[S_LOT_DEC])
    if abs(pos + qty * side) * cs * price <= cap:
        return qty
    target = floor_step(max(cap, 0.0) / (price * cs), lot, dec) * side
    return floor_step(max((target - pos) * side, 0.0), lot, dec)


@numba.njit(cache=True)
def risk_check(
    side: int,
    qty: float,
    reduce_only: bool,
    price: float,
    pos: float,
    entry_now: float,
    margin_now: float,
    equity: float,
    peak: float,
    day_start: float,
    open_orders: int,
    spec: np.ndarray,
    brackets: np.ndarray,
    lim: np.ndarray,
) -> tuple[float, int]:
    """The risk chain of :mod:`axis.risk.chain` on plain numbers: (quantity, veto rule code,
    0 when it passes). Checks run in the chain's order; resizes compound."""
    signed = qty * side
    reducing = pos != 0.0 and signed * pos < 0 and abs(signed) <= abs(pos)
    if reducing:
        return _instrument_rules(qty, reduce_only, price, spec)
    if peak > 0 and equity <= peak * (1.0 - lim[L_MAX_DRAWDOWN]):
        return 0.0, 1
    if day_start > 0 and equity <= day_start * (1.0 - lim[L_DAILY_LOSS]):
        return 0.0, 2
    if open_orders >= lim[L_MAX_ORDERS]:
        return 0.0, 3
    if not (0.0 < price < math.inf):
        return 0.0, 4  # no usable reference price
    cs, lev, perp = spec[S_CS], spec[S_LEV], spec[S_PERP] > 0
    notional = abs(pos + qty * side) * cs * price
    bracket_max = brackets[K_MAX_LEV, _bracket(brackets, notional)] if perp else 1.0
    allowed = min(lim[L_MAX_LEV], bracket_max)
    if lev > allowed + 1e-12:
        return 0.0, 4
    qty = _shrink(qty, side, pos, equity * allowed, price, spec)
    if qty <= 0.0:
        return 0.0, 4
    cap = equity * lim[L_MAX_TOTAL_LEV]
    if lim[L_MAX_POS_NOTIONAL] > 0:
        cap = min(cap, lim[L_MAX_POS_NOTIONAL])
    if lim[L_MAX_TOTAL_NOTIONAL] > 0:
        cap = min(cap, lim[L_MAX_TOTAL_NOTIONAL])
    qty = _shrink(qty, side, pos, cap, price, spec)
    if qty <= 0.0:
        return 0.0, 5
    after = pos + qty * side
    if perp and after != 0.0:
        base = abs(after) * cs
        entry, margin = price, base * price / lev
        if pos * after > 0:  # adding to a position: its entry and margin carry over
            added = abs(after) - abs(pos)
            entry = (entry_now * abs(pos) + price * added) / abs(after)
            margin = margin_now + added * cs * price / lev
        if spec[S_CROSS] > 0:
            margin = max(equity, margin)
        liq = liquidation_price_spec(spec, brackets, 1 if after > 0 else -1, base, entry, margin)
        if liquidation_distance(price, liq) < lim[L_MIN_LIQ]:
            return 0.0, 6
    return _instrument_rules(qty, reduce_only, price, spec)


@numba.njit(cache=True)
def _instrument_rules(
    qty: float, reduce_only: bool, price: float, spec: np.ndarray
) -> tuple[float, int]:
    rounded = floor_step(abs(qty), spec[S_LOT], int(spec[S_LOT_DEC]))
    if rounded <= 0.0 or rounded < spec[S_MIN_QTY]:
        return 0.0, 7
    if not reduce_only and rounded * spec[S_CS] * price < spec[S_MIN_NOTIONAL]:
        return 0.0, 7
    return rounded, 0


@numba.njit(cache=True)
def _book_add(
    book: np.ndarray,
    n: int,
    kind: int,
    side: int,
    qty: float,
    level: float,
    reduce_only: bool,
    tag: int,
    active: int,
    protect: bool,
) -> int:
    row = book[n]
    row[B_KIND], row[B_SIDE], row[B_QTY], row[B_LEVEL] = kind, side, qty, level
    row[B_REDUCE], row[B_TAG], row[B_ACTIVE], row[B_PROTECT] = reduce_only, tag, active, protect
    return n + 1


@numba.njit(cache=True)
def _book_remove(book: np.ndarray, n: int, k: int) -> int:
    """Remove row ``k``, keeping the others in submission order."""
    for m in range(k, n - 1):
        book[m] = book[m + 1]
    return n - 1


@numba.njit(cache=True)
def _book_keep(book: np.ndarray, n: int, column: int, value: float) -> int:
    """Keep only the rows whose ``column`` equals ``value``, in order."""
    m = 0
    for k in range(n):
        if book[k, column] == value:
            book[m] = book[k]
            m += 1
    return m


@numba.njit(cache=True)
def _grown(buf: np.ndarray, n: int) -> np.ndarray:
    """``buf`` with room for row ``n`` (doubled when full)."""
    if n < buf.shape[0]:
        return buf
    bigger = np.empty((2 * n, buf.shape[1]))
    bigger[:n] = buf
    return bigger


@numba.njit(cache=True)
def _record_fill(
    buf: np.ndarray, n: int, bar: int, side: int, qty: float, price: float, fee: float, tag: int
) -> tuple[np.ndarray, int]:
    buf = _grown(buf, n)
    row = buf[n]
    row[0], row[1], row[2], row[3], row[4], row[5] = bar, side, qty, price, fee, tag
    return buf, n + 1


@numba.njit(cache=True)
def _record_event(
    buf: np.ndarray, n: int, kind: int, bar: int, value: float, rule: int
) -> tuple[np.ndarray, int]:
    buf = _grown(buf, n)
    row = buf[n]
    row[0], row[1], row[2], row[3] = kind, bar, value, rule
    return buf, n + 1


@numba.njit(cache=True)
def signal_kernel(
    o: np.ndarray,
    h: np.ndarray,
    lo: np.ndarray,
    c: np.ndarray,
    mo: np.ndarray,
    mh: np.ndarray,
    ml: np.ndarray,
    mc: np.ndarray,
    funding_rate: np.ndarray,
    day_first: np.ndarray,
    target: np.ndarray,
    capital: float,
    spec: np.ndarray,
    brackets: np.ndarray,
    lim: np.ndarray,
    protection: np.ndarray,
    monitor: np.ndarray,
) -> tuple[Any, ...]:
    """``protection``: stop-loss, take-profit distances and take-profit fraction.
    ``monitor``: alert distance, emergency distance, emergency reduction fraction."""
    n = len(c)
    lev, cs, lot, lot_dec = spec[S_LEV], spec[S_CS], spec[S_LOT], int(spec[S_LOT_DEC])
    taker, slippage, latency = spec[S_TAKER], spec[S_SLIPPAGE], int(spec[S_LATENCY])
    perp, cross = spec[S_PERP] > 0, spec[S_CROSS] > 0
    sl_pct, tp_pct, tp_frac = protection[0], protection[1], protection[2]
    alert_d, emergency_d, emergency_frac = monitor[0], monitor[1], monitor[2]
    equity = np.empty(n)
    exposure = np.zeros(n, dtype=np.bool_)
    fills = np.empty((64 + n // 16, 6))  # bar, side, qty, price, fee, tag
    n_fills = 0
    events = np.empty((64 + n // 16, 4))  # kind, bar, value, veto rule
    n_events = 0
    book = np.zeros((BOOK_ROWS, 8))
    n_book = 0
    orders = 0

    wallet = capital
    pos = 0.0  # signed contracts
    entry = 0.0
    margin = 0.0  # isolated margin of the position
    liq = math.nan
    peak = capital
    fees_paid = 0.0
    funding_paid = 0.0
    liquidations = 0
    alerted = False
    reduced = False
    last_target = math.nan

    for i in range(n):
        # -- funding at the open ----------------------------------------------------------
        rate = funding_rate[i]
        if perp and rate == rate and pos != 0.0:
            side_p = 1 if pos > 0 else -1
            amount = funding_payment(side_p, abs(pos) * cs, mo[i], rate)
            if amount != 0.0:
                wallet += amount
                funding_paid -= amount
                if not cross:
                    margin += amount
                if not cross and margin <= 0.0:
                    liq = mo[i]  # nothing backs the position: liquidated at the open
                else:
                    collateral = wallet if cross else margin
                    liq = liquidation_price_spec(
                        spec, brackets, side_p, abs(pos) * cs, entry, collateral
                    )
                events, n_events = _record_event(events, n_events, E_FUNDING, i, amount, 0)
        # -- intrabar events in path order ------------------------------------------------
        now = 0.0
        while True:
            best_t = math.inf
            best = -2  # -1: liquidation, k >= 0: book row
            if liq == liq:
                t = rules.touch_time(mo[i], mh[i], ml[i], mc[i], liq, -1 if pos > 0 else 1, now)
                if t < best_t:
                    best_t, best = t, -1
            for k in range(n_book):
                if book[k, B_ACTIVE] > i:
                    continue
                kind, level, bside = book[k, B_KIND], book[k, B_LEVEL], int(book[k, B_SIDE])
                if kind == MARKET:
                    t = now
                elif kind == STOP:  # a buy stop waits for a rise, a sell stop for a fall
                    t = rules.touch_time(o[i], h[i], lo[i], c[i], level, bside, now)
                else:  # a take-profit the other way round
                    t = rules.touch_time(o[i], h[i], lo[i], c[i], level, -bside, now)
                if t < best_t:
                    best_t, best = t, k
            if best == -2:
                break
            now = best_t
            if best == -1:  # liquidation: closed at the liquidation price, taker fee
                side = -1 if pos > 0 else 1
                qty = abs(pos)
                fee = rules.fee_for(qty, liq, cs, taker)
                realized = unrealized_pnl(-side, qty * cs, entry, liq)
                wallet += realized - fee
                fees_paid += fee
                fills, n_fills = _record_fill(fills, n_fills, i, side, qty, liq, fee, TAG_LIQ)
                events, n_events = _record_event(events, n_events, E_LIQUIDATION, i, realized, 0)
                liquidations += 1
                pos, entry, margin, liq = 0.0, 0.0, 0.0, math.nan
                alerted = reduced = False
                n_book = _book_keep(book, n_book, B_REDUCE, 0.0)
                continue
            k = best
            kind, side, qty = book[k, B_KIND], int(book[k, B_SIDE]), book[k, B_QTY]
            level, reduce_only = book[k, B_LEVEL], book[k, B_REDUCE] > 0
            tag, protect = int(book[k, B_TAG]), book[k, B_PROTECT] > 0
            n_book = _book_remove(book, n_book, k)
            start = rules.price_at(o[i], h[i], lo[i], c[i], now)
            if kind == MARKET:
                price = rules.slipped_price(start, side, slippage)
            else:
                price = rules.triggered_fill_price(start, level, now, 0.0, side, slippage)
            if reduce_only:
                if pos == 0.0 or (1 if pos > 0 else -1) != -side:
                    continue  # nothing left to reduce: expired
                qty = min(qty, abs(pos))
            if not rules.margin_allows(
                pos, entry, margin, wallet, side, qty, price, cs, lev, taker
            ):
                continue  # rejected: insufficient margin
            fee = rules.fee_for(qty, price, cs, taker)
            fees_paid += fee
            pos, entry, margin, realized = rules.fill_position(
                pos, entry, margin, side, qty, price, cs, lev, lot
            )
            wallet += realized - fee
            fills, n_fills = _record_fill(fills, n_fills, i, side, qty, price, fee, tag)
            if pos == 0.0:
                liq = math.nan
                alerted = reduced = False
            elif perp:
                collateral = wallet if cross else margin
                liq = liquidation_price_spec(
                    spec, brackets, 1 if pos > 0 else -1, abs(pos) * cs, entry, collateral
                )
            if protect and pos != 0.0:  # replace the protective orders (Engine._protect)
                n_book = _book_keep(book, n_book, B_KIND, MARKET)
                psign = 1 if pos > 0 else -1
                sl, tp = rules.protective_levels(
                    psign, entry, sl_pct, tp_pct, spec[S_TICK], int(spec[S_TICK_DEC])
                )
                size = abs(pos)
                equity_now = wallet + unrealized_pnl(psign, size * cs, entry, price)
                peak_now = max(peak, equity_now)
                if sl == sl:
                    orders += 1
                    q_ok, code = risk_check(
                        -psign,
                        size,
                        True,
                        sl,
                        pos,
                        entry,
                        margin,
                        equity_now,
                        peak_now,
                        capital,
                        n_book,
                        spec,
                        brackets,
                        lim,
                    )
                    if code == 0:
                        n_book = _book_add(
                            book, n_book, STOP, -psign, q_ok, sl, True, TAG_STOP, i, False
                        )
                tp_size = floor_step(size * tp_frac, lot, lot_dec)
                if tp == tp and tp_size > 0:
                    orders += 1
                    q_ok, code = risk_check(
                        -psign,
                        tp_size,
                        True,
                        tp,
                        pos,
                        entry,
                        margin,
                        equity_now,
                        peak_now,
                        capital,
                        n_book,
                        spec,
                        brackets,
                        lim,
                    )
                    if code == 0:
                        n_book = _book_add(
                            book, n_book, TAKE_PROFIT, -psign, q_ok, tp, True, TAG_TP, i, False
                        )
        if pos == 0.0:  # a flat position leaves no reduce-only order behind
            n_book = _book_keep(book, n_book, B_REDUCE, 0.0)
        # -- the close: equity, monitor, strategy -----------------------------------------
        psign = 1 if pos > 0 else -1
        eq = wallet + (unrealized_pnl(psign, abs(pos) * cs, entry, c[i]) if pos != 0.0 else 0.0)
        equity[i] = eq
        exposure[i] = pos != 0.0
        peak = max(peak, eq)
        first = day_first[i]
        day_start = equity[first - 1] if first > 0 else capital
        if pos != 0.0 and liq == liq:
            distance = liquidation_distance(mc[i], liq)
            if distance >= alert_d:
                alerted = reduced = False
            else:
                if not alerted:
                    alerted = True
                    events, n_events = _record_event(events, n_events, E_ALERT, i, distance, 0)
                if distance < emergency_d and not reduced:
                    reduced = True
                    qty = floor_step(abs(pos) * emergency_frac, lot, lot_dec)
                    events, n_events = _record_event(events, n_events, E_EMERGENCY, i, distance, 0)
                    if qty > 0:
                        orders += 1
                        q_ok, code = risk_check(
                            -psign,
                            qty,
                            True,
                            c[i],
                            pos,
                            entry,
                            margin,
                            eq,
                            peak,
                            day_start,
                            n_book,
                            spec,
                            brackets,
                            lim,
                        )
                        if code == 0:
                            n_book = _book_add(
                                book,
                                n_book,
                                MARKET,
                                -psign,
                                q_ok,
                                0.0,
                                True,
                                TAG_EMERGENCY,
                                i + 1 + latency,
                                False,
                            )
                        else:
                            events, n_events = _record_event(events, n_events, E_VETO, i, 0.0, code)
                elif distance >= emergency_d:
                    reduced = False
        wanted = target[i]
        if wanted == wanted and wanted != last_target:
            last_target = wanted
            qty, side, reduce_only, tag = 0.0, 0, True, TAG_EXIT
            if wanted == 0.0:
                if pos != 0.0:
                    qty, side = abs(pos), -psign
            else:
                size = rules.exposure_quantity(
                    eq * abs(wanted), c[i], lev, cs, taker, slippage, lot, lot_dec
                )
                delta = math.copysign(size, wanted) - pos
                if abs(delta) >= lot * 0.5:
                    grows = size > abs(pos) or wanted * pos < 0
                    qty, side = abs(delta), 1 if delta > 0 else -1
                    reduce_only = not grows
                    tag = TAG_ENTRY if grows else TAG_REDUCE
            if qty > 0.0:
                orders += 1
                q_ok, code = risk_check(
                    side,
                    qty,
                    reduce_only,
                    c[i],
                    pos,
                    entry,
                    margin,
                    eq,
                    peak,
                    day_start,
                    n_book,
                    spec,
                    brackets,
                    lim,
                )
                if code == 0:
                    protect = tag == TAG_ENTRY and (sl_pct > 0 or tp_pct > 0)
                    n_book = _book_add(
                        book,
                        n_book,
                        MARKET,
                        side,
                        q_ok,
                        0.0,
                        reduce_only,
                        tag,
                        i + 1 + latency,
                        protect,
                    )
                else:
                    events, n_events = _record_event(events, n_events, E_VETO, i, 0.0, code)
    return (
        equity,
        exposure,
        fills[:n_fills].copy(),
        events[:n_events].copy(),
        fees_paid,
        funding_paid,
        liquidations,
        orders,
    )


def kernel_inputs(prepared: Prepared) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(spec, brackets, limits) arrays for the kernel, from the prepared backtest."""
    config, inst, settings = prepared.config, prepared.market.instrument, prepared.settings
    taker = inst.taker_fee if settings.taker_fee is None else settings.taker_fee
    spec = np.zeros(14)
    spec[S_LEV], spec[S_CS] = config.leverage, inst.contract_size
    spec[S_LOT], spec[S_LOT_DEC] = inst.lot_size, step_decimals(inst.lot_size)
    spec[S_TICK], spec[S_TICK_DEC] = inst.tick_size, step_decimals(inst.tick_size)
    spec[S_MIN_QTY], spec[S_MIN_NOTIONAL] = inst.min_qty, inst.min_notional
    spec[S_TAKER], spec[S_SLIPPAGE] = taker, settings.slippage
    spec[S_PERP], spec[S_CROSS] = inst.is_perpetual, config.margin_mode is MarginMode.CROSS
    spec[S_EXCH], spec[S_LATENCY] = exchange_code(inst.exchange), settings.latency_bars
    if inst.brackets:
        rows = [
            (b.notional_cap, b.max_leverage, b.maint_margin_rate, b.maint_amount)
            for b in inst.brackets
        ]
    else:
        rows = [(math.inf, 1.0, 0.0, 0.0)]
    brackets = np.ascontiguousarray(np.array(rows, dtype=np.float64).T)
    limits = prepared.limits
    lim = np.array(
        [
            limits.max_leverage,
            limits.max_total_leverage,
            limits.min_liquidation_distance,
            limits.max_position_notional or 0.0,
            limits.max_total_notional or 0.0,
            float(limits.max_open_orders),
            limits.daily_loss_limit,
            limits.max_drawdown,
        ]
    )
    return spec, brackets, lim


def _funding_per_bar(prepared: Prepared, bars: Bars) -> np.ndarray:
    """The funding rate settling at each bar's open (NaN where none does)."""
    rates = np.full(len(bars), np.nan)
    if prepared.market.instrument.is_perpetual:
        funding = prepared.market.funding
        for index, rate in funding_schedule(
            bars.timestamp, funding, prepared.settings.funding_rate
        ).items():
            rates[index] = rate
    return rates


def run_vectorized(prepared: Prepared) -> Outcome:
    from axis.backtest.runner import Outcome
    from axis.backtest.trades import TradeBuilder
    from axis.engine.portfolio import DAY_MS

    market, limits = prepared.market, prepared.limits
    inst, bars = market.instrument, market.bars
    signals = prepared.strategy_cls(prepared.strategy_params).signals(bars)
    if signals is None:
        raise TypeError(f"strategy {prepared.strategy_cls.name!r} has no vectorised signals")
    mark = market.mark if market.mark is not None else bars
    days = bars.timestamp // DAY_MS
    new_day = np.r_[True, days[1:] != days[:-1]]
    day_first = np.maximum.accumulate(np.where(new_day, np.arange(len(bars)), 0))
    spec, brackets, lim = kernel_inputs(prepared)
    protection = np.array(
        [signals.stop_loss or 0.0, signals.take_profit or 0.0, signals.take_profit_fraction]
    )
    monitor = np.array(
        [
            limits.liquidation_alert_distance,
            limits.liquidation_emergency_distance,
            limits.emergency_reduce_fraction,
        ]
    )
    equity, exposure, fill_rows, event_rows, fees_paid, funding_paid, liquidations, orders = (
        signal_kernel(
            bars.open,
            bars.high,
            bars.low,
            bars.close,
            mark.open,
            mark.high,
            mark.low,
            mark.close,
            _funding_per_bar(prepared, bars),
            day_first,
            np.ascontiguousarray(signals.target, dtype=np.float64),
            float(prepared.config.capital),
            spec,
            brackets,
            lim,
            protection,
            monitor,
        )
    )
    ts = bars.timestamp.tolist()
    builder = TradeBuilder(inst.symbol, inst.contract_size)
    fills: list[tuple[int, int, float, float, float, str]] = []
    events: list[dict[str, Any]] = []
    funding_at: dict[int, float] = {}
    for kind, bar, value, code in event_rows.tolist():
        stamp = ts[int(bar)]
        if kind == E_FUNDING:
            funding_at[int(bar)] = value
        elif kind == E_LIQUIDATION:
            events.append({"type": "liquidation", "timestamp": stamp, "realized_pnl": value})
        elif kind in (E_ALERT, E_EMERGENCY):
            name = "liquidation_alert" if kind == E_ALERT else "emergency_reduce"
            events.append({"type": name, "timestamp": stamp, "liquidation_distance": value})
        else:
            events.append({"type": "risk_veto", "timestamp": stamp, "rule": VETO_RULES[int(code)]})
    # Funding settles at a bar's open, before that bar's fills.
    rows = fill_rows.tolist()
    k = 0
    for bar in sorted(set(funding_at) | {int(row[0]) for row in rows}):
        if bar in funding_at:
            builder.on_funding(funding_at[bar])
        while k < len(rows) and int(rows[k][0]) == bar:
            _, side, qty, price, fee, tag = rows[k]
            name = TAG_NAMES[int(tag)]
            reason = name if name in EXIT_REASONS else "signal"
            builder.on_fill(int(side), qty, price, fee, ts[bar], reason)
            fills.append((ts[bar], int(side), qty, price, fee, name))
            k += 1
    if ts:
        builder.close_open(float(bars.close[-1]), ts[-1])
    return Outcome(
        equity,
        exposure,
        builder.trades,
        float(fees_paid),
        float(funding_paid),
        int(liquidations),
        events,
        int(orders),
        fills,
    )
