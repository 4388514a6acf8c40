"""The engine: clock, event loop, order manager, portfolio, position monitor and strategy.

One engine object runs one strategy on one instrument's bar feed against one venue. The loop
(:meth:`Engine.run`) touches only what can change on a bar: the venue is asked to process a bar
only when the bar reaches a level something waits for (a stop, a limit, the liquidation price)
or when an event is scheduled on it (an arriving order, funding); the monitor only when the mark
crosses one of its thresholds; equity is filled in lazily (see :class:`EquityCurve`).
"""

from __future__ import annotations

import gc
import math
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from axis.backtest.trades import TradeBuilder
from axis.data import Bars
from axis.domain.enums import MarginMode, OrderSide, OrderType, TimeInForce
from axis.domain.instrument import Instrument, step_decimals
from axis.domain.orders import Fill, Order
from axis.domain.position import Position
from axis.engine.clock import SimulatedClock
from axis.engine.oms import MemoryJournal, OrderJournal, OrderManager
from axis.engine.portfolio import EquityCurve, Portfolio
from axis.risk.chain import OrderIntent, RiskChain, RiskSnapshot
from axis.risk.limits import RiskLimits, TradingState
from axis.risk.monitor import PositionMonitor
from axis.strategies.base import BarView, Signals, Strategy
from axis.venues import fills as rules
from axis.venues.base import FundingEvent, LiquidationEvent
from axis.venues.simulated import SimulatedVenue


@dataclass(slots=True)
class _Protection:
    """Stop-loss / take-profit distances to place after each entry fill."""

    stop_loss: float = 0.0
    take_profit: float = 0.0
    take_profit_fraction: float = 1.0
    order_ids: list[str] = field(default_factory=list)


class Engine:
    """Runs a strategy bar by bar. Implements the venue listener and the risk context."""

    def __init__(
        self,
        strategy: Strategy,
        instrument: Instrument,
        bars: Bars,
        *,
        initial_balance: float,
        leverage: float,
        limits: RiskLimits,
        margin_mode: MarginMode = MarginMode.ISOLATED,
        journal: OrderJournal | None = None,
        order_prefix: str = "axis",
        venue_factory: Callable[[Engine], SimulatedVenue] | None = None,
        **venue_kwargs: Any,
    ) -> None:
        self.strategy = strategy
        self.instrument = instrument
        self.bars = bars
        self.symbol = instrument.symbol
        self.limits = limits
        self.trading_state = TradingState.ACTIVE
        self.portfolio = Portfolio(initial_balance)
        self.portfolio.open_account(instrument, leverage, margin_mode)
        self.curve = EquityCurve(self.portfolio, self.symbol, bars.timestamp, bars.close)
        # Paper and live workers bring their own venue (see axis.worker); backtests simulate.
        self.venue = (
            venue_factory(self)
            if venue_factory is not None
            else SimulatedVenue(
                instrument,
                bars,
                self,
                initial_balance=initial_balance,
                leverage=leverage,
                margin_mode=margin_mode,
                **venue_kwargs,
            )
        )
        self.oms = OrderManager(
            self.venue, RiskChain(), self.risk_snapshot, journal or MemoryJournal(), order_prefix
        )
        self.monitor = PositionMonitor(self, limits)
        self.trades = TradeBuilder(self.symbol, instrument.contract_size)
        self.events: list[dict[str, Any]] = []
        self.fills: list[tuple[Order, Fill]] = []
        self.index = -1
        self._ts = bars.timestamp
        self.clock = SimulatedClock(int(self._ts[0]) if len(self._ts) else 0)
        self._close = bars.close
        self._protection = _Protection()
        self._pending_protection: dict[str, _Protection] = {}
        self._timers: dict[str, tuple[int, int]] = {}  # name → (every_ms, next_ts)
        self._next_timer_index = len(bars)  # first bar at or after the next timer's due time
        self._intrabar_price = math.nan
        self._lot_decimals = step_decimals(instrument.lot_size)
        self._tick_decimals = step_decimals(instrument.tick_size)
        self.liquidations = 0
        self._bar_view = BarView(bars)

    # -- the loop -----------------------------------------------------------------------------
    def run(self, progress: Callable[[int, int], None] | None = None, chunk: int = 65_536) -> None:
        """Replay every bar. ``progress(done, total)`` is called between chunks of bars."""
        strategy = self.strategy
        strategy._engine = self
        signals = strategy.signals(self.bars)
        if signals is not None:
            if len(signals.target) != len(self.bars):
                raise ValueError(f"strategy {strategy.name!r}: one target per bar expected")
            strategy._signals = signals
            # C doubles indexed as Python floats, by one copy: the default on_bar reads the
            # bars with a target only.
            strategy._targets = array("d", np.asarray(signals.target, dtype=np.float64).tobytes())
        elif type(strategy).on_bar is Strategy.on_bar:
            raise TypeError(f"strategy {strategy.name!r} implements neither signals() nor on_bar()")
        strategy.on_start()
        n = len(self.bars)
        # The run builds long lists once; keep the collector from rescanning them.
        gc.freeze()
        try:
            if signals is not None and type(strategy).on_bar is Strategy.on_bar:
                self._replay_signals(signals.target, progress, chunk)
            else:
                self._replay_bars(progress, chunk)
        finally:
            gc.unfreeze()
        if n:
            self.index = self.venue._now_index = n - 1
            self.curve.mark_to(n - 1)
            self.trades.close_open(float(self._close[n - 1]), int(self._ts[n - 1]))
        strategy.on_stop()

    def _replay_bars(self, progress: Callable[[int, int], None] | None, chunk: int) -> None:
        """Every bar in turn, with the strategy's own ``on_bar`` at each close."""
        venue = self.venue
        monitor = self.monitor
        on_bar = self.strategy.on_bar
        bar = BarView(self.bars)
        guard_low, guard_high, mark_close = venue.guard_low, venue.guard_high, venue.mc
        n = len(self.bars)
        for first in range(0, n, chunk):
            for i in range(first, min(first + chunk, n)):
                self.index = venue._now_index = i
                low, high = guard_low[i], guard_high[i]
                if i >= venue.next_index or low <= venue.trig_low or high >= venue.trig_high:
                    venue.process_bar(i)
                # The bar's range reaching a threshold is necessary for its mark close to.
                if low <= monitor.low or high >= monitor.high:
                    monitor.check(i, float(mark_close[i]))
                if i >= self._next_timer_index:
                    self._fire_timers(i)
                bar.index = i
                on_bar(bar)
            if progress is not None:
                progress(min(first + chunk, n), n)

    def _replay_signals(
        self, target: np.ndarray, progress: Callable[[int, int], None] | None, chunk: int
    ) -> None:
        """The bars of a strategy that follows its signals through the default ``on_bar``.

        That ``on_bar`` does nothing on a bar whose target is NaN, so the only bars with work
        are those with a target and those the venue, the monitor or a timer wait for. While no
        price level is waited for (no stop or limit on the book, no liquidation price, no
        monitor threshold), the bars in between cannot change anything and are skipped; while
        one is, every bar is checked as in :meth:`_replay_bars`. Each visited bar runs the same
        steps in the same order as there (and as :meth:`step`)."""
        venue = self.venue
        monitor = self.monitor
        on_bar = self.strategy.on_bar
        bar = BarView(self.bars)
        guard_low, guard_high, mark_close = venue.guard_low, venue.guard_high, venue.mc
        n = len(self.bars)
        acts: list[int] = np.flatnonzero(~np.isnan(target)).tolist()
        acts.append(n)  # a sentinel past the last bar
        k = 0
        inf = math.inf
        for first in range(0, n, chunk):
            last = min(first + chunk, n)
            i = first
            while i < last:
                if (
                    venue.trig_low == -inf
                    and venue.trig_high == inf
                    and monitor.low == -inf
                    and monitor.high == inf
                ):
                    # Nothing waits for a price: go to the next bar with a scheduled event.
                    i = max(i, min(venue.next_index, self._next_timer_index, acts[k]))
                    if i >= last:
                        break
                self.index = venue._now_index = i
                low, high = guard_low[i], guard_high[i]
                if i >= venue.next_index or low <= venue.trig_low or high >= venue.trig_high:
                    venue.process_bar(i)
                if low <= monitor.low or high >= monitor.high:
                    monitor.check(i, float(mark_close[i]))
                if i >= self._next_timer_index:
                    self._fire_timers(i)
                if i == acts[k]:
                    k += 1
                    bar.index = i
                    on_bar(bar)
                i += 1
            if progress is not None:
                progress(last, n)

    # -- bar by bar (paper and live workers) -------------------------------------------------
    # The same steps as one iteration of :meth:`run`'s loops (``_replay_bars``,
    # ``_replay_signals``), for a caller that receives bars one at a time. ``run`` keeps its own
    # inlined loops: these methods are not on the backtest path.
    def begin(self) -> None:
        """Attach the strategy and call its ``on_start``; signal strategies get their
        targets through :meth:`set_target` before each :meth:`step`."""
        strategy = self.strategy
        strategy._engine = self
        if type(strategy).signals is not Strategy.signals:
            strategy._targets = [math.nan] * len(self.bars)
        elif type(strategy).on_bar is Strategy.on_bar:
            raise TypeError(f"strategy {strategy.name!r} implements neither signals() nor on_bar()")
        strategy.on_start()
        self._bar_view = BarView(self.bars)

    def set_target(self, i: int, signals: Signals) -> None:
        """The signal strategy's target at bar ``i``: the last value of its signals over the
        bars up to ``i`` (computed by the caller, never on later bars)."""
        self.strategy._signals = signals
        self.strategy._targets[i] = float(signals.target[-1])

    def step(self, i: int) -> None:
        """Process bar ``i`` once its prices are in ``bars``: venue events, the monitor,
        timers, then the strategy's decision at the close."""
        venue, monitor = self.venue, self.monitor
        self.index = venue._now_index = i
        low, high = venue.guard_low[i], venue.guard_high[i]
        if i >= venue.next_index or low <= venue.trig_low or high >= venue.trig_high:
            venue.process_bar(i)
        if low <= monitor.low or high >= monitor.high:
            monitor.check(i, float(venue.mc[i]))
        if i >= self._next_timer_index:
            self._fire_timers(i)
        bar = self._bar_view
        for name, values in bar._lists.items():  # series read so far: add the new bar's value
            values[i] = getattr(self.bars, name)[i].item()
        bar.index = i
        self.strategy.on_bar(bar)

    def end(self) -> None:
        """Value the last bar, close the trade record and call the strategy's ``on_stop``."""
        if self.index >= 0:
            self.curve.mark_to(self.index)
            self.trades.close_open(float(self._close[self.index]), int(self._ts[self.index]))
        self.strategy.on_stop()

    # -- venue listener -----------------------------------------------------------------------
    def on_order_update(self, order: Order) -> None:
        self.oms.on_update(order)
        self.strategy.on_order_update(order)

    def on_fill(self, order: Order, fill: Fill) -> None:
        self.fills.append((order, fill))
        self.curve.before_change(self.venue._now_index)
        price, quantity, fee, ts = fill.price, fill.quantity, fill.fee, fill.timestamp
        self.portfolio.apply_fill(fill.symbol, fill.side, quantity, price, fee, ts)
        self._intrabar_price = price
        reason = order.tag if order.tag in _EXIT_REASONS else "signal"
        self.trades.on_fill(fill.side.sign, quantity, price, fee, ts, reason)
        self.oms.on_update(order)
        position = self.portfolio.positions[self.symbol]
        if self._pending_protection:
            protection = self._pending_protection.get(order.client_order_id)
            if protection is not None:
                if not order.status.is_open:
                    del self._pending_protection[order.client_order_id]
                if position.quantity != 0.0:
                    self._protect(protection)  # covers the whole position after each entry fill
        if position.quantity == 0.0:
            self._protection.order_ids.clear()
        self.monitor.on_position_change()
        self.strategy.on_fill(fill)
        self.strategy.on_order_update(order)

    def on_funding(self, event: FundingEvent) -> None:
        self.curve.before_change(self.venue._now_index)
        self.portfolio.apply_funding(event.symbol, event.amount)
        self.trades.on_funding(event.amount)
        self.monitor.on_position_change()

    def on_liquidation(self, event: LiquidationEvent) -> None:
        self.liquidations += 1
        self.events.append(
            {
                "type": "liquidation",
                "timestamp": event.timestamp,
                "symbol": event.symbol,
                "side": event.side,
                "quantity": event.quantity,
                "liquidation_price": event.liquidation_price,
                "mark_price": event.mark_price,
                "realized_pnl": event.realized_pnl,
            }
        )

    # -- the account, as risk checks and strategies see it -------------------------------------
    def risk_snapshot(self, intent: OrderIntent) -> RiskSnapshot:
        position = self.portfolio.positions[intent.symbol]
        equity = self.current_equity()
        mark = self.reference_price()
        return RiskSnapshot(
            limits=self.limits,
            trading_state=self.trading_state,
            instrument=position.instrument,
            quantity=position.quantity,
            entry=position.avg_entry,
            margin=position.margin,
            position_leverage=position.leverage,
            mode=position.margin_mode,
            account_equity=equity,
            peak=max(self.curve.peak, equity),
            day_start=self.curve.day_start_equity(max(self.index, 0)),
            notional_total=position.notional(mark),
            open_orders=self.oms.open_count(),
        )

    def position(self) -> Position:
        return self.portfolio.positions[self.symbol]

    def position_qty(self, symbol: str | None = None) -> float:
        return self.portfolio.positions[symbol or self.symbol].quantity

    def leverage(self, symbol: str) -> float:
        return self.portfolio.positions[symbol].leverage

    # -- what strategies call -----------------------------------------------------------------
    def in_bar(self) -> bool:
        """True while the venue is processing a bar (fills and triggers inside it)."""
        return self.venue._now_t < 3.0 and self.venue._now_index == self.index

    def reference_price(self) -> float:
        """The price decisions see now: the last fill price inside a bar, else the close."""
        venue = self.venue  # in_bar(), inline: an order asks for the price several times
        in_bar = venue._now_t < 3.0 and venue._now_index == self.index
        if in_bar and self._intrabar_price == self._intrabar_price:
            return self._intrabar_price
        return float(self._close.item(max(self.index, 0)))  # item: no numpy scalar between

    def current_equity(self) -> float:
        venue = self.venue
        if venue._now_t < 3.0 and venue._now_index == self.index:  # in_bar(), inline
            self.portfolio.set_mark(self.symbol, self.reference_price())
            return self.portfolio.equity()
        i = max(self.index, 0)
        self.curve.mark_to(i)
        return float(self.curve.equity.item(i))

    def timestamp(self) -> int:
        """Simulated now: the open time of the bar being processed (or just closed)."""
        self.clock.advance_to(int(self._ts.item(max(self.index, 0))))
        return self.clock.now_ms()

    def place_order(
        self,
        side: OrderSide,
        quantity: float,
        *,
        type: OrderType = OrderType.MARKET,
        price: float | None = None,
        trigger_price: float | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        reduce_only: bool = False,
        tag: str = "",
    ) -> Order:
        reference = price if price is not None else trigger_price or self.reference_price()
        intent = OrderIntent(
            self.symbol,
            side,
            quantity,
            type,
            price,
            trigger_price,
            reduce_only,
            tag,
            reference,
        )
        order, _ = self.oms.place(intent, self.timestamp())
        order.time_in_force = time_in_force
        if not order.status.is_open:
            self.strategy.on_order_update(order)
        return order

    def target_exposure(
        self,
        exposure: float,
        *,
        stop_loss: float | None = None,
        take_profit: float | None = None,
        take_profit_fraction: float = 1.0,
    ) -> Order | None:
        held = self.portfolio.positions[self.symbol]
        position = held.quantity
        if exposure == 0.0:
            return self.close_position("exit") if position != 0.0 else None
        inst = self.instrument
        price = self.reference_price()
        leverage = held.leverage
        budget = self.current_equity() * abs(exposure)
        size = rules.exposure_quantity(
            budget,
            price,
            leverage,
            inst.contract_size,
            self.venue.taker_fee,
            self.venue.settings.slippage,
            inst.lot_size,
            self._lot_decimals,
        )
        desired = math.copysign(size, exposure)
        delta = desired - position
        if abs(delta) < inst.lot_size * 0.5:
            return None
        side = OrderSide.BUY if delta > 0 else OrderSide.SELL
        grows = abs(desired) > abs(position) or desired * position < 0
        order = self.place_order(
            side, abs(delta), tag="entry" if grows else "reduce", reduce_only=not grows
        )
        if grows and order.status.is_open:
            self._pending_protection[order.client_order_id] = _Protection(
                stop_loss or 0.0, take_profit or 0.0, take_profit_fraction
            )
        return order

    def close_position(self, tag: str = "exit") -> Order | None:
        position = self.position_qty()
        if position == 0.0:
            return None
        side = OrderSide.SELL if position > 0 else OrderSide.BUY
        return self.place_order(side, abs(position), reduce_only=True, tag=tag)

    def cancel(self, client_order_id: str) -> None:
        self.oms.cancel(client_order_id)

    def schedule(self, name: str, every_ms: int) -> None:
        if every_ms <= 0:
            raise ValueError("a timer's period must be positive")
        start = int(self._ts[0]) if len(self._ts) else 0
        self._timers[name] = (every_ms, start + every_ms)
        self._schedule_next_timer()

    def halt(self, reason: str) -> None:
        """Kill switch: no new risk from now on; reducing orders still pass."""
        self.trading_state = TradingState.HALTED
        self.events.append({"type": "halt", "timestamp": self.timestamp(), "reason": reason})

    # -- internals ----------------------------------------------------------------------------
    def _fire_timers(self, i: int) -> None:
        now = int(self._ts[i])
        for name, (every, due) in list(self._timers.items()):
            if now >= due:
                missed = (now - due) // every + 1
                self._timers[name] = (every, due + missed * every)
                self.strategy.on_timer(name, now)
        self._schedule_next_timer()

    def _schedule_next_timer(self) -> None:
        due = min(t for _, t in self._timers.values())
        self._next_timer_index = int(np.searchsorted(self._ts, due, side="left"))

    def _protect(self, protection: _Protection) -> None:
        """Replace the position's stop-loss / take-profit with ones for its new size/entry."""
        for order_id in self._protection.order_ids:
            self.oms.cancel(order_id)
        self._protection = protection
        protection.order_ids = []
        position = self.position()
        if protection.stop_loss <= 0 and protection.take_profit <= 0:
            return
        sl, tp = rules.protective_levels(
            position.sign,
            position.avg_entry,
            protection.stop_loss,
            protection.take_profit,
            self.instrument.tick_size,
            self._tick_decimals,
        )
        exit_side = OrderSide.SELL if position.quantity > 0 else OrderSide.BUY
        size = abs(position.quantity)
        if sl == sl:
            order = self.place_order(
                exit_side,
                size,
                type=OrderType.STOP_MARKET,
                trigger_price=sl,
                reduce_only=True,
                tag="stop_loss",
            )
            protection.order_ids.append(order.client_order_id)
        if tp == tp:
            tp_size = self.instrument.round_qty(size * protection.take_profit_fraction)
            if tp_size > 0:
                order = self.place_order(
                    exit_side,
                    tp_size,
                    type=OrderType.TAKE_PROFIT,
                    trigger_price=tp,
                    reduce_only=True,
                    tag="take_profit",
                )
                protection.order_ids.append(order.client_order_id)


_EXIT_REASONS = frozenset({"stop_loss", "take_profit", "liquidation", "emergency"})
