"""SimulatedVenue driven bar by bar on hand-made bars, the way the engine drives it: an order
placed at the close of bar ``i`` (``venue._now_index = i``) arrives at bar ``i + 1``, and each
bar is processed only when the venue's guards say something can happen in it.

Expected prices, fees and balances are worked out by hand in the comments. Unless a test says
otherwise: a spot instrument with 0.02% maker / 0.05% taker fees, 0.1% slippage, 10,000 USDT.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from axis.data import Bars, FundingRates
from axis.domain.catalog import instrument_for
from axis.domain.enums import (
    Exchange,
    LiquiditySide,
    MarginMode,
    MarketType,
    OrderSide,
    OrderType,
    TimeInForce,
)
from axis.domain.instrument import Instrument
from axis.domain.orders import Fill, Order, OrderStatus
from axis.venues.base import FundingEvent, LiquidationEvent
from axis.venues.fills import exposure_quantity
from axis.venues.simulated import SimulatedVenue, SimulationSettings, funding_schedule

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
HOUR = 3_600_000
DAY = 24 * HOUR

SPOT = Instrument(
    "TEST/USDT",
    Exchange.BINANCE,
    MarketType.SPOT,
    tick_size=0.01,
    lot_size=0.001,
    maker_fee=0.0002,
    taker_fee=0.0005,
)
BTC_PERP = instrument_for("BTC/USDT:USDT")  # Binance: 0.02% maker, 0.05% taker, 0.004 MMR tier

BUY, SELL = OrderSide.BUY, OrderSide.SELL
SUBMITTED, PARTIAL = OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED
MAKER, TAKER = LiquiditySide.MAKER, LiquiditySide.TAKER

Row = tuple[float, ...]  # open, high, low, close[, volume]
ENTRY: Row = (100, 101, 99, 100)  # a quiet bar: a market buy arriving here fills at 100.1


# -- harness ----------------------------------------------------------------------------------


def make_bars(
    rows: Sequence[Row], *, start: int = T0, timeframe: str = "1h", symbol: str = "TEST/USDT"
) -> Bars:
    """Bars from (open, high, low, close[, volume]) rows; volume defaults to plenty."""
    step = {"1h": HOUR, "8h": 8 * HOUR, "1d": DAY}[timeframe]
    full = [(*row, 1e9) if len(row) == 4 else row for row in rows]
    data = np.array(full, dtype=np.float64)
    ts = start + np.arange(len(rows), dtype=np.int64) * step
    return Bars(symbol, timeframe, ts, *(data[:, k].copy() for k in range(5)))


def flat(price: float, n: int) -> list[Row]:
    return [(price, price, price, price)] * n


class Recorder:
    """A venue listener that keeps every event, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []  # (kind, client order id or symbol)
        self.statuses: list[tuple[str, OrderStatus]] = []
        self.fills: list[Fill] = []
        self.funding: list[FundingEvent] = []
        self.liquidations: list[LiquidationEvent] = []

    def on_order_update(self, order: Order) -> None:
        self.events.append(("update", order.client_order_id))
        self.statuses.append((order.client_order_id, order.status))

    def on_fill(self, order: Order, fill: Fill) -> None:
        self.events.append(("fill", order.client_order_id))
        self.statuses.append((order.client_order_id, order.status))
        self.fills.append(fill)

    def on_funding(self, event: FundingEvent) -> None:
        self.events.append(("funding", event.symbol))
        self.funding.append(event)

    def on_liquidation(self, event: LiquidationEvent) -> None:
        self.events.append(("liquidation", event.symbol))
        self.liquidations.append(event)

    def status_of(self, client_order_id: str) -> list[OrderStatus]:
        return [s for cid, s in self.statuses if cid == client_order_id]


def make_venue(
    rows: Sequence[Row],
    *,
    instrument: Instrument = SPOT,
    balance: float = 10_000.0,
    leverage: float = 1.0,
    margin_mode: MarginMode = MarginMode.ISOLATED,
    mark: Sequence[Row] | None = None,
    funding: FundingRates | None = None,
    start: int = T0,
    **settings: Any,
) -> tuple[SimulatedVenue, Recorder]:
    options: dict[str, Any] = {"slippage": 0.001, **settings}
    recorder = Recorder()
    venue = SimulatedVenue(
        instrument,
        make_bars(rows, start=start, symbol=instrument.symbol),
        recorder,
        initial_balance=balance,
        leverage=leverage,
        margin_mode=margin_mode,
        settings=SimulationSettings(**options),
        mark=None if mark is None else make_bars(mark, start=start, symbol=instrument.symbol),
        funding=funding,
    )
    return venue, recorder


def place(venue: SimulatedVenue, order: Order, at: int) -> Order:
    """Submit ``order`` at the close of bar ``at``."""
    venue._now_index = at
    venue.submit(order)
    return order


def run(venue: SimulatedVenue, first: int, last: int) -> None:
    """Process bars ``first..last`` as the engine does, skipping bars the guards rule out."""
    for i in range(first, last + 1):
        venue._now_index = i
        if (
            i >= venue.next_index
            or venue.guard_low[i] <= venue.trig_low
            or venue.guard_high[i] >= venue.trig_high
        ):
            venue.process_bar(i)


def market(
    cid: str, side: OrderSide, qty: float, *, reduce_only: bool = False, symbol: str = "TEST/USDT"
) -> Order:
    return Order(cid, symbol, side, OrderType.MARKET, qty, reduce_only=reduce_only)


def limit(
    cid: str,
    side: OrderSide,
    qty: float,
    price: float,
    *,
    time_in_force: TimeInForce = TimeInForce.GTC,
    reduce_only: bool = False,
    symbol: str = "TEST/USDT",
) -> Order:
    kind = OrderType.LIMIT
    return Order(cid, symbol, side, kind, qty, price, None, time_in_force, reduce_only)


def stop(
    cid: str,
    side: OrderSide,
    qty: float,
    trigger: float,
    *,
    reduce_only: bool,
    symbol: str = "TEST/USDT",
) -> Order:
    kind = OrderType.STOP_MARKET
    return Order(cid, symbol, side, kind, qty, trigger_price=trigger, reduce_only=reduce_only)


def take_profit(
    cid: str,
    side: OrderSide,
    qty: float,
    trigger: float,
    *,
    reduce_only: bool,
    symbol: str = "TEST/USDT",
) -> Order:
    kind = OrderType.TAKE_PROFIT
    return Order(cid, symbol, side, kind, qty, trigger_price=trigger, reduce_only=reduce_only)


def assert_fill(
    fill: Fill, cid: str, side: OrderSide, qty: float, price: float, fee: float, liq: LiquiditySide
) -> None:
    assert fill.client_order_id == cid
    assert fill.side is side
    assert fill.quantity == pytest.approx(qty, abs=1e-12)
    assert fill.price == pytest.approx(price, rel=1e-12)
    assert fill.fee == pytest.approx(fee, rel=1e-9)
    assert fill.liquidity is liq


def open_long(venue: SimulatedVenue, qty: float, at: int = 0) -> Order:
    """A market buy placed at the close of bar ``at``, filled at bar ``at + 1``."""
    order = place(venue, market("entry", BUY, qty, symbol=venue.instrument.symbol), at)
    run(venue, at + 1, at + 1)
    assert order.status is OrderStatus.FILLED
    return order


# -- market orders ----------------------------------------------------------------------------


def test_market_buy_fills_at_the_next_open_plus_slippage_as_taker() -> None:
    venue, rec = make_venue([(100, 101, 99, 100), (102, 103, 101, 102)])
    order = place(venue, market("m1", BUY, 2.0), at=0)
    assert order.status is SUBMITTED
    run(venue, 1, 1)
    # 102 x 1.001 = 102.102; fee 2 x 102.102 x 0.05% = 0.102102
    assert rec.events == [("update", "m1"), ("fill", "m1")]
    assert_fill(rec.fills[0], "m1", BUY, 2.0, 102.102, 0.102102, TAKER)
    assert rec.fills[0].timestamp == T0 + HOUR
    assert order.status is OrderStatus.FILLED
    assert order.history == [OrderStatus.NEW, SUBMITTED]
    assert order.avg_fill_price == pytest.approx(102.102)
    assert venue.position.quantity == 2.0
    assert venue.position.avg_entry == pytest.approx(102.102)
    assert venue.wallet == pytest.approx(10_000 - 0.102102)
    assert venue.open_orders() == []


def test_market_sell_fills_at_the_next_open_minus_slippage() -> None:
    venue, rec = make_venue([(100, 101, 99, 100), (102, 103, 101, 102), (104, 105, 103, 104)])
    open_long(venue, 2.0)
    place(venue, market("m2", SELL, 2.0), at=1)
    run(venue, 2, 2)
    # 104 x 0.999 = 103.896; fee 0.103896; realised 2 x (103.896 - 102.102) = 3.588
    assert_fill(rec.fills[1], "m2", SELL, 2.0, 103.896, 0.103896, TAKER)
    assert venue.position.is_flat
    assert venue.position.realized_pnl == pytest.approx(3.588)
    assert venue.wallet == pytest.approx(10_000 - 0.102102 + 3.588 - 0.103896)


def test_latency_bars_delay_the_arrival() -> None:
    rows = [(100, 101, 99, 100), (101, 102, 100, 101), (102, 103, 101, 102), (103, 104, 102, 103)]
    venue, rec = make_venue(rows, latency_bars=2)
    order = place(venue, market("m", BUY, 1.0), at=0)
    run(venue, 1, 2)
    assert rec.fills == []
    assert order.status is SUBMITTED
    run(venue, 3, 3)
    assert_fill(rec.fills[0], "m", BUY, 1.0, 103.103, 0.0515515, TAKER)
    assert rec.fills[0].timestamp == T0 + 3 * HOUR


def test_latency_ms_lands_the_order_part_way_along_the_path() -> None:
    # 30 minutes of a 1h bar: t = 1.5 on 100 → 104 → 90 → 95, i.e. halfway 104 → 90 = 97
    venue, rec = make_venue([(100, 100, 100, 100), (100, 104, 90, 95)], latency_ms=1_800_000)
    place(venue, market("m", BUY, 1.0), at=0)
    run(venue, 1, 1)
    assert_fill(rec.fills[0], "m", BUY, 1.0, 97.097, 0.0485485, TAKER)


def test_latency_ms_longer_than_a_bar_lands_part_way_along_a_later_bar() -> None:
    # 90 minutes: one whole bar plus 30 minutes → bar 2 at t = 1.5 (97), not near its close
    rows = [(100, 100, 100, 100), (100, 104, 90, 95), (100, 104, 90, 95)]
    venue, rec = make_venue(rows, latency_ms=5_400_000)
    place(venue, market("m", BUY, 1.0), at=0)
    run(venue, 1, 1)
    assert rec.fills == []
    run(venue, 2, 2)
    assert_fill(rec.fills[0], "m", BUY, 1.0, 97.097, 0.0485485, TAKER)
    assert rec.fills[0].timestamp == T0 + 2 * HOUR


def test_latency_ms_of_exactly_one_bar_arrives_at_the_following_open() -> None:
    rows = [(100, 100, 100, 100), (100, 104, 90, 95), (96, 97, 95, 96)]
    venue, rec = make_venue(rows, latency_ms=3_600_000)
    place(venue, market("m", BUY, 1.0), at=0)
    run(venue, 1, 2)
    assert_fill(rec.fills[0], "m", BUY, 1.0, 96.096, 0.048048, TAKER)


# -- limit orders -----------------------------------------------------------------------------


def test_buy_limit_fills_only_when_the_bar_trades_through_it() -> None:
    rows = [(103, 104, 102, 103), (103, 104, 100, 102), (101, 102, 99.5, 100.5)]
    venue, rec = make_venue(rows)
    order = place(venue, limit("l", BUY, 3.0, 100.0), at=0)
    run(venue, 1, 1)  # the low equals the limit: no fill
    assert rec.fills == []
    assert order.status is SUBMITTED
    run(venue, 2, 2)  # 99.5 < 100: filled at the limit as a maker, no slippage
    assert_fill(rec.fills[0], "l", BUY, 3.0, 100.0, 3 * 100.0 * 0.0002, MAKER)
    assert order.status is OrderStatus.FILLED
    assert venue.wallet == pytest.approx(10_000 - 0.06)


def test_sell_limit_fills_only_when_the_bar_trades_through_it() -> None:
    rows = [ENTRY, ENTRY, (100, 105, 99, 101), (104, 105.5, 103, 105)]
    venue, rec = make_venue(rows)
    open_long(venue, 1.0)
    order = place(venue, limit("l", SELL, 1.0, 105.0), at=1)
    run(venue, 2, 2)  # the high equals the limit: no fill
    assert order.status is SUBMITTED
    run(venue, 3, 3)
    assert_fill(rec.fills[1], "l", SELL, 1.0, 105.0, 105.0 * 0.0002, MAKER)
    assert rec.fills[1].timestamp == T0 + 3 * HOUR


def test_limit_marketable_on_arrival_fills_at_the_arrival_price_as_taker() -> None:
    venue, rec = make_venue([(100, 101, 99, 100), (102, 103, 101, 102)])
    place(venue, limit("l", BUY, 2.0, 105.0), at=0)
    run(venue, 1, 1)
    # at the open 102, no slippage (the limit caps it); taker fee 2 x 102 x 0.05%
    assert_fill(rec.fills[0], "l", BUY, 2.0, 102.0, 0.102, TAKER)


def test_resting_limit_reached_by_a_gap_fills_at_the_open_as_maker() -> None:
    rows = [(103, 104, 102, 103), (103, 104, 101, 102), (98, 99, 97, 98)]
    venue, rec = make_venue(rows)
    order = place(venue, limit("l", BUY, 1.0, 100.0), at=0)
    run(venue, 1, 1)
    assert order.status is SUBMITTED  # rests on the book
    run(venue, 2, 2)
    # gapped through: the better price, and still the maker it was on the book
    assert_fill(rec.fills[0], "l", BUY, 1.0, 98.0, 98.0 * 0.0002, MAKER)


def test_post_only_that_would_take_expires() -> None:
    venue, rec = make_venue([(100, 101, 99, 100), (102, 103, 101, 102)])
    order = place(venue, limit("po", BUY, 1.0, 105.0, time_in_force=TimeInForce.POST_ONLY), at=0)
    run(venue, 1, 1)
    assert rec.events == [("update", "po"), ("update", "po")]
    assert order.status is OrderStatus.EXPIRED
    assert rec.fills == []
    assert venue.open_orders() == []


def test_post_only_resting_fills_as_maker_even_through_a_gap() -> None:
    rows = [(103, 104, 102, 103), (103, 104, 101, 102), (98, 99, 97, 98)]
    venue, rec = make_venue(rows)
    order = place(venue, limit("po", BUY, 1.0, 100.0, time_in_force=TimeInForce.POST_ONLY), at=0)
    run(venue, 1, 2)
    assert order.status is OrderStatus.FILLED
    assert_fill(rec.fills[0], "po", BUY, 1.0, 98.0, 98.0 * 0.0002, MAKER)


def test_post_only_resting_fills_at_its_limit_when_traded_through() -> None:
    rows = [(103, 104, 102, 103), (103, 104, 99, 102)]
    venue, rec = make_venue(rows)
    place(venue, limit("po", BUY, 1.0, 100.0, time_in_force=TimeInForce.POST_ONLY), at=0)
    run(venue, 1, 1)
    assert_fill(rec.fills[0], "po", BUY, 1.0, 100.0, 0.02, MAKER)


def test_ioc_limit_that_cannot_fill_on_arrival_expires() -> None:
    # arrives at the open 103 above a 100 bid; the bar trades through 100 later, and so does
    # the next one, but an IOC order is gone by then
    rows = [(103, 104, 102, 103), (103, 104, 99, 102), (99, 100, 98, 99)]
    venue, rec = make_venue(rows)
    order = place(venue, limit("ioc", BUY, 1.0, 100.0, time_in_force=TimeInForce.IOC), at=0)
    run(venue, 1, 2)
    assert order.status is OrderStatus.EXPIRED
    assert rec.fills == []
    assert rec.status_of("ioc") == [SUBMITTED, OrderStatus.EXPIRED]


def test_ioc_limit_expires_on_arrival_even_when_the_guards_would_skip_the_bar() -> None:
    # bar 1 never comes near the 100 bid: the engine would skip it unless told otherwise
    rows = [(103, 104, 102, 103), (103, 104, 102, 103), (99, 100, 98, 99)]
    venue, rec = make_venue(rows)
    order = place(venue, limit("ioc", BUY, 1.0, 100.0, time_in_force=TimeInForce.IOC), at=0)
    assert venue.next_index == 1
    run(venue, 1, 2)
    assert order.status is OrderStatus.EXPIRED
    assert rec.fills == []


def test_ioc_fills_what_it_can_and_expires_the_rest() -> None:
    # cap 10% of 10 contracts: 1 of 3 fills at the open 102 as taker, the rest expires
    rows = [(100, 101, 99, 100, 10), (102, 103, 101, 102, 10), (102, 103, 101, 102, 10)]
    venue, rec = make_venue(rows, participation_cap=0.1)
    order = place(venue, limit("ioc", BUY, 3.0, 105.0, time_in_force=TimeInForce.IOC), at=0)
    run(venue, 1, 2)
    assert len(rec.fills) == 1
    assert_fill(rec.fills[0], "ioc", BUY, 1.0, 102.0, 0.051, TAKER)
    assert order.status is OrderStatus.EXPIRED
    assert order.filled_qty == 1.0
    assert rec.status_of("ioc") == [SUBMITTED, PARTIAL, OrderStatus.EXPIRED]


def test_fok_that_cannot_fill_in_full_expires_unfilled() -> None:
    rows = [(100, 101, 99, 100, 10), (102, 103, 101, 102, 10)]
    venue, rec = make_venue(rows, participation_cap=0.1)
    order = place(venue, limit("fok", BUY, 3.0, 105.0, time_in_force=TimeInForce.FOK), at=0)
    run(venue, 1, 1)
    assert rec.fills == []
    assert order.status is OrderStatus.EXPIRED
    assert order.filled_qty == 0.0


def test_fok_that_can_fill_in_full_fills() -> None:
    rows = [(100, 101, 99, 100, 100), (102, 103, 101, 102, 100)]
    venue, rec = make_venue(rows, participation_cap=0.1)
    order = place(venue, limit("fok", BUY, 3.0, 105.0, time_in_force=TimeInForce.FOK), at=0)
    run(venue, 1, 1)
    assert order.status is OrderStatus.FILLED
    assert_fill(rec.fills[0], "fok", BUY, 3.0, 102.0, 0.153, TAKER)


def test_fok_limit_not_marketable_on_arrival_expires() -> None:
    rows = [(103, 104, 102, 103), (103, 104, 99, 102)]
    venue, rec = make_venue(rows)
    order = place(venue, limit("fok", BUY, 1.0, 100.0, time_in_force=TimeInForce.FOK), at=0)
    run(venue, 1, 1)
    assert order.status is OrderStatus.EXPIRED
    assert rec.fills == []


def test_cancel_takes_a_resting_order_off_the_book() -> None:
    venue, rec = make_venue([(103, 104, 102, 103), (103, 104, 99, 102)])
    order = place(venue, limit("l", BUY, 1.0, 100.0), at=0)
    venue.cancel("l")
    run(venue, 1, 1)
    assert order.status is OrderStatus.CANCELLED
    assert rec.fills == []
    assert venue.open_orders() == []
    assert rec.status_of("l") == [SUBMITTED, OrderStatus.CANCELLED]


# -- stops and take-profits -------------------------------------------------------------------


def test_sell_stop_triggers_on_the_path_and_fills_at_the_trigger_plus_slippage() -> None:
    venue, rec = make_venue([ENTRY, ENTRY, (100, 104, 90, 95)])
    open_long(venue, 1.0)
    order = place(venue, stop("sl", SELL, 1.0, 97.0, reduce_only=True), at=1)
    run(venue, 2, 2)
    # 97 x 0.999 = 96.903, taker fee 0.0484515
    assert_fill(rec.fills[1], "sl", SELL, 1.0, 96.903, 0.0484515, TAKER)
    assert order.status is OrderStatus.FILLED
    assert venue.position.realized_pnl == pytest.approx(96.903 - 100.1)


def test_sell_stop_gapped_through_fills_at_the_open() -> None:
    venue, rec = make_venue([ENTRY, ENTRY, (95, 96, 94, 95)])
    open_long(venue, 1.0)
    place(venue, stop("sl", SELL, 1.0, 97.0, reduce_only=True), at=1)
    run(venue, 2, 2)
    assert_fill(rec.fills[1], "sl", SELL, 1.0, 94.905, 0.0474525, TAKER)  # 95 x 0.999


def test_buy_stop_entry_triggers_on_the_way_up() -> None:
    venue, rec = make_venue([ENTRY, (100, 104, 90, 95)])
    place(venue, stop("bs", BUY, 1.0, 103.0, reduce_only=False), at=0)
    run(venue, 1, 1)
    # reached at t = 0.75 on 100 → 104; 103 x 1.001 = 103.103
    assert_fill(rec.fills[0], "bs", BUY, 1.0, 103.103, 0.0515515, TAKER)


def test_buy_stop_gapped_through_fills_at_the_open() -> None:
    venue, rec = make_venue([ENTRY, (106, 107, 105, 106)])
    place(venue, stop("bs", BUY, 1.0, 103.0, reduce_only=False), at=0)
    run(venue, 1, 1)
    assert_fill(rec.fills[0], "bs", BUY, 1.0, 106.106, 0.053053, TAKER)


def test_take_profit_triggers_on_the_way_up_and_fills_as_taker() -> None:
    venue, rec = make_venue([ENTRY, ENTRY, (100, 104, 90, 95)])
    open_long(venue, 1.0)
    place(venue, take_profit("tp", SELL, 1.0, 103.0, reduce_only=True), at=1)
    run(venue, 2, 2)
    assert_fill(rec.fills[1], "tp", SELL, 1.0, 102.897, 0.0514485, TAKER)  # 103 x 0.999


def test_take_profit_gapped_through_fills_at_the_open() -> None:
    venue, rec = make_venue([ENTRY, ENTRY, (108, 109, 107, 108)])
    open_long(venue, 1.0)
    place(venue, take_profit("tp", SELL, 1.0, 103.0, reduce_only=True), at=1)
    run(venue, 2, 2)
    assert_fill(rec.fills[1], "tp", SELL, 1.0, 107.892, 0.053946, TAKER)  # 108 x 0.999


def test_short_take_profit_waits_for_a_fall() -> None:
    venue, rec = make_venue(
        [ENTRY, ENTRY, (100, 104, 90, 95)], instrument=BTC_PERP, slippage=0.0, leverage=2.0
    )
    place(venue, market("short", SELL, 1.0, symbol=BTC_PERP.symbol), at=0)
    run(venue, 1, 1)
    tp = take_profit("tp", BUY, 1.0, 92.0, reduce_only=True, symbol=BTC_PERP.symbol)
    place(venue, tp, at=1)
    run(venue, 2, 2)
    # 104 → 90 reaches 92 at t = 1 + 12/14; filled at 92, taker 0.05%
    assert_fill(rec.fills[1], "tp", BUY, 1.0, 92.0, 0.046, TAKER)
    assert venue.position.realized_pnl == pytest.approx(8.0)


def test_stop_limit_triggers_then_rests_as_a_limit() -> None:
    rows = [ENTRY, ENTRY, (100, 104, 90, 95), (96, 99, 95, 98.5)]
    venue, rec = make_venue(rows)
    open_long(venue, 1.0)
    order = place(
        venue,
        Order("sll", "TEST/USDT", SELL, OrderType.STOP_LIMIT, 1.0, 98.0, 97.0, reduce_only=True),
        at=1,
    )
    run(venue, 2, 2)
    # triggered at 97 (t = 1.5), but a 98 offer is above the rest of the bar (97 → 90 → 95)
    assert order.triggered
    assert order.status is SUBMITTED
    assert len(rec.fills) == 1
    run(venue, 3, 3)
    # 96 → 95 → 99: traded through 98 on the way up, filled at the limit as a maker
    assert_fill(rec.fills[1], "sll", SELL, 1.0, 98.0, 98.0 * 0.0002, MAKER)


def test_stop_limit_marketable_at_its_trigger_fills_there_as_taker() -> None:
    venue, rec = make_venue([ENTRY, (100, 104, 90, 95)])
    place(
        venue,
        Order("bsl", "TEST/USDT", BUY, OrderType.STOP_LIMIT, 1.0, price=103.5, trigger_price=103.0),
        at=0,
    )
    run(venue, 1, 1)
    # triggered at 103 (t = 0.75), below the 103.5 limit: takes at 103, no slippage
    assert_fill(rec.fills[0], "bsl", BUY, 1.0, 103.0, 0.0515, TAKER)


def test_protective_stop_placed_on_a_fill_can_trigger_in_the_same_bar() -> None:
    venue, rec = make_venue([ENTRY, (100, 104, 90, 95)])

    class Protector(Recorder):
        def on_fill(self, order: Order, fill: Fill) -> None:
            super().on_fill(order, fill)
            if order.client_order_id == "entry":
                venue.submit(stop("sl", SELL, fill.quantity, 97.0, reduce_only=True))

    venue.listener = rec = Protector()
    place(venue, market("entry", BUY, 1.0), at=0)
    run(venue, 1, 1)
    # entry at the open (t = 0), the stop is live from there and triggers at t = 1.5
    assert [f.client_order_id for f in rec.fills] == ["entry", "sl"]
    assert rec.fills[1].price == pytest.approx(96.903)
    assert rec.fills[1].timestamp == T0 + HOUR
    assert venue.position.is_flat


# -- the intrabar path order ------------------------------------------------------------------


def bracket(rows: Sequence[Row]) -> tuple[SimulatedVenue, Recorder, Order, Order]:
    """A long of 1 (entered at 100.1) with a 95 stop and a 105 take-profit, both reduce-only,
    and bar 2 to test."""
    venue, rec = make_venue([ENTRY, ENTRY, *rows])
    open_long(venue, 1.0)
    sl = place(venue, stop("sl", SELL, 1.0, 95.0, reduce_only=True), at=1)
    tp = place(venue, take_profit("tp", SELL, 1.0, 105.0, reduce_only=True), at=1)
    run(venue, 2, 2)
    return venue, rec, sl, tp


def test_bar_hitting_both_resolves_the_low_first_when_the_low_is_nearer() -> None:
    # 100 → 94 → 107 → 100: the stop at t = 5/6 before the target at 1 + 11/13
    venue, rec, sl, tp = bracket([(100, 107, 94, 100)])
    assert [f.client_order_id for f in rec.fills] == ["entry", "sl"]
    assert rec.fills[1].price == pytest.approx(94.905)  # 95 x 0.999
    assert sl.status is OrderStatus.FILLED
    # the target is reached later with the position gone: reduce-only, so it expires
    assert tp.status is OrderStatus.EXPIRED
    assert rec.events[-2:] == [("fill", "sl"), ("update", "tp")]
    assert venue.position.is_flat


def test_bar_hitting_both_resolves_the_high_first_when_the_high_is_nearer() -> None:
    # 100 → 106 → 93 → 100: the target at t = 5/6 before the stop at 1 + 11/13
    _, rec, sl, tp = bracket([(100, 106, 93, 100)])
    assert [f.client_order_id for f in rec.fills] == ["entry", "tp"]
    assert rec.fills[1].price == pytest.approx(104.895)  # 105 x 0.999
    assert tp.status is OrderStatus.FILLED
    assert sl.status is OrderStatus.EXPIRED
    assert rec.events[-2:] == [("fill", "tp"), ("update", "sl")]


def test_bar_hitting_both_with_equidistant_extremes_takes_the_high_first() -> None:
    _, rec, sl, _ = bracket([(100, 106, 94, 100)])
    assert [f.client_order_id for f in rec.fills] == ["entry", "tp"]
    assert sl.status is OrderStatus.EXPIRED


def test_orders_touched_at_the_same_moment_fill_in_submission_order() -> None:
    venue, rec = make_venue([ENTRY, ENTRY, (100, 104, 90, 95)])
    open_long(venue, 2.0)
    place(venue, stop("a", SELL, 1.0, 97.0, reduce_only=True), at=1)
    place(venue, stop("b", SELL, 1.0, 97.0, reduce_only=True), at=1)
    run(venue, 2, 2)
    assert [f.client_order_id for f in rec.fills] == ["entry", "a", "b"]


def test_limit_at_the_open_yields_to_a_stop_hit_before_it_trades_through() -> None:
    # a 98 bid on a short and a 101 buy stop: 100 → 102 → 98 → 99 touches the bid at the open
    # but trades through it only on the way down, after the stop at 101 was hit on the way up
    venue, rec = make_venue(
        [ENTRY, ENTRY, (100, 102, 98, 99)], instrument=BTC_PERP, slippage=0.0, leverage=2.0
    )
    place(venue, market("short", SELL, 1.0, symbol=BTC_PERP.symbol), at=0)
    run(venue, 1, 1)
    place(venue, limit("tp", BUY, 1.0, 100.0, reduce_only=True, symbol=BTC_PERP.symbol), at=1)
    place(venue, stop("sl", BUY, 1.0, 101.0, reduce_only=True, symbol=BTC_PERP.symbol), at=1)
    run(venue, 2, 2)
    assert [f.client_order_id for f in rec.fills] == ["short", "sl"]
    assert rec.fills[1].price == 101.0
    assert venue.position.realized_pnl == pytest.approx(-1.0)


# -- participation cap ------------------------------------------------------------------------


def test_participation_cap_fills_part_now_and_the_rest_next_bar() -> None:
    # 10% of 10 contracts per bar: 1.0 at 102 x 1.001, then 0.5 at 103 x 1.001
    rows = [(100, 101, 99, 100, 10), (102, 103, 101, 102, 10), (103, 104, 102, 103, 10)]
    venue, rec = make_venue(rows, participation_cap=0.1)
    order = place(venue, market("m", BUY, 1.5), at=0)
    run(venue, 1, 1)
    assert order.status is PARTIAL
    assert order.filled_qty == 1.0
    assert_fill(rec.fills[0], "m", BUY, 1.0, 102.102, 0.051051, TAKER)
    run(venue, 2, 2)
    assert order.status is OrderStatus.FILLED
    assert_fill(rec.fills[1], "m", BUY, 0.5, 103.103, 0.02577575, TAKER)
    assert rec.status_of("m") == [SUBMITTED, PARTIAL, OrderStatus.FILLED]
    assert order.history == [OrderStatus.NEW, SUBMITTED, PARTIAL]
    assert order.avg_fill_price == pytest.approx((102.102 + 0.5 * 103.103) / 1.5)
    assert venue.position.quantity == pytest.approx(1.5)


def test_a_partly_filled_order_whose_rest_the_margin_refuses_is_cancelled_not_rejected() -> None:
    # 1.0 fills at 102.102 and leaves ~7.85 of the 110: the rest (0.45 x ~103) cannot be paid
    rows = [(100, 101, 99, 100, 10), (102, 103, 101, 102, 10), (103, 104, 102, 103, 10)]
    venue, rec = make_venue(rows, balance=110.0, participation_cap=0.1)
    order = place(venue, market("m", BUY, 1.45), at=0)
    run(venue, 1, 2)
    assert order.status is OrderStatus.CANCELLED
    assert order.filled_qty == 1.0
    assert order.reject_reason == "insufficient margin for the rest"
    assert rec.status_of("m") == [SUBMITTED, PARTIAL, OrderStatus.CANCELLED]
    assert venue.position.quantity == pytest.approx(1.0)


def test_participation_cap_bounds_all_orders_of_a_bar_together() -> None:
    rows = [(100, 101, 99, 100, 10), (102, 103, 101, 102, 10), (103, 104, 102, 103, 10)]
    venue, rec = make_venue(rows, participation_cap=0.1)
    a = place(venue, market("a", BUY, 1.0), at=0)
    b = place(venue, market("b", BUY, 1.0), at=0)
    run(venue, 1, 1)
    # the bar's whole allowance (1.0) went to the first order
    assert a.status is OrderStatus.FILLED
    assert b.status is SUBMITTED
    assert sum(f.quantity for f in rec.fills) == 1.0
    run(venue, 2, 2)
    assert b.status is OrderStatus.FILLED
    assert_fill(rec.fills[1], "b", BUY, 1.0, 103.103, 0.0515515, TAKER)


def test_partly_filled_stop_fills_its_rest_as_a_market_order() -> None:
    # 2 long; a 97 stop fills 1 (10% of 10) at 96.903; the next bar opens back above the
    # trigger at 99, and the triggered rest sells there: 99 x 0.999 = 98.901
    rows: list[Row] = [(100, 101, 99, 100, 20), (100, 101, 99, 100, 20), (100, 104, 90, 95, 10)]
    rows.append((99, 100, 98, 99.5, 10))
    venue, rec = make_venue(rows, participation_cap=0.1)
    open_long(venue, 2.0)
    order = place(venue, stop("sl", SELL, 2.0, 97.0, reduce_only=True), at=1)
    run(venue, 2, 2)
    assert order.status is PARTIAL
    assert_fill(rec.fills[1], "sl", SELL, 1.0, 96.903, 0.0484515, TAKER)
    assert venue.next_index == 3  # the rest must be processed on the next bar
    run(venue, 3, 3)
    assert order.status is OrderStatus.FILLED
    assert_fill(rec.fills[2], "sl", SELL, 1.0, 98.901, 0.0494505, TAKER)
    assert venue.position.is_flat


def test_partly_filled_limit_rests_for_the_next_bar_as_maker() -> None:
    rows = [(103, 104, 102, 103, 10), (101, 102, 99, 100, 10), (101, 102, 99, 100, 10)]
    venue, rec = make_venue(rows, participation_cap=0.1)
    order = place(venue, limit("l", BUY, 1.5, 100.0), at=0)
    run(venue, 1, 2)
    assert order.status is OrderStatus.FILLED
    assert [f.quantity for f in rec.fills] == [1.0, 0.5]
    assert all(f.price == 100.0 and f.liquidity is MAKER for f in rec.fills)


# -- reduce-only ------------------------------------------------------------------------------


def test_reduce_only_is_clipped_to_the_position() -> None:
    venue, rec = make_venue([ENTRY, ENTRY, (102, 103, 101, 102)])
    open_long(venue, 1.0)
    order = place(venue, market("close", SELL, 3.0, reduce_only=True), at=1)
    run(venue, 2, 2)
    assert_fill(rec.fills[1], "close", SELL, 1.0, 101.898, 0.050949, TAKER)  # 102 x 0.999
    assert venue.position.is_flat
    # the unfilled 2 can never fill: cancelled with the position gone
    assert order.filled_qty == 1.0
    assert order.status is OrderStatus.CANCELLED
    assert rec.status_of("close") == [SUBMITTED, PARTIAL, OrderStatus.CANCELLED]


def test_reduce_only_expires_without_a_position() -> None:
    venue, rec = make_venue([ENTRY, ENTRY])
    order = place(venue, market("close", SELL, 1.0, reduce_only=True), at=0)
    run(venue, 1, 1)
    assert order.status is OrderStatus.EXPIRED
    assert rec.fills == []
    assert venue.position.is_flat


def test_reduce_only_on_the_same_side_expires() -> None:
    venue, _ = make_venue([ENTRY, ENTRY, ENTRY])
    open_long(venue, 1.0)
    order = place(venue, market("more", BUY, 1.0, reduce_only=True), at=1)
    run(venue, 2, 2)
    assert order.status is OrderStatus.EXPIRED
    assert venue.position.quantity == 1.0


def test_reduce_only_orders_are_cancelled_when_the_position_goes_flat() -> None:
    venue, rec = make_venue([ENTRY, ENTRY, (102, 103, 101, 102), ENTRY])
    open_long(venue, 1.0)
    sl = place(venue, stop("sl", SELL, 1.0, 90.0, reduce_only=True), at=1)
    tp = place(venue, take_profit("tp", SELL, 1.0, 110.0, reduce_only=True), at=1)
    entry = place(venue, limit("other", BUY, 1.0, 80.0), at=1)  # not reduce-only: stays
    place(venue, market("exit", SELL, 1.0), at=1)
    run(venue, 2, 2)
    assert venue.position.is_flat
    assert sl.status is OrderStatus.CANCELLED
    assert tp.status is OrderStatus.CANCELLED
    assert entry.status is SUBMITTED
    assert venue.open_orders() == [entry]
    assert rec.events[-3:] == [("fill", "exit"), ("update", "sl"), ("update", "tp")]


# -- margin -----------------------------------------------------------------------------------


def test_order_needing_more_margin_than_available_is_rejected() -> None:
    venue, rec = make_venue([ENTRY, (102, 103, 101, 102)], balance=1_000.0)
    # 10 x 102.102 = 1,021.02 plus the fee: more than 1,000
    order = place(venue, market("big", BUY, 10.0), at=0)
    run(venue, 1, 1)
    assert order.status is OrderStatus.REJECTED
    assert order.reject_reason == "insufficient margin"
    assert rec.events == [("update", "big"), ("update", "big")]
    assert rec.fills == []
    assert venue.wallet == 1_000.0


def test_perpetual_margin_counts_leverage() -> None:
    # 10x: 1 BTC at 40,000 holds 4,000 + 20 of fee: more than 1,000 available
    rows = flat(40_000.0, 3)
    venue, _ = make_venue(rows, instrument=BTC_PERP, balance=1_000.0, leverage=10.0, slippage=0)
    rejected = place(venue, market("big", BUY, 1.0, symbol=BTC_PERP.symbol), at=0)
    run(venue, 1, 1)
    assert rejected.status is OrderStatus.REJECTED
    # 0.2 BTC holds 800 + 4: fits
    accepted = place(venue, market("ok", BUY, 0.2, symbol=BTC_PERP.symbol), at=1)
    run(venue, 2, 2)
    assert accepted.status is OrderStatus.FILLED
    assert venue.position.margin == pytest.approx(800.0)


def test_size_from_exposure_quantity_passes_the_margin_check_at_the_fill() -> None:
    venue, _ = make_venue([ENTRY, (102, 103, 101, 102)], balance=1_000.0)
    qty = exposure_quantity(1_000.0, 102.0, 1.0, 1.0, 0.0005, 0.001, 0.001, 3)
    assert qty == 9.789  # 1000 / (102.102 x 1.0005) = 9.7895
    order = place(venue, market("sized", BUY, qty), at=0)
    run(venue, 1, 1)
    assert order.status is OrderStatus.FILLED
    assert venue.available_margin(102.102) >= 0.0


def test_closing_needs_no_margin() -> None:
    venue, _ = make_venue([ENTRY, ENTRY, (50, 51, 49, 50)], balance=101.0)
    open_long(venue, 1.0)  # 100.1 + fee uses nearly all of it
    order = place(venue, market("close", SELL, 1.0), at=1)
    run(venue, 2, 2)
    assert order.status is OrderStatus.FILLED


def test_leverage_changes_only_while_flat() -> None:
    venue, _ = make_venue([ENTRY, ENTRY], instrument=BTC_PERP, leverage=5.0)
    venue.set_leverage(10.0)
    assert venue.position.leverage == 10.0
    open_long(venue, 0.001)
    with pytest.raises(ValueError, match="flat"):
        venue.set_leverage(20.0)


# -- funding ----------------------------------------------------------------------------------


def perp_funding_venue(
    side: OrderSide, funding: FundingRates | None = None, **settings: Any
) -> tuple[SimulatedVenue, Recorder]:
    """18 hourly bars from 2023-12-31 23:00 UTC: 00:00 is bar 1, 08:00 bar 9, 16:00 bar 17.
    Trades at 40,000; the mark opens at 41,000 from bar 2 on (42,000 at bar 17). 0.5 BTC at 10x,
    isolated, entered at bar 1's open (after that bar's funding)."""
    rows = flat(40_000.0, 18)
    mark = flat(40_000.0, 2) + flat(41_000.0, 15) + flat(42_000.0, 1)
    venue, rec = make_venue(
        rows,
        instrument=BTC_PERP,
        leverage=10.0,
        mark=mark,
        funding=funding,
        start=T0 - HOUR,
        slippage=0.0,
        **settings,
    )
    place(venue, Order("entry", BTC_PERP.symbol, side, OrderType.MARKET, 0.5), at=0)
    return venue, rec


def test_funding_schedule_of_a_constant_rate_is_every_eight_hours_utc() -> None:
    venue, _ = perp_funding_venue(BUY, funding_rate=0.0001)
    assert venue.funding == {1: 0.0001, 9: 0.0001, 17: 0.0001}


def test_constant_funding_is_paid_by_a_long_on_the_mark_open() -> None:
    venue, rec = perp_funding_venue(BUY, funding_rate=0.0001)
    run(venue, 1, 8)
    # flat at bar 1's open when funding settled there: nothing paid
    assert rec.funding == []
    assert venue.position.margin == pytest.approx(2_000.0)  # 0.5 x 40,000 / 10
    wallet = 10_000.0 - 10.0  # entry fee 0.5 x 40,000 x 0.05%
    assert venue.wallet == pytest.approx(wallet)
    run(venue, 9, 9)
    # -side x qty x contract size x mark x rate = -0.5 x 41,000 x 0.0001 = -2.05
    [event] = rec.funding
    assert (event.symbol, event.timestamp, event.rate) == (BTC_PERP.symbol, T0 + 8 * HOUR, 0.0001)
    assert event.mark_price == 41_000.0  # the mark's open, not the traded 40,000
    assert event.amount == pytest.approx(-2.05)
    assert venue.wallet == pytest.approx(wallet - 2.05)
    # isolated: the position's own margin pays, which moves its liquidation price up
    assert venue.position.margin == pytest.approx(2_000.0 - 2.05)
    assert venue.position.funding_paid == pytest.approx(2.05)
    assert venue.liquidation_price == pytest.approx(venue.position.liquidation_price())
    run(venue, 10, 17)
    assert rec.funding[1].amount == pytest.approx(-2.1)  # 0.5 x 42,000 x 0.0001
    assert rec.funding[1].timestamp == T0 + 16 * HOUR
    assert venue.wallet == pytest.approx(wallet - 2.05 - 2.1)
    assert venue.position.margin == pytest.approx(2_000.0 - 4.15)


def test_constant_funding_is_received_by_a_short() -> None:
    venue, rec = perp_funding_venue(SELL, funding_rate=0.0001)
    run(venue, 1, 17)
    assert [e.amount for e in rec.funding] == pytest.approx([2.05, 2.1])
    assert venue.position.margin == pytest.approx(2_000.0 + 4.15)


def test_cross_margin_funding_leaves_the_position_margin_alone() -> None:
    rows = flat(40_000.0, 10)
    venue, rec = make_venue(
        rows,
        instrument=BTC_PERP,
        leverage=10.0,
        margin_mode=MarginMode.CROSS,
        start=T0 - HOUR,
        slippage=0.0,
        funding_rate=0.0001,
    )
    place(venue, Order("entry", BTC_PERP.symbol, BUY, OrderType.MARKET, 0.5), at=0)
    run(venue, 1, 9)
    assert rec.funding[0].amount == pytest.approx(-2.0)
    assert venue.position.margin == pytest.approx(2_000.0)
    assert venue.wallet == pytest.approx(10_000.0 - 10.0 - 2.0)


def test_funding_from_a_series_uses_its_rates_and_times() -> None:
    series = FundingRates(
        BTC_PERP.symbol,
        np.array([T0 + 8 * HOUR, T0 + 16 * HOUR], dtype=np.int64),
        np.array([0.0003, -0.0002]),
    )
    venue, rec = perp_funding_venue(SELL, funding=series)
    assert venue.funding == {9: 0.0003, 17: -0.0002}
    run(venue, 1, 17)
    # short: +0.5 x 41,000 x 0.0003 = +6.15; then 0.5 x 42,000 x -0.0002 → pays 4.2
    assert [e.amount for e in rec.funding] == pytest.approx([6.15, -4.2])
    assert [e.rate for e in rec.funding] == [0.0003, -0.0002]
    assert venue.wallet == pytest.approx(10_000.0 - 10.0 + 6.15 - 4.2)


def test_spot_pays_no_funding() -> None:
    venue, _ = make_venue(flat(100.0, 20), start=T0 - HOUR)
    assert venue.funding == {}


def test_funding_schedule_mapping() -> None:
    hourly = T0 + np.arange(24, dtype=np.int64) * HOUR
    assert funding_schedule(hourly, None, 0.0001) == {0: 0.0001, 8: 0.0001, 16: 0.0001}
    # starting at 01:00: 08:00 and 16:00 of the day, 00:00 of the next is the last bar
    late = hourly + HOUR
    assert funding_schedule(late, None, 0.0001) == {7: 0.0001, 15: 0.0001, 23: 0.0001}
    assert funding_schedule(np.array([], dtype=np.int64), None, 0.0001) == {}


def test_funding_inside_a_bar_settles_at_that_bar_for_both_sources() -> None:
    # 3h bars from 00:00: 08:00 lies inside the 06:00 bar (2), 16:00 inside the 15:00 bar (5)
    three_hourly = T0 + np.arange(8, dtype=np.int64) * 3 * HOUR
    expected = {0: 0.0001, 2: 0.0001, 5: 0.0001}
    assert funding_schedule(three_hourly, None, 0.0001) == expected
    times = T0 + np.array([0, 8, 16], dtype=np.int64) * HOUR
    series = FundingRates("X", times, np.full(3, 0.0001))
    assert funding_schedule(three_hourly, series, 0.0) == expected


def test_funding_times_sharing_a_bar_add_up() -> None:
    daily = T0 + np.arange(3, dtype=np.int64) * DAY
    constant = funding_schedule(daily, None, 0.0001)
    assert constant.keys() == {0, 1, 2}
    assert constant[0] == pytest.approx(0.0003)
    assert constant[1] == pytest.approx(0.0003)
    # the last bar only holds the funding at its open (later ones fall past its open)
    assert constant[2] == pytest.approx(0.0001)
    times = T0 + np.arange(9, dtype=np.int64) * 8 * HOUR
    series = FundingRates("X", times, np.array([1, 2, 3, 4, 5, 6, 7, 8, 9]) * 1e-4)
    from_series = funding_schedule(daily, series, 0.0)
    assert from_series[0] == pytest.approx(0.0006)
    assert from_series[1] == pytest.approx(0.0015)
    assert from_series[2] == pytest.approx(0.0007)


def test_funding_outside_the_bars_is_ignored() -> None:
    hourly = T0 + np.arange(10, dtype=np.int64) * HOUR
    times = np.array([T0 - 8 * HOUR, T0 + 8 * HOUR, T0 + 16 * HOUR], dtype=np.int64)
    series = FundingRates("X", times, np.array([0.1, 0.0002, 0.3]))
    assert funding_schedule(hourly, series, 0.0) == {8: 0.0002}


# -- liquidation ------------------------------------------------------------------------------

# 1 BTC at 40,000, 20x isolated: margin 2,000. Binance's first tier (MMR 0.4%, no maintenance
# amount) liquidates where 2,000 + (P - 40,000) = 0.004 P, i.e. P = 38,000 / 0.996; a short
# where 2,000 - (P - 40,000) = 0.004 P, i.e. P = 42,000 / 1.004.
LONG_LIQ = 38_000.0 / 0.996
SHORT_LIQ = 42_000.0 / 1.004


def leveraged(
    side: OrderSide, trade: Sequence[Row], mark: Sequence[Row] | None = None
) -> tuple[SimulatedVenue, Recorder]:
    rows = [*flat(40_000.0, 2), *trade]
    marks = None if mark is None else [*flat(40_000.0, 2), *mark]
    venue, rec = make_venue(rows, instrument=BTC_PERP, leverage=20.0, mark=marks, slippage=0.0)
    place(venue, Order("entry", BTC_PERP.symbol, side, OrderType.MARKET, 1.0), at=0)
    run(venue, 1, 1)
    return venue, rec


def perp_stop(cid: str, side: OrderSide, trigger: float) -> Order:
    return stop(cid, side, 1.0, trigger, reduce_only=True, symbol=BTC_PERP.symbol)


def test_long_is_liquidated_when_the_mark_path_reaches_its_liquidation_price() -> None:
    # the traded price never goes below 39,500; the mark falls to 38,000
    venue, rec = leveraged(
        BUY, trade=[(40_000, 40_100, 39_500, 39_800)], mark=[(40_000, 40_050, 38_000, 38_500)]
    )
    assert venue.liquidation_price == pytest.approx(LONG_LIQ)
    sl = place(venue, perp_stop("sl", SELL, 37_000.0), at=1)  # below the liquidation price
    run(venue, 2, 2)
    assert venue.position.is_flat
    fill = rec.fills[1]
    assert fill.client_order_id == "liquidation-" + str(T0 + 2 * HOUR)
    assert_fill(fill, fill.client_order_id, SELL, 1.0, LONG_LIQ, LONG_LIQ * 0.0005, TAKER)
    [event] = rec.liquidations
    assert (event.symbol, event.timestamp, event.side) == (BTC_PERP.symbol, T0 + 2 * HOUR, "long")
    assert event.quantity == 1.0
    assert event.liquidation_price == pytest.approx(LONG_LIQ)
    assert event.mark_price == pytest.approx(LONG_LIQ)  # the mark when it reached the price
    assert event.realized_pnl == pytest.approx(LONG_LIQ - 40_000.0)
    # fill, then the liquidation, then the orphaned reduce-only stop is cancelled
    assert rec.events[-3:] == [
        ("fill", fill.client_order_id),
        ("liquidation", BTC_PERP.symbol),
        ("update", "sl"),
    ]
    assert sl.status is OrderStatus.CANCELLED
    assert venue.open_orders() == []
    assert math.isnan(venue.liquidation_price)
    assert venue.wallet == pytest.approx(
        10_000.0 - 20.0 + (LONG_LIQ - 40_000.0) - LONG_LIQ * 0.0005
    )


def test_trade_prices_alone_do_not_liquidate() -> None:
    # the traded low goes far below the liquidation price; the mark does not
    venue, rec = leveraged(
        BUY, trade=[(40_000, 40_100, 37_000, 39_800)], mark=[(40_000, 40_050, 39_000, 39_800)]
    )
    run(venue, 2, 2)
    assert rec.liquidations == []
    assert venue.position.quantity == 1.0


def test_short_is_liquidated_when_the_mark_rises_to_its_liquidation_price() -> None:
    venue, rec = leveraged(
        SELL, trade=[(40_000, 40_500, 39_900, 40_200)], mark=[(40_000, 42_000, 39_950, 41_500)]
    )
    assert venue.liquidation_price == pytest.approx(SHORT_LIQ)
    run(venue, 2, 2)
    assert venue.position.is_flat
    assert_fill(
        rec.fills[1], rec.fills[1].client_order_id, BUY, 1.0, SHORT_LIQ, SHORT_LIQ * 0.0005, TAKER
    )
    event = rec.liquidations[0]
    assert event.side == "short"
    assert event.realized_pnl == pytest.approx(40_000.0 - SHORT_LIQ)
    assert event.mark_price == pytest.approx(SHORT_LIQ)


def test_stop_reached_before_the_liquidation_price_closes_the_position() -> None:
    # one path (no separate mark): 40,000 → 40,100 → 37,000; the 38,500 stop comes first
    venue, rec = leveraged(BUY, trade=[(40_000, 40_100, 37_000, 37_500)])
    place(venue, perp_stop("sl", SELL, 38_500.0), at=1)
    run(venue, 2, 2)
    assert [f.client_order_id for f in rec.fills] == ["entry", "sl"]
    assert rec.fills[1].price == 38_500.0
    assert rec.liquidations == []


def test_liquidation_reached_first_on_the_mark_path_beats_a_stop() -> None:
    # the stop is at t = 1 + 1,600/3,100 on the traded path; the mark (low nearer: 38,500 →
    # 38,000 first) reaches the liquidation price at t = 347.4/500 ≈ 0.69
    venue, rec = leveraged(
        BUY, trade=[(40_000, 40_100, 37_000, 37_500)], mark=[(38_500, 40_000, 38_000, 38_500)]
    )
    sl = place(venue, perp_stop("sl", SELL, 38_500.0), at=1)
    run(venue, 2, 2)
    assert len(rec.liquidations) == 1
    assert rec.fills[1].price == pytest.approx(LONG_LIQ)
    assert sl.status is OrderStatus.CANCELLED


def test_liquidation_wins_a_tie_with_a_stop() -> None:
    venue, rec = leveraged(BUY, trade=[(40_000, 40_100, 37_000, 37_500)])
    sl = place(venue, perp_stop("sl", SELL, venue.liquidation_price), at=1)
    run(venue, 2, 2)
    assert len(rec.liquidations) == 1
    assert [f.client_order_id for f in rec.fills][1].startswith("liquidation-")
    assert sl.status is OrderStatus.CANCELLED
    assert len(rec.fills) == 2


def test_funding_that_exhausts_isolated_margin_liquidates() -> None:
    # 125x: 1 BTC at 40,000 holds 320 of margin; a 1% funding payment is 400
    rows = flat(40_000.0, 12)
    venue, rec = make_venue(
        rows, instrument=BTC_PERP, leverage=125.0, start=T0 - HOUR, slippage=0.0,
        funding_rate=0.01,
    )  # fmt: skip
    place(venue, Order("entry", BTC_PERP.symbol, BUY, OrderType.MARKET, 1.0), at=0)
    run(venue, 1, 9)
    assert venue.position.is_flat
    assert len(rec.liquidations) == 1
