"""FailoverVenue driven through injected outages on scripted venues (Binance, then Bybit): each
policy's outcome on the books of both venues, new risk stopped while it must be, and every
transition logged, stored (the real store, SQLite) and alerted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fakes import FakeClock, RecordingListener, ScriptedVenue
from structlog.testing import capture_logs

from axis.config.specs import FailoverPolicy
from axis.domain.enums import Exchange, OrderSide, OrderType
from axis.domain.orders import Order, OrderStatus
from axis.engine.oms import MemoryJournal
from axis.observability.alerts import Alert, add_sink, remove_sink
from axis.store import Database, VenueEventRecorder, VenueEventRepository
from axis.venues.breaker import BreakerConfig, BreakerState
from axis.venues.errors import OrderRejected, RejectKind, VenueUnavailable
from axis.venues.failover import (
    FailoverEvent,
    FailoverOutcome,
    FailoverVenue,
    VenueTransition,
    reject_is_outage,
)

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
PRICES = {BTC: 60_000.0, ETH: 3_000.0}


@pytest.fixture
def alerts() -> Iterator[list[Alert]]:
    raised: list[Alert] = []
    add_sink(raised.append)
    yield raised
    remove_sink(raised.append)


async def _no_sleep(_seconds: float) -> None:
    return None


@dataclass
class Desk:
    """Two scripted venues behind a FailoverVenue, and everything it reports."""

    clock: FakeClock
    binance: ScriptedVenue
    bybit: ScriptedVenue
    venue: FailoverVenue
    listener: RecordingListener
    events: list[FailoverEvent] = field(default_factory=list)
    stored: list[VenueTransition] = field(default_factory=list)
    journal: MemoryJournal = field(default_factory=MemoryJournal)
    sequence: int = 0

    def order(self, side: OrderSide, quantity: float, *, reduce_only: bool = False) -> Order:
        self.sequence += 1
        order = Order(
            f"strat-{self.sequence:04d}",
            BTC,
            side,
            OrderType.MARKET,
            quantity,
            reduce_only=reduce_only,
        )
        self.venue.submit(order)
        return order

    def outcomes(self) -> list[FailoverOutcome]:
        return [e.outcome for e in self.events]

    def breaker_moves(self, venue: str) -> list[tuple[str, str]]:
        return [
            (t.from_state, t.to_state)
            for t in self.stored
            if t.kind == "breaker" and t.venue == venue
        ]


async def _desk(
    policy: FailoverPolicy,
    *,
    bybit_contract_size: float = 1.0,
    timeout_s: float = 10.0,
    store: Callable[[VenueTransition], None] | None = None,
) -> Desk:
    clock = FakeClock()
    binance = ScriptedVenue("binance", clock, prices=dict(PRICES))
    bybit = ScriptedVenue(
        "bybit",
        clock,
        exchange=Exchange.BYBIT,
        prices=dict(PRICES),
        contract_size=bybit_contract_size,
    )
    stored: list[VenueTransition] = []
    journal = MemoryJournal()

    def record(transition: VenueTransition) -> None:
        stored.append(transition)
        if store is not None:
            store(transition)

    venue = FailoverVenue(
        [binance, bybit],
        policy,
        breaker=BreakerConfig(failure_threshold=2, latency_threshold_s=1.0, cool_down_s=30.0),
        clock=clock,
        call_timeout_s=timeout_s,
        recorder=record,
        journal=journal,
        heartbeat_s=None,  # the tests run check() themselves
        flat_poll_delay_s=0.0,
        sleep=_no_sleep,
    )
    listener = RecordingListener()
    desk = Desk(clock, binance, bybit, venue, listener, stored=stored, journal=journal)
    venue.on_failover(desk.events.append)
    await venue.connect(listener)
    return desk


async def _fail_twice(desk: Desk) -> None:
    """Two failed reads on the active venue: the breaker (threshold 2) opens."""
    for _ in range(2):
        with pytest.raises(VenueUnavailable):  # whatever the venue raised, in the taxonomy
            await desk.venue.fetch_balances()
    await desk.venue.settle()


# -- halt ---------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_halt_stops_new_risk_until_the_venue_answers_again(
    tmp_path: Path, alerts: list[Alert]
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'axis.db'}")
    db.upgrade()
    desk = await _desk(FailoverPolicy.HALT, store=VenueEventRecorder(db, "trend-btc"))
    desk.order(OrderSide.BUY, 0.5)
    assert desk.binance.net(BTC) == 0.5

    with capture_logs() as logs:
        desk.binance.fail()
        await _fail_twice(desk)
    assert desk.outcomes() == [FailoverOutcome.HALTED]
    assert not desk.venue.accepting_risk
    assert desk.venue.active_name == "binance"  # halt never moves
    assert desk.venue.venue_health() == [
        {"name": "binance", "healthy": False, "breaker": "open", "active": True},
        {"name": "bybit", "healthy": True, "breaker": "closed", "active": False},
    ]
    assert not desk.venue.healthy()

    entry = desk.order(OrderSide.BUY, 0.1)
    assert entry.status is OrderStatus.REJECTED
    assert entry.reject_reason.startswith("failover: new risk stopped (binance")
    assert f"submit:{entry.client_order_id}" not in desk.binance.calls
    assert (entry.client_order_id, "rejected") in desk.listener.updates
    exit_order = desk.order(OrderSide.SELL, 0.5, reduce_only=True)  # reducing risk still goes
    assert f"submit:{exit_order.client_order_id}" in desk.binance.calls
    assert desk.bybit.orders == {}
    with pytest.raises(VenueUnavailable, match="circuit breaker open"):
        await desk.venue.fetch_positions()

    desk.binance.recover()
    desk.clock.advance(30)
    await desk.venue.check()
    assert desk.outcomes() == [FailoverOutcome.HALTED, FailoverOutcome.RESUMED]
    assert desk.venue.accepting_risk
    assert desk.venue.healthy()
    assert desk.order(OrderSide.BUY, 0.1).status is OrderStatus.FILLED

    moves = [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    assert desk.breaker_moves("binance") == moves
    # stored: the real table, in order, with the policy outcome
    with db.session() as session:
        rows = VenueEventRepository(session).for_strategy("trend-btc")
        kinds = [(r.kind, r.venue, r.from_state, r.to_state) for r in rows]
        failovers = [r.details["outcome"] for r in rows if r.kind == "failover"]
        policies = {r.policy for r in rows if r.kind == "failover"}
    assert kinds == [
        ("breaker", "binance", "closed", "open"),
        ("failover", "binance", "binance", "binance"),
        ("breaker", "binance", "open", "half_open"),
        ("breaker", "binance", "half_open", "closed"),
        ("failover", "binance", "binance", "binance"),
    ]
    assert failovers == ["halted", "resumed"]
    assert policies == {"halt"}
    db.dispose()
    # alerted, and logged
    assert [(a.kind, a.severity) for a in alerts] == [
        ("venue_breaker", "critical"),
        ("venue_failover", "critical"),
        ("venue_breaker", "warning"),
        ("venue_breaker", "warning"),
        ("venue_failover", "warning"),
    ]
    assert alerts[1].fields["policy"] == "halt"
    logged = [(e["event"], e.get("to_state")) for e in logs if e["event"] == "venue_transition"]
    assert logged == [("venue_transition", "open"), ("venue_transition", "binance")]


# -- mirror -------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_mirror_waits_while_the_primary_still_holds_then_mirrors_once_it_is_flat(
    alerts: list[Alert],
) -> None:
    desk = await _desk(FailoverPolicy.MIRROR)
    desk.order(OrderSide.BUY, 0.5)
    desk.binance.trading_down()  # reads answer, orders are refused as unavailable
    first = desk.order(OrderSide.BUY, 0.1)
    second = desk.order(OrderSide.BUY, 0.1)
    assert reject_is_outage(first.reject_reason)
    assert second.status is OrderStatus.REJECTED
    await desk.venue.settle()

    assert desk.venue.breaker("binance").state is BreakerState.OPEN
    assert desk.outcomes() == [FailoverOutcome.WAITING]
    assert desk.events[0].exposure == {BTC: 0.5}
    assert not desk.venue.accepting_risk
    assert desk.venue.active_name == "binance"
    assert desk.bybit.orders == {}  # mirroring now would hold the exposure twice

    await desk.venue.check()  # still holding: still waiting, no second event
    assert desk.outcomes() == [FailoverOutcome.WAITING]
    assert desk.bybit.orders == {}

    desk.binance.hold(BTC, 0.0)  # the primary's position is closed there (stop, desk, exchange)
    await desk.venue.check()
    assert desk.outcomes() == [FailoverOutcome.WAITING, FailoverOutcome.MIRRORED]
    mirrored = desk.events[-1]
    assert mirrored.exposure == {BTC: 0.5}
    assert mirrored.active_venue == "bybit"
    assert desk.bybit.net(BTC) == 0.5
    assert desk.venue.active_name == "bybit"
    assert desk.venue.accepting_risk
    assert [cid for cid, state in desk.journal.entries if state == "write_ahead"] == list(
        mirrored.orders
    )
    assert all(desk.bybit.orders[cid].tag == "failover" for cid in mirrored.orders)
    desk.order(OrderSide.SELL, 0.2)  # new orders now trade on Bybit
    assert desk.bybit.net(BTC) == pytest.approx(0.3)
    assert desk.binance.net(BTC) == 0.0
    assert alerts[-1].kind == "venue_failover"


@pytest.mark.asyncio
async def test_mirror_of_an_unreachable_primary_moves_the_net_exposure_and_reconciles_on_return(
    alerts: list[Alert],
) -> None:
    desk = await _desk(FailoverPolicy.MIRROR, bybit_contract_size=0.01)  # 0.01 BTC a contract
    desk.order(OrderSide.BUY, 0.5)
    eth_short = Order("strat-eth", ETH, OrderSide.SELL, OrderType.MARKET, 2.0)
    desk.venue.submit(eth_short)
    assert await desk.venue.instrument(BTC)  # contract sizes known while the primary answers
    assert await desk.venue.instrument(ETH)

    desk.binance.fail()
    await _fail_twice(desk)
    assert desk.outcomes() == [FailoverOutcome.MIRRORED]
    assert desk.events[0].exposure == {BTC: 0.5, ETH: -2.0}
    assert desk.bybit.net(BTC) == pytest.approx(50.0)  # contracts of 0.01 BTC
    assert desk.bybit.net(ETH) == pytest.approx(-200.0)
    assert desk.venue.active_name == "bybit"
    assert desk.venue.accepting_risk
    assert desk.binance.net(BTC) == 0.5  # out of reach: still there

    desk.clock.advance(30)
    await desk.venue.check()  # the probe fails: nothing to reconcile yet
    assert desk.venue.breaker("binance").state is BreakerState.OPEN
    assert desk.outcomes() == [FailoverOutcome.MIRRORED]

    desk.binance.recover()
    desk.clock.advance(30)
    await desk.venue.check()
    assert desk.outcomes() == [FailoverOutcome.MIRRORED, FailoverOutcome.RECONCILED]
    reconciled = desk.events[-1]
    assert reconciled.from_venue == "binance"
    assert reconciled.active_venue == "bybit"
    assert desk.binance.net(BTC) == 0.0
    assert desk.binance.net(ETH) == 0.0
    assert all(desk.binance.orders[cid].reduce_only for cid in reconciled.orders)
    assert desk.bybit.net(BTC) == pytest.approx(50.0)  # the net exposure is held once
    assert desk.venue.active_name == "bybit"
    await desk.venue.check()  # reconciled once: nothing more happens
    assert len(desk.events) == 2
    assert ("binance", "half_open", "open") in [
        (t.venue, t.from_state, t.to_state) for t in desk.stored
    ]


# -- flatten-and-move ---------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_flatten_and_move_on_slow_answers_closes_then_reopens(alerts: list[Alert]) -> None:
    desk = await _desk(FailoverPolicy.FLATTEN_AND_MOVE)
    await desk.venue.set_margin_mode(BTC, "isolated")
    await desk.venue.set_leverage(BTC, 3.0)
    desk.order(OrderSide.SELL, 0.4)
    await desk.venue.settle()  # the venue learns the contract size while Binance answers
    desk.binance.slow(1.5)  # answers, but above the 1 s latency threshold
    await desk.venue.fetch_balances()
    assert desk.venue.breaker("binance").state is BreakerState.CLOSED
    await desk.venue.fetch_balances()
    await desk.venue.settle()

    assert desk.outcomes() == [FailoverOutcome.MOVED]
    moved = desk.events[0]
    assert "latency 1.500s above 1s" in moved.reason
    assert moved.exposure == {BTC: -0.4}
    close_id, open_id = moved.orders
    assert desk.binance.orders[close_id].reduce_only
    assert desk.binance.orders[close_id].side is OrderSide.BUY
    assert desk.bybit.orders[open_id].side is OrderSide.SELL
    assert desk.binance.net(BTC) == 0.0
    assert desk.bybit.net(BTC) == pytest.approx(-0.4)
    assert desk.venue.active_name == "bybit"
    assert desk.venue.accepting_risk
    # the account settings went to Bybit before the position did
    assert desk.bybit.margin_mode == {BTC: "isolated"}
    assert desk.bybit.leverage == {BTC: 3.0}
    assert desk.bybit.calls.index("set_leverage") < desk.bybit.calls.index(f"submit:{open_id}")
    assert [cid for cid, state in desk.journal.entries if state == "write_ahead"] == [
        close_id,
        open_id,
    ]
    assert {cid for cid, _ in desk.listener.updates} >= {close_id, open_id}

    desk.binance.recover()
    desk.clock.advance(30)
    await desk.venue.check()  # back, and flat: nothing to reconcile
    assert desk.outcomes() == [FailoverOutcome.MOVED]
    assert desk.venue.venue_health()[0]["healthy"]


@pytest.mark.asyncio
async def test_flatten_and_move_with_the_primary_timing_out_reopens_and_closes_leftovers_later(
    alerts: list[Alert],
) -> None:
    desk = await _desk(FailoverPolicy.FLATTEN_AND_MOVE, timeout_s=0.02)
    desk.order(OrderSide.BUY, 0.3)
    await desk.venue.settle()
    desk.binance.hang()  # every call times out
    await _fail_twice(desk)
    assert desk.outcomes() == [FailoverOutcome.MOVED]
    assert desk.bybit.net(BTC) == pytest.approx(0.3)
    assert desk.binance.net(BTC) == 0.3  # could not be closed
    assert "binance: no answer in time" in desk.events[0].reason

    desk.binance.recover()
    desk.clock.advance(30)
    await desk.venue.check()
    assert desk.outcomes() == [FailoverOutcome.MOVED, FailoverOutcome.RECONCILED]
    assert desk.binance.net(BTC) == 0.0
    assert desk.bybit.net(BTC) == pytest.approx(0.3)


# -- nowhere to go ------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_with_every_venue_down_new_risk_stops_and_the_move_happens_when_one_returns(
    alerts: list[Alert],
) -> None:
    desk = await _desk(FailoverPolicy.FLATTEN_AND_MOVE)
    desk.bybit.fail()
    await desk.venue.check()
    await desk.venue.check()  # two failed probes: Bybit's breaker is open
    assert desk.venue.breaker("bybit").state is BreakerState.OPEN
    desk.binance.fail()
    await _fail_twice(desk)
    assert desk.outcomes() == [FailoverOutcome.NO_VENUE]
    assert not desk.venue.accepting_risk
    assert desk.order(OrderSide.BUY, 0.1).status is OrderStatus.REJECTED

    await desk.venue.check()  # still nowhere to go: no repeated event
    assert desk.outcomes() == [FailoverOutcome.NO_VENUE]
    desk.bybit.recover()
    desk.clock.advance(30)
    await desk.venue.check()
    assert desk.outcomes() == [FailoverOutcome.NO_VENUE, FailoverOutcome.MOVED]
    assert desk.venue.active_name == "bybit"
    assert desk.venue.accepting_risk


@pytest.mark.asyncio
async def test_a_primary_down_at_start_fails_over_on_connect(alerts: list[Alert]) -> None:
    clock = FakeClock()
    binance = ScriptedVenue("binance", clock)
    bybit = ScriptedVenue("bybit", clock, exchange=Exchange.BYBIT)
    binance.fail()
    venue = FailoverVenue([binance, bybit], FailoverPolicy.MIRROR, clock=clock, heartbeat_s=None)
    events: list[FailoverEvent] = []
    venue.on_failover(events.append)
    await venue.connect(RecordingListener())
    assert [e.outcome for e in events] == [FailoverOutcome.MIRRORED]
    assert venue.active_name == "bybit"
    assert venue.accepting_risk
    await venue.close()
    assert "close" in bybit.calls


def test_venue_names_must_be_unique() -> None:
    clock = FakeClock()
    with pytest.raises(ValueError, match="unique"):
        FailoverVenue(
            [ScriptedVenue("binance", clock), ScriptedVenue("binance", clock)],
            FailoverPolicy.HALT,
        )
    with pytest.raises(ValueError, match="at least one"):
        FailoverVenue([], FailoverPolicy.HALT)
    with pytest.raises(ValueError, match="order_prefix"):
        FailoverVenue([ScriptedVenue("okx", clock)], FailoverPolicy.HALT, order_prefix="a b")


@pytest.mark.asyncio
async def test_a_waiting_mirror_is_dropped_when_the_primary_recovers_first(
    alerts: list[Alert],
) -> None:
    desk = await _desk(FailoverPolicy.MIRROR)
    desk.order(OrderSide.BUY, 0.5)
    desk.binance.trading_down()
    desk.order(OrderSide.BUY, 0.1)
    desk.order(OrderSide.BUY, 0.1)
    await desk.venue.settle()
    assert desk.outcomes() == [FailoverOutcome.WAITING]
    desk.binance.recover()
    desk.clock.advance(30)
    await desk.venue.check()
    assert desk.outcomes() == [FailoverOutcome.WAITING, FailoverOutcome.RESUMED]
    assert desk.venue.active_name == "binance"
    assert desk.venue.accepting_risk
    assert desk.bybit.orders == {}
    assert desk.binance.net(BTC) == 0.5


@pytest.mark.asyncio
async def test_a_broken_store_or_subscriber_does_not_stop_the_failover(
    alerts: list[Alert], capsys: pytest.CaptureFixture[str]
) -> None:
    def store_down(_transition: VenueTransition) -> None:
        raise ConnectionError("database is down")

    def broken(_event: FailoverEvent) -> None:
        raise RuntimeError("subscriber bug")

    desk = await _desk(FailoverPolicy.FLATTEN_AND_MOVE, store=store_down)
    desk.venue.on_failover(broken)
    desk.binance.fail()
    await _fail_twice(desk)
    assert desk.outcomes() == [FailoverOutcome.MOVED]
    assert desk.venue.active_name == "bybit"
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert "venue_transition_not_stored" in out
    assert "failover_subscriber_failed" in out


@pytest.mark.asyncio
async def test_refused_requests_do_not_count_against_the_venue(alerts: list[Alert]) -> None:
    desk = await _desk(FailoverPolicy.HALT)

    async def refuse() -> None:
        raise OrderRejected("margin is insufficient", RejectKind.INSUFFICIENT_FUNDS)

    for _ in range(5):
        with pytest.raises(OrderRejected):
            await desk.venue._call("binance", refuse())
    assert desk.venue.breaker("binance").state is BreakerState.CLOSED
    assert desk.venue.accepting_risk


@pytest.mark.asyncio
async def test_candles_come_from_the_active_venue(alerts: list[Alert]) -> None:
    desk = await _desk(FailoverPolicy.MIRROR)
    desk.bybit.prices[BTC] = 60_010.0
    (bar,) = await desk.venue.fetch_ohlcv(BTC, "5m", since_ms=1_000)
    assert bar.close == 60_000.0
    desk.binance.fail()
    await _fail_twice(desk)
    (bar,) = await desk.venue.fetch_ohlcv(BTC, "5m", since_ms=1_000)
    assert bar.close == 60_010.0
    assert desk.venue.active_name == "bybit"


@pytest.mark.asyncio
async def test_the_heartbeat_fails_over_without_anyone_calling_check(alerts: list[Alert]) -> None:
    clock = FakeClock()
    binance = ScriptedVenue("binance", clock)
    bybit = ScriptedVenue("bybit", clock, exchange=Exchange.BYBIT)
    venue = FailoverVenue(
        [binance, bybit],
        FailoverPolicy.FLATTEN_AND_MOVE,
        breaker=BreakerConfig(failure_threshold=2),
        clock=clock,
        heartbeat_s=0.001,
    )
    await venue.connect(RecordingListener())
    try:
        binance.fail()
        for _ in range(200):
            if venue.active_name == "bybit":
                break
            await asyncio.sleep(0.005)
        assert venue.active_name == "bybit"
    finally:
        await venue.close()
    assert venue._heartbeat is None


@pytest.mark.asyncio
async def test_a_waiting_mirror_goes_to_whichever_venue_is_healthy_when_it_moves(
    alerts: list[Alert],
) -> None:
    clock = FakeClock()
    binance = ScriptedVenue("binance", clock)
    bybit = ScriptedVenue("bybit", clock, exchange=Exchange.BYBIT)
    okx = ScriptedVenue("okx", clock, exchange=Exchange.OKX)
    venue = FailoverVenue(
        [binance, bybit, okx],
        FailoverPolicy.MIRROR,
        breaker=BreakerConfig(failure_threshold=1),
        clock=clock,
        heartbeat_s=None,
    )
    events: list[FailoverEvent] = []
    venue.on_failover(events.append)
    await venue.connect(RecordingListener())
    venue.submit(Order("s-1", BTC, OrderSide.BUY, OrderType.MARKET, 0.2))
    await venue.settle()
    binance.trading_down()
    venue.submit(Order("s-2", BTC, OrderSide.BUY, OrderType.MARKET, 0.1))
    await venue.settle()
    assert [e.outcome for e in events] == [FailoverOutcome.WAITING]
    bybit.fail()  # the first choice fails while the mirror waits
    binance.hold(BTC, 0.0)
    await venue.check()
    assert [e.outcome for e in events] == [FailoverOutcome.WAITING, FailoverOutcome.MIRRORED]
    assert venue.active_name == "okx"
    assert okx.net(BTC) == pytest.approx(0.2)
    assert bybit.orders == {}
