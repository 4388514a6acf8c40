"""The worker: one trading strategy spec running on paper or live, until drained or stopped.

It wires the engine (through :class:`~axis.worker.trader.BarTrader`), the risk chain and the
position monitor, a venue (the simulated exchange in paper mode, a :class:`LiveVenue` behind a
:class:`~axis.worker.live.LiveVenueBridge` in live mode), the store (write-ahead journal,
snapshots, regimes, bars) and the scheduled jobs, and it implements
:class:`~axis.worker.status.WorkerControl` for the HTTP endpoints and the live view.

Lifecycle: ``Starting`` (live: connect, reconcile, adopt the venue's position) → ``Running``
(bars → decisions; jobs on the worker's clock) → ``Draining`` on SIGTERM or ``POST /drain``
(no new risk, working entry orders cancelled, protective stops kept, positions closed if asked)
→ ``Stopped``. An unexplained difference with the venue moves it to ``reducing`` or ``Halted``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import time as dt_time
from typing import Any

import numpy as np

from axis.domain.futures import liquidation_distance
from axis.domain.orders import Fill, Order
from axis.engine.engine import Engine
from axis.engine.oms import OrderJournal
from axis.indicators import adx, rsi, sma
from axis.observability.alerts import Alert, add_sink, raise_alert, remove_sink
from axis.observability.logging import get_logger
from axis.risk.chain import RiskAction
from axis.risk.limits import TradingState
from axis.strategies.trend_futures import BEAR, BULL, trend_regime
from axis.venues.base import (
    BarFeed,
    ClosedBar,
    FundingEvent,
    LiquidationEvent,
    LiveVenue,
    PositionReport,
)
from axis.worker.clocks import TimerClock
from axis.worker.live import LiveVenueBridge
from axis.worker.metrics import WorkerMetrics
from axis.worker.reconcile import ReconcileReport, reconcile
from axis.worker.scheduler import Cadence, DailyAt, Every, Scheduler
from axis.worker.status import (
    AlertView,
    DrainState,
    OrderView,
    PositionView,
    VenueView,
    WorkerPhase,
    WorkerStatus,
)
from axis.worker.status import TradingState as StatusTradingState
from axis.worker.store import WorkerStore
from axis.worker.trader import BarTrader, Decision

log = get_logger("axis.worker")

#: The seeds' cadences (Celery beat of the technical requirements), in seconds.
MARKET_DATA_EVERY = 300
POSITION_MONITOR_EVERY = 60
RECONCILE_EVERY = 60
SNAPSHOT_EVERY = 600
REGIME_EVERY = 3600

_RECENT = 512  # decision latencies and equity samples kept for the status snapshot


class CountingJournal:
    """The store's journal, counting each state an order reaches (``axis_orders_total``)."""

    def __init__(self, inner: OrderJournal, metrics: WorkerMetrics) -> None:
        self.inner = inner
        self.metrics = metrics
        # When the first order since the mark was stored, i.e. handed to the venue next.
        self.first_stored_at: float | None = None

    def write_ahead(self, order: Order) -> None:
        self.inner.write_ahead(order)
        if self.first_stored_at is None:
            self.first_stored_at = time.perf_counter()
        self.metrics.orders_total.labels(state="stored").inc()

    def record(self, order: Order) -> None:
        self.inner.record(order)
        self.metrics.orders_total.labels(state=order.status.value).inc()


class EngineBook:
    """Reconciliation's view of the engine (see :class:`axis.worker.reconcile.Book`)."""

    def __init__(self, engine: Engine, journal: OrderJournal) -> None:
        self.engine = engine
        self.journal = journal

    def open_orders(self) -> dict[str, Order]:
        return dict(self.engine.oms.open)

    def position(self, symbol: str) -> float:
        return self.engine.position_qty(symbol)

    def adopt_position(self, report: PositionReport) -> None:
        """Take the venue's position as the book's (at start, when the book knows nothing)."""
        position = self.engine.portfolio.positions[report.symbol]
        position.quantity = report.quantity
        position.avg_entry = report.entry_price if report.quantity else 0.0
        position.leverage = report.leverage or position.leverage
        position.margin = (
            abs(report.quantity)
            * position.instrument.contract_size
            * report.entry_price
            / position.leverage
        )
        self.engine.monitor.on_position_change()

    def record(self, order: Order) -> None:
        self.journal.record(order)

    def adopt_balance(self, total: float) -> None:
        """The account's wallet balance at the venue becomes the book's (at start)."""
        portfolio, curve = self.engine.portfolio, self.engine.curve
        portfolio.wallet = portfolio.initial_balance = total
        curve.equity.fill(total)
        curve.peak = total


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    cadence: Cadence
    fn: Callable[[int], Awaitable[None]]
    budget_s: float = 5.0  # over this a run is reported as slow


class Worker:
    """Runs one strategy (see the module docstring). Build one with
    :func:`axis.worker.build.build_worker`."""

    def __init__(
        self,
        *,
        strategy: str,
        mode: str,
        trader: BarTrader,
        feed: BarFeed,
        store: WorkerStore,
        journal: CountingJournal,
        metrics: WorkerMetrics,
        clock: TimerClock,
        live: LiveVenue | None = None,
        bridge: LiveVenueBridge | None = None,
        exchange: str = "simulated",
        grace_s: float = 25.0,
    ) -> None:
        self.strategy = strategy
        self.mode = mode
        self.trader = trader
        self.engine = trader.engine
        self.feed = feed
        self.store = store
        self.journal = journal
        self.metrics = metrics
        self.clock = clock
        self.scheduler = Scheduler(clock)
        self.live = live
        self.bridge = bridge
        self.exchange = exchange
        self.grace_s = grace_s
        self.book = EngineBook(self.engine, journal)
        self.phase = WorkerPhase.STARTING
        self.failed = False  # the process loop died of an error (``/healthz`` turns 503)
        self.drain = DrainState.IDLE
        self._flatten = False
        self._stop = asyncio.Event()
        self._alerts: deque[AlertView] = deque(maxlen=50)
        self._latencies: deque[float] = deque(maxlen=_RECENT)
        self._equity: deque[float] = deque(maxlen=_RECENT)
        self._last_decision_ms: int | None = None
        self._stored_through = -1  # last grid index written to market_data
        self._decisions_seen = 0  # risk decisions already counted in the metrics
        self._funding_through = -1  # last grid index whose funding was stored
        self._cancels_sent: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._regime: str | None = None
        self.last_reconcile: ReconcileReport | None = None
        self.day_start_equity = self.engine.portfolio.initial_balance

    # -- WorkerControl ------------------------------------------------------------------------
    def request_drain(self, flatten: bool) -> None:
        """Stop opening risk and cancel working entry orders (see :meth:`_drain_step`)."""
        if self.drain is DrainState.IDLE:
            log.info("drain_requested", strategy=self.strategy, flatten=flatten)
            self.drain = DrainState.DRAINING
            self.phase = WorkerPhase.DRAINING
        self._flatten = self._flatten or flatten
        self._set_state(TradingState.REDUCING, reason=None)
        self._drain_step()

    def request_stop(self) -> None:
        """SIGTERM: drain without flattening, then stop within the grace period."""
        self.request_drain(flatten=False)
        self._stop.set()

    def status(self) -> WorkerStatus:
        engine = self.engine
        portfolio = engine.portfolio
        equity = engine.current_equity() if self.trader.index >= 0 else portfolio.wallet
        peak = max(engine.curve.peak, equity)
        latencies = sorted(self._latencies)
        return WorkerStatus(
            strategy=self.strategy,
            mode=self.mode,
            phase=self.phase,
            trading_state=StatusTradingState(engine.trading_state.value),
            drain=self.drain,
            clock_ms=self.clock.now_ms(),
            equity=equity,
            cash=portfolio.wallet,
            realized_pnl=portfolio.realized_pnl,
            fees_paid=portfolio.fees_paid,
            funding_paid=portfolio.funding_paid,
            drawdown=0.0 if peak <= 0 else max(0.0, 1.0 - equity / peak),
            bars_processed=self.trader.index + 1,
            last_bar_ms=self.trader.last_bar_ms,
            last_decision_ms=self._last_decision_ms,
            decision_latency_p50_ms=_percentile(latencies, 0.50),
            decision_latency_p99_ms=_percentile(latencies, 0.99),
            positions=self._position_views(),
            open_orders=tuple(_order_view(o) for o in engine.oms.open.values()),
            recent_alerts=tuple(self._alerts),
            venues=self._venue_views(),
            equity_curve=tuple(self._equity),
        )

    # -- the process loop ---------------------------------------------------------------------
    async def run(self) -> WorkerStatus:
        """Start, trade every bar of the feed until it ends or a stop is asked, then stop.
        Returns the final status."""
        add_sink(self._on_alert)
        try:
            await self._start()
            if self.phase is WorkerPhase.STARTING:
                self.phase = WorkerPhase.RUNNING
            for job in self.jobs():
                self.scheduler.add(job.name, job.cadence, job.fn, budget_s=job.budget_s)
            self.scheduler.start()
            feed_task = asyncio.create_task(self._consume(), name="worker-feed")
            stop_task = asyncio.create_task(self._stop.wait(), name="worker-stop")
            done, _ = await asyncio.wait(
                {feed_task, stop_task}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in (feed_task, stop_task):
                if task not in done:
                    task.cancel()
            await asyncio.gather(feed_task, stop_task, return_exceptions=True)
            failure = feed_task.exception() if feed_task in done else None
            if failure is not None:
                # Trading cannot go on (a broken feed, a strategy error): say so, keep the
                # protective orders, persist what there is, and let the process fail.
                self.failed = True
                raise_alert(
                    "worker_failed",
                    f"{type(failure).__name__}: {failure}",
                    strategy=self.strategy,
                )
                self.request_drain(flatten=False)
            await self._shutdown()
            if failure is not None:
                raise failure
        finally:
            remove_sink(self._on_alert)
        return self.status()

    async def _start(self) -> None:
        if self.live is not None:
            subscribe = getattr(self.live, "on_failover", None)
            if callable(subscribe):
                subscribe(self._on_failover)
            await self.live.connect(_LiveListener(self))
            settle = self.engine.instrument.settle
            for balance in await self.live.fetch_balances():
                if balance.currency == settle:
                    self.book.adopt_balance(balance.total)
            report = await reconcile(
                self.live,
                self.book,
                _LiveListener(self),
                symbol=self.engine.symbol,
                prefix=self.engine.oms.prefix,
                at_start=True,
            )
            self._after_reconcile(report, at_start=True)
        self._set_state(self.engine.trading_state, reason=None)
        log.info("worker_started", strategy=self.strategy, mode=self.mode)

    async def _consume(self) -> None:
        async for bar in self.feed:
            if self._stop.is_set():  # a bar that closes after the stop is not traded
                return
            advance = getattr(self.clock, "advance_to", None)
            if advance is not None:  # a stepped replay clock: jobs due before this bar run first
                await advance(bar.timestamp + self.trader.grid.timeframe_ms)
            self.on_bar(bar)
            await asyncio.sleep(0)

    def on_bar(self, bar: ClosedBar) -> Decision:
        """Trade one closed bar. The decision latency runs from the bar's arrival to the first
        order of the bar stored and handed to the venue (risk checks included)."""
        self.journal.first_stored_at = None
        started = time.perf_counter()
        decision = self.trader.on_closed_bar(bar)
        handed = self.journal.first_stored_at
        if handed is not None:
            latency = handed - started
            self.metrics.decision_latency.observe(latency)
            self._latencies.append(latency * 1000)
            self._last_decision_ms = bar.timestamp + self.trader.grid.timeframe_ms
        if self.drain is DrainState.DRAINING:
            self._drain_step()
        self._update_metrics()
        return decision

    async def _shutdown(self) -> None:
        deadline = time.monotonic() + self.grace_s
        await self.scheduler.stop()
        if self.drain is not DrainState.IDLE:
            while self.drain is DrainState.DRAINING and time.monotonic() < deadline:
                self._drain_step()
                if self.drain is DrainState.DONE:
                    break
                await asyncio.sleep(0.05)
        if self.trader.index >= 0:
            await self.snapshot_job(self.clock.now_ms())
        self.trader.finish()
        if self.live is not None:
            await self.live.close()
        self.store.close()
        self.phase = WorkerPhase.STOPPED
        self._update_metrics()
        log.info("worker_stopped", strategy=self.strategy, drain=self.drain.value)

    # -- draining -----------------------------------------------------------------------------
    def _drain_step(self) -> None:
        """Cancel working entry orders; flatten if asked; done when nothing is left to do.
        Protective orders (reduce-only) stay until the position they protect is gone."""
        oms = self.engine.oms
        for order in list(oms.open.values()):
            if not order.reduce_only:
                self._cancel_once(order.client_order_id)
        flat = self.engine.position().is_flat
        if self._flatten and not flat:
            closing = any(o.reduce_only and not o.is_stop for o in oms.open.values())
            if not closing:
                self.engine.close_position("drain")
            return
        if self._flatten:  # flat: protective orders have nothing left to protect
            for order in list(oms.open.values()):
                self._cancel_once(order.client_order_id)
        if not any(not o.reduce_only for o in oms.open.values()):
            if self.drain is DrainState.DRAINING:
                log.info("drain_done", strategy=self.strategy, flat=flat)
            self.drain = DrainState.DONE

    def _cancel_once(self, client_order_id: str) -> None:
        """A live venue confirms a cancel later: ask once, not on every drain step."""
        if client_order_id not in self._cancels_sent:
            self._cancels_sent.add(client_order_id)
            self.engine.oms.cancel(client_order_id)

    # -- trading state ------------------------------------------------------------------------
    def _set_state(self, state: TradingState, reason: str | None) -> None:
        engine = self.engine
        rank = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}
        if rank[state] > rank[engine.trading_state]:
            engine.trading_state = state
            if state is TradingState.HALTED and self.phase is not WorkerPhase.DRAINING:
                self.phase = WorkerPhase.HALTED
            if reason:
                raise_alert(
                    "trading_" + state.value,
                    reason,
                    severity="critical",
                    strategy=self.strategy,
                )
        self.metrics.set_state(engine.trading_state)

    def _after_reconcile(self, report: ReconcileReport, *, at_start: bool) -> None:
        self.last_reconcile = report
        if report.resubmitted or report.adopted or report.fills_applied:
            log.info(
                "reconciled",
                resubmitted=report.resubmitted,
                adopted=report.adopted,
                fills=report.fills_applied,
                positions=report.positions_adopted,
                at_start=at_start,
            )
        if report.discrepancies:
            reason = "; ".join(d.detail for d in report.discrepancies)
            self._set_state(report.state, reason=f"reconciliation: {reason}")
        if self.bridge is not None:
            self._refresh_liquidation_price()

    def _on_failover(self, event: Any) -> None:
        """A FailoverVenue moved the exposure to another venue (``mirrored``/``moved``): that
        venue's position is now the book's, explained by the failover (its fills may have
        reached the book too)."""
        if str(event.outcome) in ("mirrored", "moved"):
            task = asyncio.get_running_loop().create_task(self._adopt_venue_position())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _adopt_venue_position(self) -> None:
        assert self.live is not None
        symbol = self.engine.symbol
        reports = {p.symbol: p for p in await self.live.fetch_positions()}
        report = reports.get(symbol) or PositionReport(symbol, 0.0, 0.0, 0.0, "isolated")
        self.book.adopt_position(report)
        log.info("failover_position_adopted", symbol=symbol, quantity=report.quantity)
        self._refresh_liquidation_price(report.liquidation_price)

    def _refresh_liquidation_price(self, reported: float | None = None) -> None:
        """The exchange's liquidation price when it reported one, else the book's estimate."""
        assert self.bridge is not None
        position = self.engine.position()
        if position.is_flat:
            self.bridge.set_liquidation_price(None)
        elif reported is not None:
            self.bridge.set_liquidation_price(reported)
        else:
            self.bridge.set_liquidation_price(position.liquidation_price(None))
        self.engine.monitor.on_position_change()

    # -- jobs (cadences in the module constants; run by the scheduler) -------------------------
    def jobs(self) -> list[JobSpec]:
        specs = [
            JobSpec("market_data", Every(MARKET_DATA_EVERY, aligned=True), self.market_data_job),
            JobSpec(
                "position_monitor",
                Every(POSITION_MONITOR_EVERY, aligned=True),
                self.position_monitor_job,
            ),
            JobSpec("portfolio_snapshot", Every(SNAPSHOT_EVERY, aligned=True), self.snapshot_job),
            JobSpec("regime_check", Every(REGIME_EVERY, aligned=True), self.regime_job),
            JobSpec("daily_summary", DailyAt(dt_time(0, 0)), self.daily_summary_job),
        ]
        if self.live is not None:
            specs.append(
                JobSpec("reconcile", Every(RECONCILE_EVERY, aligned=True), self.reconcile_job)
            )
        return specs

    async def market_data_job(self, due_ms: int) -> None:
        """Store the bars closed since the last run and the funding rates (the seed's
        market_data and funding_rate_history tables)."""
        last = self.trader.index
        if last > self._stored_through:
            window = self.trader._window(self._stored_through + 1, last + 1)
            self.store.save_bars(self.exchange, window)
            self._stored_through = last
        rates = self._settled_funding() + await self._venue_funding()
        if rates:
            self.store.save_funding(self.exchange, self.engine.symbol, rates)

    def _settled_funding(self) -> list[tuple[int, float, float]]:
        """Paper: the rates the simulated exchange settled since the last run."""
        venue = self.engine.venue
        settled = [
            (int(venue.ts[i]), rate, float(venue.mo[i]))
            for i, rate in venue.funding.items()
            if self._funding_through < i <= self.trader.index
        ]
        self._funding_through = max(self._funding_through, self.trader.index)
        return settled

    async def _venue_funding(self) -> list[tuple[int, float, float]]:
        """Live: the venue's current funding rate, where it publishes one."""
        fetch = getattr(self.live, "fetch_funding_rate", None)
        if fetch is None or not self.engine.instrument.is_perpetual:
            return []
        rate = await fetch(self.engine.symbol)
        mark = rate.mark_price or self.engine.reference_price()
        return [(int(rate.timestamp), float(rate.rate), float(mark))]

    async def position_monitor_job(self, due_ms: int) -> None:
        """Live: the exchange's positions (liquidation price, mark) through the monitor."""
        engine = self.engine
        if self.live is not None and self.bridge is not None:
            reports = {p.symbol: p for p in await self.live.fetch_positions()}
            report = reports.get(engine.symbol)
            self._refresh_liquidation_price(report.liquidation_price if report else None)
            mark = report.mark_price if report and report.mark_price else None
            if mark is not None and self.trader.index >= 0 and not engine.position().is_flat:
                engine.monitor.check(self.trader.index, mark)
        self._update_metrics()

    async def reconcile_job(self, due_ms: int) -> None:
        assert self.live is not None
        report = await reconcile(
            self.live,
            self.book,
            _LiveListener(self),
            symbol=self.engine.symbol,
            prefix=self.engine.oms.prefix,
        )
        self._after_reconcile(report, at_start=False)

    async def snapshot_job(self, due_ms: int) -> None:
        """Store the portfolio: equity, wallet, unrealized P&L, leverage, the position."""
        if self.trader.index < 0:
            return
        engine = self.engine
        equity = engine.current_equity()
        position = engine.position()
        mark = engine.reference_price()
        notional = position.notional(mark) if not position.is_flat else 0.0
        allocations = {
            "strategy": self.strategy,
            engine.symbol: {"quantity": position.quantity, "notional": notional},
        }
        self.store.save_snapshot(
            due_ms,
            equity=equity,
            wallet=engine.portfolio.wallet,
            unrealized=equity - engine.portfolio.wallet,
            leverage=notional / equity if equity > 0 else 0.0,
            allocations=allocations,
        )

    async def regime_job(self, due_ms: int) -> None:
        """The rule-based regime (ADX/+DI/-DI against the 50-bar MA, RSI as evidence); stored
        hourly, logged when it changes."""
        verdict = classify_regime(self.trader)
        if verdict is None:
            return
        regime, evidence = verdict
        self.store.save_regime(due_ms, regime, evidence)
        if self._regime is not None and regime != self._regime:
            log.info("regime_change", symbol=self.engine.symbol, old=self._regime, new=regime)
        self._regime = regime

    async def daily_summary_job(self, due_ms: int) -> None:
        engine = self.engine
        equity = engine.current_equity() if self.trader.index >= 0 else engine.portfolio.wallet
        change = equity - self.day_start_equity
        raise_alert(
            "daily_summary",
            f"{self.strategy}: equity {equity:,.2f} ({change:+,.2f} today), "
            f"{len(engine.fills)} fills so far, state {engine.trading_state.value}",
            severity="info",
            strategy=self.strategy,
        )
        self.day_start_equity = equity

    # -- views and metrics --------------------------------------------------------------------
    def _position_views(self) -> tuple[PositionView, ...]:
        engine = self.engine
        position = engine.position()
        if position.is_flat or self.trader.index < 0:
            return ()
        mark = engine.reference_price()
        liq = engine.venue.liquidation_price
        has_liq = not math.isnan(liq)
        return (
            PositionView(
                symbol=engine.symbol,
                side="long" if position.quantity > 0 else "short",
                quantity=abs(position.quantity),
                entry_price=position.avg_entry,
                mark_price=mark,
                unrealized_pnl=position.unrealized_pnl(mark),
                leverage=position.leverage,
                liquidation_price=liq if has_liq else None,
                liquidation_distance=float(liquidation_distance(mark, liq)) if has_liq else None,
            ),
        )

    def _venue_views(self) -> tuple[VenueView, ...]:
        health = getattr(self.live, "venue_health", None)
        if callable(health):  # a failover group: each venue in failover order
            return tuple(VenueView(str(v["name"]), bool(v["healthy"])) for v in health())
        if self.live is not None:
            return (VenueView(self.live.name, self.live.healthy()),)
        return (VenueView(self.engine.venue.name, True),)

    def _update_metrics(self) -> None:
        m = self.metrics
        engine = self.engine
        if self.trader.index < 0:
            return
        equity = engine.current_equity()
        self._equity.append(equity)
        peak = max(engine.curve.peak, equity)
        m.equity.set(equity)
        m.drawdown.set(0.0 if peak <= 0 else max(0.0, 1.0 - equity / peak))
        m.realized_pnl.set(engine.portfolio.realized_pnl)
        m.unrealized_pnl.set(equity - engine.portfolio.wallet)
        views = self._position_views()
        m.open_positions.set(len(views))
        for view in views:
            m.position_notional.labels(symbol=view.symbol).set(view.quantity * view.mark_price)
            if view.liquidation_distance is not None:
                m.liquidation_distance.labels(symbol=view.symbol).set(view.liquidation_distance)
        if not views:
            m.position_notional.labels(symbol=engine.symbol).set(0.0)
        last = self.trader.last_bar_ms
        if last is not None:
            m.last_bar_timestamp.set(last / 1000)
        decisions = engine.oms.decisions
        if len(decisions) > self._decisions_seen:
            fresh = decisions[self._decisions_seen :]
            m.risk_vetoes_total.inc(sum(1 for _, d in fresh if d.action is RiskAction.VETO))
            self._decisions_seen = len(decisions)
        m.set_state(engine.trading_state)

    def _on_alert(self, alert: Alert) -> None:
        self._alerts.append(
            AlertView(int(alert.time.timestamp() * 1000), alert.kind, alert.severity, alert.message)
        )


class _LiveListener:
    """The live venue's listener: the engine first, then what the worker keeps in step."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def on_order_update(self, order: Order) -> None:
        engine = self.worker.engine
        known = engine.oms.orders.get(order.client_order_id)
        if known is not None and known is not order:
            _copy_state(order, known)
            order = known
        engine.on_order_update(order)

    def on_fill(self, order: Order, fill: Fill) -> None:
        engine = self.worker.engine
        known = engine.oms.orders.get(order.client_order_id)
        if known is not None and known is not order:
            _copy_state(order, known)
            order = known
        if engine.venue._now_index < 0:
            # A fill before the first bar (an order re-sent at start): the equity curve
            # begins at bar 0, so the change is valued from there.
            engine.venue._now_index = 0
        engine.on_fill(order, fill)
        self.worker._refresh_liquidation_price()
        self.worker._update_metrics()

    def on_funding(self, event: FundingEvent) -> None:
        self.worker.engine.on_funding(event)

    def on_liquidation(self, event: LiquidationEvent) -> None:
        self.worker.engine.on_liquidation(event)
        raise_alert(
            "liquidation",
            f"{event.symbol} {event.side} {event.quantity:g} liquidated at "
            f"{event.liquidation_price:g}",
            strategy=self.worker.strategy,
        )


def _copy_state(source: Order, target: Order) -> None:
    """A venue that reports through its own order objects: carry their state to ours."""
    target.status = source.status
    target.filled_qty = source.filled_qty
    target.avg_fill_price = source.avg_fill_price
    target.fees = source.fees
    target.exchange_order_id = source.exchange_order_id or target.exchange_order_id
    target.reject_reason = source.reject_reason or target.reject_reason


def classify_regime(trader: BarTrader, window: int = 500) -> tuple[str, dict[str, float]] | None:
    """bull / bear / consolidation on the last ``window`` bars (None before 60 bars)."""
    hi = trader.index + 1
    if hi < 60:
        return None
    bars = trader._window(max(0, hi - window), hi)
    regime = trend_regime(bars.close, bars.high, bars.low, 50, 14, 25.0)[-1]
    strength = float(adx(bars.high, bars.low, bars.close, 14)[-1])
    momentum = float(rsi(bars.close, 14)[-1])
    average = float(sma(bars.close, 50)[-1])
    name = "bull" if regime == BULL else "bear" if regime == BEAR else "consolidation"
    close = float(bars.close[-1])
    evidence = {
        "adx": strength if np.isfinite(strength) else 0.0,
        "rsi": momentum if np.isfinite(momentum) else 50.0,
        "price_vs_ma": close / average - 1.0 if average > 0 else 0.0,
        "close": close,
    }
    return name, evidence


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k]


def _order_view(order: Order) -> OrderView:
    return OrderView(
        order.client_order_id,
        order.symbol,
        order.side.value,
        order.type.value,
        order.quantity,
        order.price if order.price is not None else order.trigger_price,
        order.status.value,
        order.filled_qty,
    )
