"""Build a :class:`~axis.worker.runtime.Worker` from a strategy spec.

- ``mode: paper`` with ``data.source: replay``: the bundled sample (or ``data.path``) of the
  spec's first symbol, its mark and funding series where bundled, the simulated exchange with
  the backtest's rules, on a stepped clock (``data.speed`` 0) or an accelerated one.
- ``mode: paper`` with ``data.source: live``: the simulated exchange on closed bars from a live
  feed (given by the caller: an exchange connection), on the wall clock.
- ``mode: live``: the given :class:`LiveVenue` (CcxtVenue, GatewayVenue or a FailoverVenue over
  the spec's connectors) and its feed, on the wall clock.

The market, instrument, risk limits and simulation settings come from the same code the
backtest uses (:func:`axis.backtest.runner.prepare`), so a paper replay and a backtest of one
spec see the same bars and rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry

from axis.backtest.runner import Prepared, build_strategy, prepare
from axis.config import BacktestConfig, ConfigError
from axis.config.specs import DataSource, StrategyMode, TradingStrategySpec
from axis.data import Bars
from axis.data.bars import timeframe_to_ms
from axis.domain.catalog import instrument_for
from axis.domain.enums import MarketType
from axis.domain.instrument import Instrument, InstrumentError
from axis.domain.orders import OrderStatus
from axis.engine.engine import Engine
from axis.engine.oms import OrderJournal, OrderManager
from axis.store.db import Database
from axis.strategies import Strategy
from axis.venues.base import BarFeed, ClosedBar, LiveVenue
from axis.venues.simulated import SimulatedVenue, SimulationSettings
from axis.worker.clocks import AcceleratedClock, SteppedClock, TimerClock, WallTimer
from axis.worker.feed import ReplayFeed
from axis.worker.live import LiveVenueBridge
from axis.worker.metrics import WorkerMetrics
from axis.worker.runtime import CountingJournal, Worker
from axis.worker.store import WorkerStore
from axis.worker.trader import DEFAULT_SIGNAL_WINDOW, BarTrader, empty_grid, live_grid

#: Bars a live grid holds: a year of 5-minute bars. A worker is restarted long before.
LIVE_GRID_CAPACITY = 105_120


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    name: str  # AXIS_STRATEGY_NAME: the order id prefix and the metric/log identity
    database_url: str
    grace_s: float = 25.0
    signal_window: int = DEFAULT_SIGNAL_WINDOW


def order_prefix(name: str) -> str:
    """Client order id prefix of a worker: stable across restarts, so ids never repeat."""
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
    return f"ax-{cleaned}"[:24]


def backtest_config(spec: TradingStrategySpec) -> BacktestConfig:
    """The backtest settings of a spec: what its paper replay runs on."""
    return BacktestConfig(
        strategy=spec.strategy,
        params=spec.params,
        symbol=spec.symbols[0],
        timeframe=spec.timeframe,
        data=Path(spec.data.path) if spec.data.path else None,
        capital=spec.capital,
        leverage=spec.leverage,
        margin_mode=spec.margin_mode,
        risk_profile=spec.risk.profile,
    )


def prepare_spec(spec: TradingStrategySpec) -> Prepared:
    prepared = prepare(backtest_config(spec))
    # The spec's field-by-field risk overrides apply on top of its profile.
    return Prepared(
        prepared.config,
        prepared.strategy_cls,
        prepared.strategy_params,
        prepared.market,
        spec.limits(),
        prepared.settings,
    )


def build_worker(
    spec: TradingStrategySpec,
    options: WorkerOptions,
    *,
    live_venue: LiveVenue | None = None,
    feed: BarFeed | None = None,
    clock: TimerClock | None = None,
    registry: CollectorRegistry | None = None,
    start_ms: int | None = None,
    instrument: Instrument | None = None,
    history: Sequence[ClosedBar] = (),
) -> Worker:
    """``history``: closed bars from before now (live data) that warm the strategy up; the
    grid then starts at the first of them and trading at the bar after the last."""
    if len(spec.symbols) != 1:
        raise ConfigError("symbols: a worker trades one symbol for now; run one per symbol")
    if spec.mode is StrategyMode.LIVE:
        if live_venue is None or feed is None:
            raise ConfigError("mode live: no exchange connection (set AXIS_GATEWAYS)")
        if instrument is None:
            raise ConfigError("mode live: the venue did not describe the instrument")
    replay = spec.mode is StrategyMode.PAPER and spec.data.source is DataSource.REPLAY
    strategy_cls, strategy_params = build_strategy(backtest_config(spec))
    limits = spec.limits()
    settings = SimulationSettings()
    mark = funding = None
    if replay:
        prepared = prepare_spec(spec)
        bars = prepared.market.bars
        instrument = prepared.market.instrument
        mark, funding, settings = prepared.market.mark, prepared.market.funding, prepared.settings
        grid = empty_grid(bars.symbol, bars.timeframe, bars.timestamp)
        if clock is None:
            start = int(bars.timestamp[0])
            clock = (
                AcceleratedClock(start, spec.data.speed) if spec.data.speed else SteppedClock(start)
            )
        if feed is None:
            feed = ReplayFeed(bars, clock=clock if spec.data.speed else None)
    else:
        if feed is None:
            raise ConfigError("data.source live: no market-data feed (set AXIS_GATEWAYS)")
        if instrument is None:
            instrument = _catalog_instrument(spec.symbols[0], strategy_cls)
        clock = clock or WallTimer()
        first = start_ms if start_ms is not None else clock.now_ms()
        step = timeframe_to_ms(spec.timeframe)
        # The grid starts at the first history bar, else at the bar open now: the first
        # closed bar the feed hands over.
        start = history[0].timestamp if history else first // step * step - step
        grid = live_grid(instrument.symbol, spec.timeframe, start, LIVE_GRID_CAPACITY)
    database = Database(options.database_url)
    database.upgrade()
    prefix = order_prefix(options.name)
    exchange = live_venue.name if live_venue is not None else "paper"
    store = WorkerStore(database, exchange=exchange[:20], prefix=prefix)
    metrics = WorkerMetrics(options.name, registry)
    journal = CountingJournal(store.journal, metrics)
    bridge_holder: list[LiveVenueBridge] = []

    def build_engine(g: Bars) -> Engine:
        factory = None
        if live_venue is not None:

            def factory(engine: Engine) -> SimulatedVenue:
                bridge = LiveVenueBridge(
                    live_venue,
                    instrument,
                    g,
                    engine,
                    initial_balance=spec.capital,
                    leverage=spec.leverage,
                    margin_mode=spec.margin_mode,
                )
                bridge_holder.append(bridge)
                return bridge

        engine = Engine(
            strategy_cls(strategy_params),
            instrument,
            g,
            initial_balance=spec.capital,
            leverage=spec.leverage,
            limits=limits,
            margin_mode=spec.margin_mode,
            journal=journal,
            order_prefix=prefix,
            venue_factory=factory,
            settings=settings,
            mark=mark,
            funding=funding,
        )
        _resume(engine, store, journal, live=live_venue is not None)
        return engine

    trader = BarTrader(grid, build_engine, signal_window=options.signal_window)
    if history:
        trader.preload(history)
    return Worker(
        strategy=options.name,
        mode=spec.mode.value,
        trader=trader,
        feed=feed,
        store=store,
        journal=journal,
        metrics=metrics,
        clock=clock,
        live=live_venue,
        bridge=bridge_holder[0] if bridge_holder else None,
        exchange=exchange,
        grace_s=options.grace_s,
    )


def _resume(engine: Engine, store: WorkerStore, journal: OrderJournal, *, live: bool) -> None:
    """Carry on from the journal: the next id after the last one used, and the orders still
    open there. Live, reconciliation asks the venue about each; on paper the simulated
    exchange that held them is gone with the process, so they are closed in the journal."""
    oms: OrderManager = engine.oms
    oms.sequence = store.last_sequence()
    for order in store.open_orders():
        if live:
            oms.orders[order.client_order_id] = order
            oms.open[order.client_order_id] = order
        else:
            if order.status is OrderStatus.NEW:
                order.reject("paper exchange restarted")
            else:
                order.cancel()
            journal.record(order)


def _catalog_instrument(symbol: str, strategy_cls: type[Strategy]) -> Instrument:
    try:
        return instrument_for(
            symbol
            if ":" in symbol or strategy_cls.market_type is MarketType.SPOT
            else f"{symbol}:{symbol.split('/')[1]}"
        )
    except InstrumentError as exc:
        raise ConfigError(f"symbols: {exc}") from None
