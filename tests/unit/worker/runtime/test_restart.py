"""A live worker killed mid-order resumes without duplicating or losing the order, and
reconciliation turns what it cannot explain into ``reducing``/``halted`` with an alert.

The venue is an in-memory exchange: its state (orders by client order id, trades,
the position) outlives the worker objects that trade on it, as a real exchange outlives a
worker process. :class:`FakeLiveVenue` is one process's connection to it (the ``LiveVenue``
protocol) and can be told to die mid-order:

- ``crash="before_send"``: the process dies after the order was stored, before it was sent;
- ``crash="before_ack"``: the exchange accepted (and filled) the order, the process died before
  hearing back.

Reports reach the listener on the event loop (``call_soon``), as a real venue's would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from axis.config.specs import FailoverPolicy, TradingStrategySpec
from axis.data import Bars
from axis.domain.catalog import instrument_for
from axis.domain.enums import LiquiditySide, OrderSide, OrderType
from axis.domain.instrument import Instrument
from axis.domain.orders import Fill, Order, OrderStatus
from axis.risk.limits import TradingState
from axis.strategies import registry
from axis.strategies.base import BarView, Strategy, StrategyParams
from axis.venues.base import BalanceReport, ClosedBar, PositionReport, VenueListener
from axis.venues.failover import FailoverVenue
from axis.worker.build import WorkerOptions, build_worker, order_prefix
from axis.worker.clocks import SteppedClock
from axis.worker.feed import ReplayFeed
from axis.worker.runtime import Worker
from axis.worker.status import WorkerPhase
from axis.worker.trader import bar_at

SYMBOL = "BTC/USDT:USDT"
T0 = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)
STEP = 300_000  # 5m


class Crash(BaseException):
    """The worker process dies here (BaseException: nothing in the worker catches it)."""


class BuyOnce(Strategy):
    """Buys one contract whenever it holds nothing and has no order working (from bar 2)."""

    name = "test_buy_once"

    class Params(StrategyParams):
        quantity: float = 1.0

    params: Params

    def on_bar(self, bar: BarView) -> None:
        if bar.index >= 2 and self.position == 0 and self.engine.oms.open_count() == 0:
            self.buy(self.params.quantity, tag="entry")


class FakeExchange:
    def __init__(self, price: float = 60_000.0) -> None:
        self.price = price
        self.orders: dict[str, Order] = {}
        self.trades: list[Fill] = []
        self.position = 0.0
        self.entry = 0.0
        self.submissions = 0  # every submit call that reached the exchange
        self.balance = 10_000.0

    def accept(self, order: Order) -> Order:
        self.submissions += 1
        if order.client_order_id in self.orders:
            raise ValueError(f"duplicate client order id {order.client_order_id}")
        mine = replace(order, history=[])
        mine.status = OrderStatus.NEW
        mine.submit()
        mine.exchange_order_id = f"x{len(self.orders) + 1}"
        self.orders[mine.client_order_id] = mine
        if mine.type is OrderType.MARKET:
            self._fill(mine)
        return mine

    def _fill(self, order: Order) -> None:
        qty, price = order.quantity, self.price
        fee = qty * price * 0.0005
        order.apply_fill(qty, price, fee)
        signed = qty * order.side.sign
        new = self.position + signed
        if self.position == 0 or self.position * signed > 0:
            self.entry = (self.entry * abs(self.position) + price * qty) / abs(new)
        elif new == 0:
            self.entry = 0.0
        self.position = new
        self.trades.append(
            Fill(
                order.client_order_id,
                order.symbol,
                order.side,
                qty,
                price,
                fee,
                LiquiditySide.TAKER,
                T0,
                f"t{len(self.trades) + 1}",
            )
        )

    def at_venue(self, client_order_id: str) -> int:
        return sum(1 for cid in self.orders if cid == client_order_id)


class FakeLiveVenue:
    name = "fakex"

    def __init__(
        self, exchange: FakeExchange, crash: str | None = None, name: str = "fakex"
    ) -> None:
        self.name = name
        self.exchange = exchange
        self.crash = crash
        self.down = False  # unreachable: every query fails
        self.listener: VenueListener | None = None
        self.connected = False

    # -- LiveVenue ----------------------------------------------------------------------------
    async def connect(self, listener: VenueListener) -> None:
        self.listener = listener
        self.connected = True

    async def close(self) -> None:
        self.connected = False

    def submit(self, order: Order) -> None:
        if self.crash == "before_send":
            raise Crash("killed between stored and sent")
        accepted = self.exchange.accept(order)
        if self.crash == "before_ack":
            raise Crash("killed between sent and acknowledged")
        acknowledged = replace(accepted, status=OrderStatus.SUBMITTED, filled_qty=0.0)
        trades = [t for t in self.exchange.trades if t.client_order_id == order.client_order_id]
        loop = asyncio.get_running_loop()
        loop.call_soon(self._report, acknowledged, replace(accepted), trades)

    def _report(self, acknowledged: Order, final: Order, trades: list[Fill]) -> None:
        assert self.listener is not None
        self.listener.on_order_update(acknowledged)
        for trade in trades:
            self.listener.on_fill(final, trade)

    def cancel(self, client_order_id: str) -> None:
        order = self.exchange.orders.get(client_order_id)
        if order is not None and order.is_open:
            order.cancel()
            snapshot = replace(order)
            asyncio.get_running_loop().call_soon(self._cancelled, snapshot)

    def _cancelled(self, order: Order) -> None:
        assert self.listener is not None
        self.listener.on_order_update(order)

    def open_orders(self) -> list[Order]:
        return [o for o in self.exchange.orders.values() if o.is_open]

    async def instrument(self, symbol: str) -> Instrument:
        return instrument_for(symbol)

    async def fetch_order(self, symbol: str, client_order_id: str) -> Order | None:
        order = self.exchange.orders.get(client_order_id)
        return None if order is None else replace(order)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]:
        return [replace(o) for o in self.open_orders()]

    async def fetch_positions(self) -> list[PositionReport]:
        if self.down:
            raise ConnectionError(f"{self.name} unreachable")
        ex = self.exchange
        if ex.position == 0:
            return []
        return [PositionReport(SYMBOL, ex.position, ex.entry, 2.0, "isolated", None, 0.0, ex.price)]

    async def fetch_balances(self) -> list[BalanceReport]:
        if self.down:
            raise ConnectionError(f"{self.name} unreachable")
        total = self.exchange.balance
        return [BalanceReport("USDT", total, total, 0.0)]

    async def fetch_my_trades(self, symbol: str, since_ms: int | None = None) -> list[Fill]:
        return list(self.exchange.trades)

    async def set_leverage(self, symbol: str, leverage: float) -> None:
        return None

    async def set_margin_mode(self, symbol: str, mode: str) -> None:
        return None

    def healthy(self) -> bool:
        return self.connected and not self.down


def synthetic_bars(n: int, start: int = T0, price: float = 60_000.0) -> Bars:
    """``n`` quiet 5m bars around ``price`` (a gentle sine, so nothing triggers by accident)."""
    close = price * (1 + 0.001 * np.sin(np.arange(n) / 5))
    return Bars(
        SYMBOL,
        "5m",
        start + STEP * np.arange(n, dtype=np.int64),
        close,
        close * 1.0005,
        close * 0.9995,
        close,
        np.full(n, 100.0),
    )


@pytest.fixture
def buy_once() -> Iterator[type[BuyOnce]]:
    registry.BUILTIN[BuyOnce.name] = BuyOnce
    yield BuyOnce
    registry.BUILTIN.pop(BuyOnce.name, None)


BARS = synthetic_bars(12)


def live_spec() -> TradingStrategySpec:
    return TradingStrategySpec.model_validate(
        {
            "strategy": BuyOnce.name,
            "mode": "live",
            "symbols": [SYMBOL],
            "connectors": ["fakex"],
            "leverage": 2,
        }
    )


def live_worker(venue: FakeLiveVenue, db: Path) -> Worker:
    return build_worker(
        live_spec(),
        WorkerOptions(name="crash-test", database_url=f"sqlite:///{db}"),
        live_venue=venue,
        feed=ReplayFeed(BARS),
        clock=SteppedClock(T0),
        start_ms=T0 + STEP,
        instrument=instrument_for(SYMBOL),
    )


async def trade_until_crash(worker: Worker) -> int:
    await worker._start()
    for i in range(len(BARS)):
        try:
            worker.on_bar(bar_at(BARS, i))
        except Crash:
            return i
        await asyncio.sleep(0)
    raise AssertionError("the worker never sent an order")


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.mark.parametrize("crash", ["before_send", "before_ack"])
def test_restart_after_a_crash_mid_order_leaves_exactly_one_order(
    crash: str, tmp_path: Path, buy_once: type[BuyOnce]
) -> None:
    db = tmp_path / "worker.db"
    exchange = FakeExchange()

    async def scenario() -> None:
        first = live_worker(FakeLiveVenue(exchange, crash=crash), db)
        crashed_at = await trade_until_crash(first)
        stored = first.store.all_orders()
        assert [o.status for o in stored] == [OrderStatus.NEW]  # stored before it was sent
        order_id = stored[0].client_order_id
        assert order_id.startswith(order_prefix("crash-test"))
        assert exchange.submissions == (0 if crash == "before_send" else 1)

        second = live_worker(FakeLiveVenue(exchange), db)
        await second._start()
        await settle()
        report = second.last_reconcile
        assert report is not None
        assert report.discrepancies == []
        if crash == "before_send":
            assert report.resubmitted == [order_id]
        else:
            assert report.resubmitted == []
            assert report.adopted == [order_id]
        # Exactly one order at the venue, under the journaled id, sent exactly once.
        assert list(exchange.orders) == [order_id]
        assert exchange.submissions == 1
        assert exchange.position == 1.0
        assert second.engine.position_qty() == 1.0
        journal = second.store.all_orders()
        assert [(o.client_order_id, o.status, o.filled_qty) for o in journal] == [
            (order_id, OrderStatus.FILLED, 1.0)
        ]
        # Trading on: the strategy holds its position and sends nothing more.
        for i in range(crashed_at + 1, len(BARS)):
            second.on_bar(bar_at(BARS, i))
            await settle()
        assert list(exchange.orders) == [order_id]
        assert len(second.store.all_orders()) == 1
        assert second.engine.trading_state is TradingState.ACTIVE

    asyncio.run(scenario())


def test_new_ids_continue_after_the_journal(tmp_path: Path, buy_once: type[BuyOnce]) -> None:
    db = tmp_path / "worker.db"
    exchange = FakeExchange()

    async def scenario() -> None:
        first = live_worker(FakeLiveVenue(exchange, crash="before_ack"), db)
        await trade_until_crash(first)
        exchange.position = 0.0  # someone closed it by hand; the order stays filled
        second = live_worker(FakeLiveVenue(exchange), db)
        await second._start()
        second.on_bar(bar_at(BARS, 3))
        await settle()
        ids = sorted(exchange.orders)
        assert len(ids) == 2
        assert ids[0].endswith("-0000000001")
        assert ids[1].endswith("-0000000002")

    asyncio.run(scenario())


def _foreign_order(prefix: str) -> Order:
    order = Order(f"{prefix}-0000000099", SYMBOL, OrderSide.BUY, OrderType.LIMIT, 1.0, price=1.0)
    order.submit()
    return order


def test_an_unknown_order_of_ours_at_the_venue_halts_and_alerts(
    tmp_path: Path, buy_once: type[BuyOnce]
) -> None:
    exchange = FakeExchange()
    exchange.orders["x"] = _foreign_order(order_prefix("crash-test"))

    async def scenario() -> None:
        worker = live_worker(FakeLiveVenue(exchange), tmp_path / "w.db")
        from axis.observability.alerts import add_sink, remove_sink

        alerts: list[str] = []
        sink = lambda alert: alerts.append(alert.kind)  # noqa: E731
        add_sink(sink)
        try:
            await worker._start()
        finally:
            remove_sink(sink)
        assert worker.engine.trading_state is TradingState.HALTED
        assert worker.phase is WorkerPhase.HALTED
        assert alerts == ["trading_halted"]
        assert worker.metrics.registry.get_sample_value("axis_trading_state") == 2
        # Halted: the strategy's entry is vetoed, nothing reaches the exchange.
        for i in range(4):
            worker.on_bar(bar_at(BARS, i))
        await settle()
        assert exchange.submissions == 0
        assert worker.metrics.registry.get_sample_value("axis_risk_vetoes_total") == 2

    asyncio.run(scenario())


def test_the_book_starts_from_the_venue_balance(tmp_path: Path, buy_once: type[BuyOnce]) -> None:
    exchange = FakeExchange()
    exchange.balance = 12_345.0

    async def scenario() -> None:
        worker = live_worker(FakeLiveVenue(exchange), tmp_path / "w.db")
        await worker._start()
        worker.on_bar(bar_at(BARS, 0))
        assert worker.engine.portfolio.wallet == 12_345.0
        assert worker.status().equity == 12_345.0

    asyncio.run(scenario())


def test_an_acknowledged_order_the_venue_lost_moves_to_reducing(
    tmp_path: Path, buy_once: type[BuyOnce]
) -> None:
    exchange = FakeExchange()

    async def scenario() -> None:
        worker = live_worker(FakeLiveVenue(exchange), tmp_path / "w.db")
        await worker._start()
        for i in range(3):
            worker.on_bar(bar_at(BARS, i))
        await settle()
        assert exchange.position == 1.0
        resting = Order(
            f"{order_prefix('crash-test')}-0000000050",
            SYMBOL,
            OrderSide.SELL,
            OrderType.LIMIT,
            1.0,
            price=70_000.0,
        )
        resting.submit()
        worker.engine.oms.orders[resting.client_order_id] = resting
        worker.engine.oms.open[resting.client_order_id] = resting
        await worker.reconcile_job(T0)
        assert worker.engine.trading_state is TradingState.REDUCING
        kinds = [d.kind for d in worker.last_reconcile.discrepancies]  # type: ignore[union-attr]
        assert kinds == ["missing_order"]

    asyncio.run(scenario())


def test_a_position_the_book_cannot_explain_halts(tmp_path: Path, buy_once: type[BuyOnce]) -> None:
    exchange = FakeExchange()

    async def scenario() -> None:
        worker = live_worker(FakeLiveVenue(exchange), tmp_path / "w.db")
        await worker._start()
        for i in range(3):
            worker.on_bar(bar_at(BARS, i))
        await settle()
        await worker.reconcile_job(T0)
        assert worker.engine.trading_state is TradingState.ACTIVE
        exchange.position = 3.0  # a manual trade on the account
        await worker.reconcile_job(T0)
        assert worker.engine.trading_state is TradingState.HALTED
        assert worker.status().to_json()["tradingState"] == "halted"

    asyncio.run(scenario())


@pytest.mark.parametrize("flatten", [False, True])
def test_live_drain_cancels_entries_and_keeps_or_clears_the_stop(
    flatten: bool, tmp_path: Path, buy_once: type[BuyOnce]
) -> None:
    exchange = FakeExchange()

    async def scenario() -> None:
        worker = live_worker(FakeLiveVenue(exchange), tmp_path / "w.db")
        await worker._start()
        for i in range(3):
            worker.on_bar(bar_at(BARS, i))
        await settle()
        assert exchange.position == 1.0
        engine = worker.engine
        entry = engine.place_order(OrderSide.BUY, 1.0, type=OrderType.LIMIT, price=50_000.0)
        stop = engine.place_order(
            OrderSide.SELL,
            1.0,
            type=OrderType.STOP_MARKET,
            trigger_price=55_000.0,
            reduce_only=True,
            tag="stop_loss",
        )
        await settle()
        worker.request_drain(flatten=flatten)
        for _ in range(3):
            await settle()
            worker._drain_step()
        cancels = exchange.orders
        assert cancels[entry.client_order_id].status is OrderStatus.CANCELLED
        assert worker.drain.value == "done"
        assert engine.trading_state is TradingState.REDUCING
        if flatten:
            assert exchange.position == 0.0
            assert engine.position().is_flat
            assert cancels[stop.client_order_id].status is OrderStatus.CANCELLED
        else:
            assert exchange.position == 1.0
            assert cancels[stop.client_order_id].status is OrderStatus.SUBMITTED
        assert sum(o.status is OrderStatus.CANCELLED for o in exchange.orders.values()) == (
            2 if flatten else 1
        )

    asyncio.run(scenario())


def test_paper_mode_on_a_live_feed_trades_on_the_simulated_exchange(
    tmp_path: Path, buy_once: type[BuyOnce]
) -> None:
    spec = TradingStrategySpec.model_validate(
        {
            "strategy": BuyOnce.name,
            "params": {"quantity": 0.1},  # 6,000 of notional on 10,000 of capital
            "symbols": [SYMBOL],
            "data": {"source": "live"},
        }
    )

    async def feed() -> AsyncIterator[ClosedBar]:
        for i in range(6):
            yield bar_at(BARS, i)

    class Feed:
        def __aiter__(self) -> AsyncIterator[ClosedBar]:
            return feed()

    worker = build_worker(
        spec,
        WorkerOptions(name="paper-live", database_url=f"sqlite:///{tmp_path / 'w.db'}"),
        feed=Feed(),
        clock=SteppedClock(T0),
        start_ms=T0 + STEP,
    )
    status = asyncio.run(worker.run())
    assert status.mode == "paper"
    assert status.bars_processed == 6
    assert worker.engine.venue.name == "simulated"
    # Bought at bar 2's close, filled at bar 3's open on the simulated exchange.
    [(_, fill)] = worker.engine.fills
    assert fill.quantity == 0.1
    assert fill.timestamp == int(BARS.timestamp[3])
    assert worker.store.all_orders()[0].status is OrderStatus.FILLED
    assert worker.engine.position_qty() == 0.1


def test_a_failover_group_reports_each_venue_and_a_mirror_resets_the_book(
    tmp_path: Path, buy_once: type[BuyOnce]
) -> None:
    primary, secondary = FakeExchange(), FakeExchange()
    a = FakeLiveVenue(primary, name="venue-a")
    b = FakeLiveVenue(secondary, name="venue-b")
    group = FailoverVenue(
        [a, b], FailoverPolicy.MIRROR, heartbeat_s=None, flat_polls=1, flat_poll_delay_s=0.0
    )
    spec = TradingStrategySpec.model_validate(
        {
            "strategy": BuyOnce.name,
            "mode": "live",
            "symbols": [SYMBOL],
            "connectors": ["venue-a", "venue-b"],
            "failover": "mirror",
            "leverage": 2,
        }
    )

    async def scenario() -> None:
        worker = build_worker(
            spec,
            WorkerOptions(name="fo-worker", database_url=f"sqlite:///{tmp_path / 'w.db'}"),
            live_venue=group,
            feed=ReplayFeed(BARS),
            clock=SteppedClock(T0),
            start_ms=T0 + STEP,
            instrument=instrument_for(SYMBOL),
        )
        await worker._start()
        for i in range(3):
            worker.on_bar(bar_at(BARS, i))
            await settle()
        assert primary.position == 1.0
        venues = [(v.name, v.healthy) for v in worker.status().venues]
        assert venues == [("venue-a", True), ("venue-b", True)]
        # venue-a becomes unreachable: the group mirrors the exposure onto venue-b.
        a.down = True
        group.breaker("venue-a").trip("test outage")
        await group.check()
        for _ in range(10):
            await settle()
        assert secondary.position == 1.0
        assert worker.engine.position_qty() == 1.0  # the book holds one position, not two
        assert [(v.name, v.healthy) for v in worker.status().venues] == [
            ("venue-a", False),
            ("venue-b", True),
        ]
        await worker.reconcile_job(T0)
        assert worker.engine.trading_state is TradingState.ACTIVE
        # The strategy, holding its position, sends nothing more to either venue.
        for i in range(3, 6):
            worker.on_bar(bar_at(BARS, i))
            await settle()
        assert len(primary.orders) == 1
        assert len(secondary.orders) == 1

    asyncio.run(scenario())


def test_a_worker_on_live_data_starts_warm_from_history(
    tmp_path: Path, buy_once: type[BuyOnce]
) -> None:
    spec = TradingStrategySpec.model_validate(
        {
            "strategy": BuyOnce.name,
            "params": {"quantity": 0.1},
            "symbols": [SYMBOL],
            "data": {"source": "live"},
        }
    )
    history = [bar_at(BARS, i) for i in range(4)]

    class Feed:
        def __aiter__(self) -> AsyncIterator[ClosedBar]:
            async def bars() -> AsyncIterator[ClosedBar]:
                for i in range(4, 7):
                    yield bar_at(BARS, i)

            return bars()

    worker = build_worker(
        spec,
        WorkerOptions(name="warm", database_url=f"sqlite:///{tmp_path / 'w.db'}"),
        feed=Feed(),
        clock=SteppedClock(T0),
        start_ms=T0 + 5 * STEP,
        history=history,
    )
    assert worker.trader.grid.timestamp[0] == T0  # the grid starts with the history
    assert worker.trader.index == 3
    status = asyncio.run(worker.run())
    assert status.bars_processed == 7
    # The first traded bar (4) decides at once; its order fills at bar 5's open.
    [(order, fill)] = worker.engine.fills
    assert order.created_at == int(BARS.timestamp[4])
    assert fill.timestamp == int(BARS.timestamp[5])
