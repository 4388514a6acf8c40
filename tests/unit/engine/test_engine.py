"""The engine on small hand-made bars: protective orders after an entry fill, the partial
take-profit, the kill switch, the order journal's write-ahead, deterministic client order ids,
risk vetoes becoming rejected orders, and the strategy hooks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from axis.data import Bars
from axis.domain.catalog import instrument_for
from axis.domain.enums import MarketType, OrderSide, OrderType
from axis.domain.orders import Fill, Order, OrderStatus
from axis.engine.engine import Engine
from axis.engine.oms import MemoryJournal, client_order_id
from axis.risk.limits import RiskLimits, limits_for
from axis.strategies.base import BarView, Signals, Strategy
from axis.venues.simulated import SimulationSettings

PERP = "BTC/USDT:USDT"  # Binance: tick 0.1, lot 0.001, taker 0.05%, min notional 100
H = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
NO_COSTS = SimulationSettings(slippage=0.0, funding_rate=0.0)


def make_bars(rows: Sequence[tuple[float, float, float, float]], volume: float = 1_000.0) -> Bars:
    a = np.array(rows, dtype=float)
    return Bars(
        PERP,
        "1h",
        T0 + H * np.arange(len(rows), dtype=np.int64),
        a[:, 0].copy(),
        a[:, 1].copy(),
        a[:, 2].copy(),
        a[:, 3].copy(),
        np.full(len(rows), volume),
    )


def flat(price: float, n: int) -> list[tuple[float, float, float, float]]:
    return [(price, price + 10.0, price - 10.0, price)] * n


class Recorder(Strategy):
    """Runs ``script[i](self)`` at the close of bar ``i`` and records every hook call."""

    name = "recorder"
    market_type = MarketType.LINEAR_PERPETUAL

    def __init__(
        self,
        script: dict[int, Callable[[Recorder], object]],
        on_start: Callable[[Recorder], object] | None = None,
    ) -> None:
        super().__init__()
        self.script = script
        self._start = on_start
        self.calls: list[str] = []
        self.fills: list[Fill] = []
        self.updates: list[tuple[str, OrderStatus]] = []
        self.timers: list[tuple[str, int]] = []
        self.results: dict[str, Any] = {}

    def on_start(self) -> None:
        self.calls.append("start")
        if self._start is not None:
            self._start(self)

    def on_bar(self, bar: BarView) -> None:
        action = self.script.get(bar.index)
        if action is not None:
            action(self)

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)

    def on_order_update(self, order: Order) -> None:
        self.updates.append((order.client_order_id, order.status))

    def on_timer(self, name: str, timestamp: int) -> None:
        self.timers.append((name, timestamp))

    def on_stop(self) -> None:
        self.calls.append("stop")


def run(
    strategy: Strategy,
    bars: Bars,
    *,
    leverage: float = 5.0,
    balance: float = 10_000.0,
    limits: RiskLimits | None = None,
    settings: SimulationSettings = NO_COSTS,
    **kwargs: Any,
) -> Engine:
    engine = Engine(
        strategy,
        instrument_for(PERP),
        bars,
        initial_balance=balance,
        leverage=leverage,
        limits=limits or limits_for("balanced"),
        settings=settings,
        **kwargs,
    )
    engine.run()
    return engine


def by_tag(engine: Engine, tag: str) -> list[Order]:
    return [o for o in engine.oms.orders.values() if o.tag == tag]


def ts(bars: Bars, i: int) -> int:
    return int(bars.timestamp[i])


def enter(exposure: float, **kw: float) -> Callable[[Recorder], object]:
    return lambda s: s.target_exposure(exposure, **kw)


PROTECT = {"stop_loss": 0.02, "take_profit": 0.04, "take_profit_fraction": 0.5}

# Entry at bar 1's open (60,003.7); the take-profit is reached in bar 2, the stop in bar 3.
ROUND_TRIP = make_bars(
    [
        (60_000.0, 60_010.0, 59_990.0, 60_000.0),
        (60_003.7, 60_100.0, 59_900.0, 60_050.0),
        (60_050.0, 63_000.0, 60_000.0, 62_500.0),
        (62_500.0, 62_600.0, 58_000.0, 58_500.0),
        (58_500.0, 58_600.0, 58_400.0, 58_500.0),
    ]
)


# -- protective orders ------------------------------------------------------------------------


def test_long_entry_gets_stop_loss_and_take_profit_at_rounded_prices() -> None:
    engine = run(Recorder({0: enter(1.0, **PROTECT)}), ROUND_TRIP)
    (entry,) = by_tag(engine, "entry")
    # 10,000 / (60,000 × (1/5 + 0.0005)) = 0.8312 → 0.831, filled at bar 1's open.
    assert (entry.quantity, entry.avg_fill_price, entry.status) == (
        0.831,
        60_003.7,
        OrderStatus.FILLED,
    )
    (stop,) = by_tag(engine, "stop_loss")
    (take,) = by_tag(engine, "take_profit")
    # Stop: 60,003.7 × 0.98 = 58,803.626 rounds UP to 58,803.7 (fires no later than asked).
    # Take-profit: 60,003.7 × 1.04 = 62,403.848 rounds DOWN to 62,403.8.
    assert (stop.type, stop.side, stop.trigger_price, stop.quantity) == (
        OrderType.STOP_MARKET,
        OrderSide.SELL,
        58_803.7,
        0.831,
    )
    assert (take.type, take.side, take.trigger_price, take.quantity) == (
        OrderType.TAKE_PROFIT,
        OrderSide.SELL,
        62_403.8,
        0.415,  # 50% of 0.831, rounded down to the lot
    )
    assert stop.reduce_only
    assert take.reduce_only
    # Placed inside the bar of the entry fill, not a bar later.
    assert stop.created_at == take.created_at == ts(ROUND_TRIP, 1)


def test_short_entry_protective_prices_round_the_other_way() -> None:
    bars = make_bars([(60_003.7, 60_010.0, 59_990.0, 60_003.7)] * 3)
    engine = run(Recorder({0: enter(-1.0, **PROTECT)}), bars)
    (stop,) = by_tag(engine, "stop_loss")
    (take,) = by_tag(engine, "take_profit")
    # Stop: 60,003.7 × 1.02 = 61,203.774 rounds DOWN; take-profit 57,603.552 rounds UP.
    assert (stop.side, stop.trigger_price) == (OrderSide.BUY, 61_203.7)
    assert (take.side, take.trigger_price, take.quantity) == (OrderSide.BUY, 57_603.6, 0.415)
    assert engine.position_qty() == pytest.approx(-0.831)


def test_take_profit_closes_its_fraction_and_the_stop_closes_the_rest() -> None:
    strategy = Recorder({0: enter(1.0, **PROTECT)})
    engine = run(strategy, ROUND_TRIP)
    (stop,) = by_tag(engine, "stop_loss")
    (take,) = by_tag(engine, "take_profit")
    assert (take.status, take.filled_qty, take.avg_fill_price) == (
        OrderStatus.FILLED,
        0.415,
        62_403.8,
    )
    # The stop was sized for the whole position; reduce-only, it closes only what is left.
    assert (stop.filled_qty, stop.avg_fill_price) == (pytest.approx(0.416), 58_803.7)
    assert not stop.is_open
    assert engine.position_qty() == 0.0
    # Realised: 0.415 × 2,400.1 - 0.416 × 1,200 = 496.8415; fees 0.05% of each fill's notional.
    fees = 0.0005 * (0.831 * 60_003.7 + 0.415 * 62_403.8 + 0.416 * 58_803.7)
    assert engine.portfolio.realized_pnl == pytest.approx(496.8415)
    assert engine.portfolio.fees_paid == pytest.approx(fees)
    assert engine.portfolio.wallet == pytest.approx(10_000.0 + 496.8415 - fees)
    fills = [(f.quantity, f.price) for f in strategy.fills]
    assert fills == [(0.831, 60_003.7), (0.415, 62_403.8), (pytest.approx(0.416), 58_803.7)]


def test_stop_first_closes_everything_and_the_take_profit_is_cancelled() -> None:
    bars = make_bars(
        [
            (60_000.0, 60_010.0, 59_990.0, 60_000.0),
            (60_003.7, 60_100.0, 59_900.0, 60_050.0),
            (60_050.0, 60_100.0, 58_000.0, 58_500.0),
            (58_500.0, 63_000.0, 58_400.0, 62_900.0),
        ]
    )
    engine = run(Recorder({0: enter(1.0, **PROTECT)}), bars)
    (stop,) = by_tag(engine, "stop_loss")
    (take,) = by_tag(engine, "take_profit")
    assert (stop.status, stop.filled_qty) == (OrderStatus.FILLED, 0.831)
    assert (take.status, take.filled_qty) == (OrderStatus.CANCELLED, 0.0)
    assert engine.position_qty() == 0.0


def test_protection_covers_an_entry_filled_over_several_bars() -> None:
    # Volume 1 contract a bar and a 50% participation cap: the entry fills 0.5, then 0.331.
    bars = make_bars(flat(60_000.0, 5), volume=1.0)
    settings = SimulationSettings(slippage=0.0, funding_rate=0.0, participation_cap=0.5)
    engine = run(Recorder({0: enter(1.0, **PROTECT)}), bars, settings=settings)
    assert engine.position_qty() == pytest.approx(0.831)
    open_stops = [o for o in by_tag(engine, "stop_loss") if o.is_open]
    assert [o.quantity for o in open_stops] == [0.831]


# -- kill switch ------------------------------------------------------------------------------


def test_halt_vetoes_new_risk_but_lets_a_close_through() -> None:
    def halt_then_trade(s: Recorder) -> None:
        s.engine.halt("kill switch")
        s.results["add"] = s.buy(0.01)
        s.results["close"] = s.close_position()

    strategy = Recorder(
        {
            0: enter(1.0),
            2: halt_then_trade,
            4: lambda s: s.results.setdefault("reenter", s.target_exposure(1.0)),
        }
    )
    bars = make_bars(flat(60_000.0, 6))
    engine = run(strategy, bars)
    add, close, reenter = (strategy.results[k] for k in ("add", "close", "reenter"))
    assert add.status is OrderStatus.REJECTED
    assert add.reject_reason == "trading_state: trading is halted"
    assert close.status is OrderStatus.FILLED
    assert (close.side, close.quantity, close.reduce_only) == (OrderSide.SELL, 0.831, True)
    assert reenter.status is OrderStatus.REJECTED
    assert reenter.reject_reason == "trading_state: trading is halted"
    assert engine.position_qty() == 0.0
    assert {"type": "halt", "timestamp": ts(bars, 2), "reason": "kill switch"} in engine.events
    # The strategy heard about both rejections.
    assert (add.client_order_id, OrderStatus.REJECTED) in strategy.updates
    assert (reenter.client_order_id, OrderStatus.REJECTED) in strategy.updates
    vetoed = {oid: d.rule for oid, d in engine.oms.decisions}
    assert vetoed == {
        add.client_order_id: "trading_state",
        reenter.client_order_id: "trading_state",
    }


def test_a_vetoed_entry_becomes_a_rejected_order_with_the_rule_and_reason() -> None:
    # Balanced profile, 10x: 1.658 BTC at 60,000 (99,480 of notional, second bracket: MMR
    # 0.5%, maintenance amount 50) would be liquidated at 54,241.05, only 9.60% away.
    engine = run(Recorder({0: enter(1.0)}), make_bars(flat(60_000.0, 3)), leverage=10.0)
    (entry,) = by_tag(engine, "entry")
    assert entry.status is OrderStatus.REJECTED
    assert entry.quantity == 1.658
    liq = (1.658 * 60_000.0 * 0.9 - 50.0) / (1.658 * 0.995)
    assert liq == pytest.approx(54_241.05, abs=0.01)
    distance = (60_000.0 - liq) / 60_000.0
    assert entry.reject_reason == (
        f"min_liquidation_distance: Liquidation distance {distance:.2%} < 15%"
    )
    assert entry.reject_reason.endswith("9.60% < 15%")
    ((oid, decision),) = engine.oms.decisions
    assert oid == entry.client_order_id
    assert decision.details["liquidation_price"] == pytest.approx(liq)
    assert engine.oms.journal.entries == [(entry.client_order_id, "rejected")]  # type: ignore[attr-defined]
    assert engine.position_qty() == 0.0


# -- order journal and ids --------------------------------------------------------------------


def test_journal_writes_ahead_before_the_order_is_submitted() -> None:
    journal = MemoryJournal()
    engine = run(Recorder({0: enter(1.0, **PROTECT)}), ROUND_TRIP, journal=journal)
    entries = journal.entries
    assert len(engine.oms.orders) == 3
    for oid in engine.oms.orders:
        states = [state for order_id, state in entries if order_id == oid]
        assert states[:2] == ["write_ahead", "submitted"]
        assert entries.index((oid, "write_ahead")) < entries.index((oid, "submitted"))
    assert entries[:3] == [
        ("axis-0000000001", "write_ahead"),
        ("axis-0000000001", "submitted"),
        ("axis-0000000001", "filled"),
    ]


def _summary(engine: Engine) -> list[tuple[str, str, OrderStatus, float, float]]:
    return [
        (o.client_order_id, o.tag, o.status, o.filled_qty, o.avg_fill_price)
        for o in engine.oms.orders.values()
    ]


def test_client_order_ids_are_deterministic_across_identical_runs() -> None:
    first = run(Recorder({0: enter(1.0, **PROTECT)}), ROUND_TRIP, order_prefix="bt-recorder-7")
    second = run(Recorder({0: enter(1.0, **PROTECT)}), ROUND_TRIP, order_prefix="bt-recorder-7")
    assert _summary(first) == _summary(second)
    assert list(first.oms.orders) == [
        "bt-recorder-7-0000000001",
        "bt-recorder-7-0000000002",
        "bt-recorder-7-0000000003",
    ]
    assert [o.tag for o in first.oms.orders.values()] == ["entry", "stop_loss", "take_profit"]
    assert first.oms.journal.entries == second.oms.journal.entries  # type: ignore[attr-defined]


def test_client_order_id_format_fits_every_exchange() -> None:
    oid = client_order_id("a-very-long-strategy-prefix-name", 42)
    assert oid == "a-very-long-strategy-pre-0000000042"
    assert len(oid) <= 36


# -- hooks ------------------------------------------------------------------------------------


def test_strategy_hooks_are_called() -> None:
    strategy = Recorder(
        {0: enter(1.0), 3: lambda s: s.close_position()},
        on_start=lambda s: s.schedule("tick", 2 * H),
    )
    bars = make_bars(flat(60_000.0, 6))
    engine = run(strategy, bars)
    assert strategy.calls == ["start", "stop"]
    assert strategy.timers == [("tick", ts(bars, 2)), ("tick", ts(bars, 4))]
    entry, close = engine.oms.orders
    assert [(f.client_order_id, f.side, f.quantity, f.price) for f in strategy.fills] == [
        (entry, OrderSide.BUY, 0.831, 60_000.0),
        (close, OrderSide.SELL, 0.831, 60_000.0),
    ]
    assert [f.timestamp for f in strategy.fills] == [ts(bars, 1), ts(bars, 4)]
    assert strategy.updates == [
        (entry, OrderStatus.SUBMITTED),
        (entry, OrderStatus.FILLED),
        (close, OrderStatus.SUBMITTED),
        (close, OrderStatus.FILLED),
    ]


def test_timer_period_must_be_positive() -> None:
    engine = Engine(
        Recorder({}),
        instrument_for(PERP),
        make_bars(flat(60_000.0, 2)),
        initial_balance=1_000.0,
        leverage=1.0,
        limits=limits_for("balanced"),
    )
    with pytest.raises(ValueError, match="a timer's period must be positive"):
        engine.schedule("tick", 0)


# -- the replay of a signal strategy ----------------------------------------------------------


class Follower(Strategy):
    """Follows a precomputed target through the default ``on_bar``, with protective orders on
    every entry and a timer."""

    name = "follower"
    market_type = MarketType.LINEAR_PERPETUAL

    def __init__(self, target: np.ndarray) -> None:
        super().__init__()
        self.target = target
        self.ticks: list[int] = []

    def signals(self, bars: Bars) -> Signals:
        return Signals(self.target, stop_loss=0.015, take_profit=0.012, take_profit_fraction=0.5)

    def on_start(self) -> None:
        self.schedule("tick", 7 * H)

    def on_timer(self, name: str, timestamp: int) -> None:
        self.ticks.append(timestamp)


class FollowerEveryBar(Follower):
    """The same strategy with an ``on_bar`` of its own: the engine then visits every bar."""

    def on_bar(self, bar: BarView) -> None:
        super().on_bar(bar)


def test_a_signal_strategy_skipping_idle_bars_trades_exactly_as_one_visiting_every_bar() -> None:
    rng = np.random.default_rng(7)
    n = 600
    close = 60_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.006, n)))
    opens = np.r_[close[0], close[:-1]]
    spread = np.abs(rng.normal(0.0, 0.004, n)) * close
    bars = make_bars(
        list(
            zip(opens, np.maximum(opens, close) + spread, np.minimum(opens, close) - spread, close)
        )
    )
    # Sparse targets (long, flat, short, NaN in between), with idle stretches to skip.
    target = np.full(n, np.nan)
    for i in range(5, n, 37):
        target[i] = (1.0, 0.0, -0.5, 0.0)[(i // 37) % 4]
    skipping = run(Follower(target), bars, settings=SimulationSettings(slippage=0.0005))
    visiting = run(FollowerEveryBar(target), bars, settings=SimulationSettings(slippage=0.0005))

    def fills(engine: Engine) -> list[tuple[int, OrderSide, float, float, float, str]]:
        return [(f.timestamp, f.side, f.quantity, f.price, f.fee, o.tag) for o, f in engine.fills]

    tags = {tag for *_, tag in fills(skipping)}
    assert {"entry", "stop_loss", "take_profit"} <= tags  # protective orders were in play
    assert fills(skipping) == fills(visiting)
    assert np.array_equal(skipping.curve.equity, visiting.curve.equity)
    assert np.array_equal(skipping.curve.exposure, visiting.curve.exposure)
    assert skipping.events == visiting.events
    assert skipping.oms.journal.entries == visiting.oms.journal.entries  # type: ignore[attr-defined]
    assert [t.pnl for t in skipping.trades.trades] == [t.pnl for t in visiting.trades.trades]
    assert skipping.strategy.ticks == visiting.strategy.ticks  # type: ignore[attr-defined]
    assert len(skipping.strategy.ticks) == (n - 1) // 7  # type: ignore[attr-defined]
    assert skipping.index == visiting.index == n - 1
