"""SimulatedVenue: an exchange simulated on bars (a trade tick is a bar with one price).

Matching rules (all from :mod:`axis.venues.fills`, shared with the vectorised kernel):

- An order placed at the close of bar ``i`` arrives after the latency: by default at the open of
  bar ``i + 1``; a latency in milliseconds lands it part-way along that bar's intrabar path.
- Market orders fill on arrival at the path price plus slippage, as takers.
- Limit orders resting on the book fill at their price, as makers, only once the bar trades
  through them (at the open, still as makers, when a bar gaps through them); one that is
  marketable on arrival fills at the arrival price as a taker (a post-only one expires
  instead; IOC/FOK ones that cannot fill at once expire).
- Stop-market and take-profit orders trigger when the path reaches the trigger and fill at it
  (at the arrival price when the bar gapped through it) plus slippage. A triggered stop-limit
  rests as a limit from the trigger on.
- An optional participation cap limits each bar's fills (all orders together) to a share of
  its volume; the rest of an order stays working (partial fill), a triggered stop's rest as a
  market order.
- Funding is settled on the bar that opens at each funding time, on the mark price there.
- A perpetual position is liquidated when the mark path reaches its liquidation price; it is
  closed at the liquidation price with the taker fee and a LiquidationEvent is reported.
- Events inside one bar happen in the order of their path position; a liquidation wins a tie.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass

import numpy as np

from axis.data import Bars, FundingRates
from axis.domain.enums import LiquiditySide, MarginMode, OrderSide, OrderType, TimeInForce
from axis.domain.instrument import Instrument
from axis.domain.orders import Fill, Order
from axis.domain.position import Position
from axis.venues import fills as rules
from axis.venues.base import FundingEvent, LiquidationEvent, VenueListener

FUNDING_INTERVAL_MS = 8 * 3_600_000


@dataclass(frozen=True, slots=True)
class SimulationSettings:
    """How the simulated exchange behaves beyond the instrument's own fees and precision."""

    slippage: float = 0.0005  # taker fills, as a fraction of price (the seed's 0.05%)
    participation_cap: float = 0.0  # max share of a bar's volume we may take; 0 = no cap
    latency_bars: int = 0  # whole bars between an order's placement and its arrival
    latency_ms: int = 0  # extra latency inside the arrival bar
    funding_rate: float = 0.0001  # per 8h interval, when no funding series is given
    maker_fee: float | None = None  # override the instrument's fees
    taker_fee: float | None = None


@dataclass(slots=True)
class _Working:
    """An order on the simulated book and when it becomes active."""

    order: Order
    seq: int
    active_index: int
    active_t: float
    resting: bool = False  # has been on the book past its arrival (a maker from then on)


def funding_schedule(
    timestamps: np.ndarray, funding: FundingRates | None, constant_rate: float
) -> dict[int, float]:
    """Bar index → funding rate, for the bars on which funding settles. A funding time inside
    a bar settles at that bar (the bar whose open is the last one at or before it); when
    several fall in one bar (bars longer than the funding interval) their rates add up."""
    if len(timestamps) == 0:
        return {}
    if funding is not None:
        times, rates = funding.timestamp, funding.rate
    else:
        first = -(-int(timestamps[0]) // FUNDING_INTERVAL_MS) * FUNDING_INTERVAL_MS
        times = np.arange(first, int(timestamps[-1]) + 1, FUNDING_INTERVAL_MS, dtype=np.int64)
        rates = np.full(len(times), constant_rate)
    idx = np.searchsorted(timestamps, times, side="right") - 1
    inside = (idx >= 0) & (times < timestamps[-1] + 1)
    schedule: dict[int, float] = {}
    for i, rate in zip(idx[inside].tolist(), rates[inside].tolist(), strict=True):
        schedule[i] = schedule.get(i, 0.0) + rate
    return schedule


class SimulatedVenue:
    """One instrument's simulated exchange over a bar series (and optional mark/funding)."""

    name = "simulated"

    def __init__(
        self,
        instrument: Instrument,
        bars: Bars,
        listener: VenueListener,
        *,
        initial_balance: float,
        leverage: float = 1.0,
        margin_mode: MarginMode = MarginMode.ISOLATED,
        settings: SimulationSettings | None = None,
        mark: Bars | None = None,
        funding: FundingRates | None = None,
    ) -> None:
        self.instrument = instrument
        self.settings = settings or SimulationSettings()
        self.listener = listener
        self.maker_fee = (
            instrument.maker_fee if self.settings.maker_fee is None else self.settings.maker_fee
        )
        self.taker_fee = (
            instrument.taker_fee if self.settings.taker_fee is None else self.settings.taker_fee
        )
        # Series stay numpy arrays: the venue reads them only on bars with events.
        self.ts = bars.timestamp
        self.o, self.h, self.lo, self.c = bars.open, bars.high, bars.low, bars.close
        self.vol = bars.volume / instrument.contract_size
        marks = mark if mark is not None else bars
        self.mo, self.mh, self.ml, self.mc = marks.open, marks.high, marks.low, marks.close
        # Cheap per-bar guards for the engine's loop, which reads one element per bar: C
        # doubles that index to Python floats, built by one copy (``tolist`` would build a
        # float object per bar up front, most of which a long run never reads).
        self.guard_low = array("d", np.minimum(bars.low, marks.low, dtype=np.float64).tobytes())
        self.guard_high = array("d", np.maximum(bars.high, marks.high, dtype=np.float64).tobytes())
        self.funding = (
            funding_schedule(bars.timestamp, funding, self.settings.funding_rate)
            if instrument.is_perpetual
            else {}
        )
        self._funding_bars = sorted(self.funding)
        self._funding_pos = 0
        bar_ms = int(bars.timeframe_ms) if len(bars) else 1
        self._latency_t = (self.settings.latency_ms % bar_ms) / bar_ms * 3.0
        self._latency_bars = self.settings.latency_bars + int(self.settings.latency_ms // bar_ms)
        self.position = Position(instrument, margin_mode, leverage)
        self.wallet = initial_balance
        self._book: list[_Working] = []
        self._seq = 0
        self._now_index = -1  # the bar being processed, or the last one processed
        self._now_t = 3.0  # path position within it; 3.0 = at the close
        self.liquidation_price = math.nan
        self.trig_low = -math.inf
        self.trig_high = math.inf
        self.next_index = self._funding_bars[0] if self._funding_bars else len(self.ts)

    # -- the Venue protocol -------------------------------------------------------------------
    def submit(self, order: Order) -> None:
        """Accept an order at the current moment; it becomes active after the latency."""
        order.submit()
        self.listener.on_order_update(order)
        self._seq += 1
        if self._now_t >= 3.0:  # placed at a bar close: arrives in a later bar
            index, t = self._now_index + 1 + self._latency_bars, self._latency_t
        else:  # placed while a bar is being processed (e.g. a stop after an entry fill)
            index, t = self._now_index, self._now_t
        self._book.append(_Working(order, self._seq, index, t))
        self._refresh_guards()

    def cancel(self, client_order_id: str) -> None:
        for w in self._book:
            if w.order.client_order_id == client_order_id:
                self._book.remove(w)
                w.order.cancel()
                self.listener.on_order_update(w.order)
                self._refresh_guards()
                return

    def open_orders(self) -> list[Order]:
        return [w.order for w in self._book]

    def set_leverage(self, leverage: float) -> None:
        if not self.position.is_flat:
            raise ValueError("leverage can only change while the position is flat")
        self.position.leverage = leverage

    # -- account ------------------------------------------------------------------------------
    def equity(self, mark: float) -> float:
        return self.wallet + self.position.unrealized_pnl(mark)

    def available_margin(self, mark: float) -> float:
        return self.equity(mark) - self.position.margin

    # -- matching -----------------------------------------------------------------------------
    def process_bar(self, i: int) -> None:
        """Run every event of bar ``i`` in path order: funding at the open, then fills,
        triggers and liquidation."""
        self._now_index, self._now_t = i, 0.0
        pos = self._funding_pos
        if pos < len(self._funding_bars) and self._funding_bars[pos] == i:
            self._settle_funding(i, self.funding[i])
            self._funding_pos += 1
        # ``item`` reads a Python float straight from the array (no numpy scalar in between).
        o, h, lo, c = self.o.item(i), self.h.item(i), self.lo.item(i), self.c.item(i)
        volume_left = float(self.vol.item(i))
        while True:
            event_t, event = self._next_event(i, o, h, lo, c)
            if event is None:
                break
            self._now_t = event_t
            if event == "liquidation":
                self._liquidate(i, event_t)
                continue
            assert isinstance(event, _Working)
            volume_left = self._execute(event, i, event_t, o, h, lo, c, volume_left)
        self._now_t = 3.0
        self._expire_market_leftovers()
        self._refresh_guards()

    def _next_event(
        self, i: int, o: float, h: float, lo: float, c: float
    ) -> tuple[float, _Working | str | None]:
        best_t: float = math.inf
        best: _Working | str | None = None
        now = self._now_t
        if not math.isnan(self.liquidation_price):
            direction = -self.position.sign
            t = rules.touch_time(
                self.mo[i],
                self.mh[i],
                self.ml[i],
                self.mc[i],
                self.liquidation_price,
                direction,
                now,
            )
            if t < best_t:
                best_t, best = t, "liquidation"
        for w in self._book:
            if w.active_index > i:
                continue
            t_from = max(now, w.active_t if w.active_index == i else 0.0)
            t = self._touch(w, o, h, lo, c, t_from)
            if t < best_t:
                best_t, best = t, w
        return best_t, best

    def _touch(self, w: _Working, o: float, h: float, lo: float, c: float, t_from: float) -> float:
        order = w.order
        side = order.side.sign
        if _fills_as_market(order):
            return t_from
        if order.type is OrderType.LIMIT or (
            order.type is OrderType.STOP_LIMIT and order.triggered
        ):
            assert order.price is not None
            start = rules.price_at(o, h, lo, c, t_from)
            if (side > 0 and start < order.price) or (side < 0 and start > order.price):
                return t_from  # marketable on arrival
            if order.time_in_force in _IMMEDIATE:
                return t_from  # fills at once or expires: decided on arrival
            return rules.limit_touch_time(o, h, lo, c, order.price, side, t_from)
        assert order.trigger_price is not None
        direction = -side if order.type is OrderType.TAKE_PROFIT else side
        return rules.touch_time(o, h, lo, c, order.trigger_price, direction, t_from)

    def _execute(
        self,
        w: _Working,
        i: int,
        t: float,
        o: float,
        h: float,
        lo: float,
        c: float,
        volume_left: float,
    ) -> float:
        """Fill (or trigger, or expire) one working order at path position ``t``."""
        order = w.order
        side = order.side.sign
        start = rules.price_at(o, h, lo, c, t)
        is_arrival = not w.resting and w.active_index == i and t == w.active_t
        kind = order.type
        if kind is _STOP_LIMIT and not order.triggered:
            order.triggered = True  # from here on it rests as a limit order
            w.active_index, w.active_t = i, t
            return volume_left
        liquidity = _TAKER
        if _fills_as_market(order):
            price = rules.slipped_price(start, side, self.settings.slippage)
        elif kind is _STOP_MARKET or kind is _TAKE_PROFIT:
            assert order.trigger_price is not None
            t_from = w.active_t if w.active_index == i else 0.0
            price = rules.triggered_fill_price(
                start, order.trigger_price, t, t_from, side, self.settings.slippage
            )
        else:
            assert order.price is not None
            marketable = (side > 0 and start < order.price) or (side < 0 and start > order.price)
            if is_arrival and not marketable and order.time_in_force in _IMMEDIATE:
                return self._expire(w, volume_left)
            if marketable and is_arrival:
                if order.time_in_force is TimeInForce.POST_ONLY:
                    return self._expire(w, volume_left)
                price = start
            else:
                price, liquidity = order.price, LiquiditySide.MAKER
                if marketable:  # resting limit reached by a gap: filled at the better price
                    price = start
        leaves = order.leaves_qty
        quantity = leaves
        if order.reduce_only:
            if self.position.sign != -side:
                return self._expire(w, volume_left)
            quantity = min(quantity, abs(self.position.quantity))
        cap = self.settings.participation_cap
        if cap > 0.0:  # without a cap the rule leaves the quantity as it is
            quantity = rules.participation_cap(quantity, volume_left, cap, self.instrument.lot_size)
        tif = order.time_in_force
        if tif is _FOK and quantity < leaves:
            return self._expire(w, volume_left)
        if quantity <= 0.0:
            if order.time_in_force is TimeInForce.IOC:
                return self._expire(w, volume_left)
            w.active_index, w.active_t = i + 1, 0.0  # nothing left in this bar's volume
            w.resting = True
            return volume_left
        if not self._margin_allows(order, quantity, price):
            self._book.remove(w)
            if order.filled_qty > 0.0:
                # Part of it already traded: the order stands, its rest is cancelled.
                order.cancel()
                order.reject_reason = "insufficient margin for the rest"
            else:
                order.reject("insufficient margin")
            self.listener.on_order_update(order)
            return volume_left
        self._fill(w, i, quantity, price, liquidity)
        if order.status.is_open:
            if tif in _IMMEDIATE:
                self._expire(w, volume_left)
            else:
                w.active_index, w.active_t = i + 1, 0.0  # the rest waits for the next bar
                w.resting = True
        # The cap bounds all of this bar's fills together: spend the bar volume it stands for.
        return volume_left - (quantity / cap if cap > 0.0 else quantity)

    def _margin_allows(self, order: Order, quantity: float, price: float) -> bool:
        """Opening quantity needs its initial margin plus the fee in available balance."""
        pos = self.position
        signed = quantity * order.side.sign
        closing = min(abs(signed), abs(pos.quantity)) if signed * pos.quantity < 0 else 0.0
        opening = quantity - closing
        if opening <= 0.0:
            return True
        cs = self.instrument.contract_size
        need = opening * cs * price * (1.0 / pos.leverage + self.taker_fee)
        released = pos.margin * closing / abs(pos.quantity) if closing else 0.0
        return need <= (self.available_margin(price) + released) * (1.0 + 1e-12)

    def _fill(self, w: _Working, i: int, quantity: float, price: float, liq: LiquiditySide) -> None:
        order = w.order
        position = self.position
        rate = self.maker_fee if liq is _MAKER else self.taker_fee
        fee = rules.fee_for(quantity, price, self.instrument.contract_size, rate)
        effect = position.apply_fill(order.side, quantity, price, fee)
        self.wallet += effect.realized_pnl - fee
        ts = int(self.ts[i])
        if position.opened_at == 0 or (effect.closed_qty and effect.opened_qty):
            position.opened_at = ts
        order.apply_fill(quantity, price, fee)
        if not order.status.is_open:
            self._book.remove(w)
        fill = Fill(
            order.client_order_id,
            order.symbol,
            order.side,
            quantity,
            price,
            fee,
            liq,
            ts,
            f"{order.client_order_id}-{len(order.history)}",
        )
        self._after_position_change()
        self.listener.on_fill(order, fill)

    def _expire(self, w: _Working, volume_left: float) -> float:
        if w in self._book:
            self._book.remove(w)
        w.order.expire()
        self.listener.on_order_update(w.order)
        return volume_left

    def _expire_market_leftovers(self) -> None:
        """Reduce-only orders whose position is gone cannot fill any more: cancel them."""
        if self.position.is_flat:
            for w in [w for w in self._book if w.order.reduce_only]:
                self._book.remove(w)
                w.order.cancel()
                self.listener.on_order_update(w.order)

    def _after_position_change(self) -> None:
        pos = self.position
        if pos.is_flat:
            pos.opened_at = 0
            self.liquidation_price = math.nan
        elif pos.margin_mode is MarginMode.ISOLATED and pos.margin <= 0.0:
            # Funding ate the whole isolated margin: nothing backs the position any more, so
            # it is liquidated at once, at the mark where the bar opens.
            self.liquidation_price = self.mo[max(self._now_index, 0)]
        else:
            self.liquidation_price = pos.liquidation_price(
                self.wallet if pos.margin_mode is MarginMode.CROSS else None
            )

    def _settle_funding(self, i: int, rate: float) -> None:
        mark = self.mo[i]
        amount = self.position.apply_funding(mark, rate)
        if amount == 0.0:
            return
        self.wallet += amount
        if self.position.margin_mode is MarginMode.ISOLATED:
            # Isolated funding is paid from (or into) the position's own margin.
            self.position.margin += amount
        self._after_position_change()
        self.listener.on_funding(
            FundingEvent(self.instrument.symbol, int(self.ts[i]), rate, mark, amount)
        )

    def _liquidate(self, i: int, t: float) -> None:
        pos = self.position
        price = self.liquidation_price
        side = OrderSide.SELL if pos.quantity > 0 else OrderSide.BUY
        quantity = abs(pos.quantity)
        position_side = "long" if pos.quantity > 0 else "short"
        order = Order(
            f"liquidation-{int(self.ts[i])}",
            self.instrument.symbol,
            side,
            OrderType.MARKET,
            quantity,
            reduce_only=True,
            tag="liquidation",
            created_at=int(self.ts[i]),
        )
        order.submit()
        fee = rules.fee_for(quantity, price, self.instrument.contract_size, self.taker_fee)
        effect = pos.apply_fill(side, quantity, price, fee)
        self.wallet += effect.realized_pnl - fee
        order.apply_fill(quantity, price, fee)
        self._after_position_change()
        fill = Fill(
            order.client_order_id,
            order.symbol,
            side,
            quantity,
            price,
            fee,
            LiquiditySide.TAKER,
            int(self.ts[i]),
            order.client_order_id,
        )
        self.listener.on_fill(order, fill)
        event = LiquidationEvent(
            self.instrument.symbol,
            int(self.ts[i]),
            position_side,
            quantity,
            price,
            rules.price_at(self.mo[i], self.mh[i], self.ml[i], self.mc[i], t),
            effect.realized_pnl,
        )
        self.listener.on_liquidation(event)
        self._expire_market_leftovers()

    def _refresh_guards(self) -> None:
        """Recompute what makes a bar worth processing: the price levels working orders and
        the liquidation price wait for, and the next bar with a scheduled event (an arriving
        market order, a delayed arrival, a funding settlement)."""
        low, high = -math.inf, math.inf
        next_index = len(self.ts)
        if self._funding_pos < len(self._funding_bars):
            next_index = self._funding_bars[self._funding_pos]
        liq = self.liquidation_price
        if not math.isnan(liq):
            if self.position.quantity > 0:
                low = liq
            else:
                high = liq
        for w in self._book:
            order = w.order
            if (
                _fills_as_market(order)
                or (order.type is _LIMIT and order.time_in_force in _IMMEDIATE)
                or w.active_index > self._now_index + 1
            ):
                next_index = min(next_index, w.active_index)
                continue
            level, rises = _guard_level(order)
            if rises:
                high = min(high, level)
            else:
                low = max(low, level)
        self.trig_low, self.trig_high, self.next_index = low, high, next_index


_IMMEDIATE = (TimeInForce.IOC, TimeInForce.FOK)
# Module-level names for the members the matching path compares on every order: an enum
# member read through its class costs several times a global read.
_MARKET, _LIMIT = OrderType.MARKET, OrderType.LIMIT
_STOP_MARKET, _STOP_LIMIT, _TAKE_PROFIT = (
    OrderType.STOP_MARKET,
    OrderType.STOP_LIMIT,
    OrderType.TAKE_PROFIT,
)
_TAKER, _MAKER = LiquiditySide.TAKER, LiquiditySide.MAKER
_FOK = TimeInForce.FOK


def _fills_as_market(order: Order) -> bool:
    """A market order, or a stop-market/take-profit already triggered (partly filled): the
    rest fills at the next price on the path."""
    kind = order.type
    if kind is _MARKET:
        return True
    return (kind is _STOP_MARKET or kind is _TAKE_PROFIT) and order.filled_qty > 0


def _guard_level(order: Order) -> tuple[float, bool]:
    """The price a resting order waits for, and whether price must rise to reach it."""
    buy = order.side is OrderSide.BUY
    if order.type is OrderType.STOP_LIMIT and not order.triggered:
        assert order.trigger_price is not None
        return order.trigger_price, buy
    if order.type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        assert order.price is not None
        return order.price, not buy
    assert order.trigger_price is not None
    if order.type is OrderType.TAKE_PROFIT:
        return order.trigger_price, not buy
    return order.trigger_price, buy
