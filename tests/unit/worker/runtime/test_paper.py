"""A paper worker replaying the bundled data: the same fills as a backtest of the same spec,
its jobs' records in the store, its metrics, draining and stopping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from axis.backtest.runner import run_event
from axis.backtest.vectorized import run_vectorized
from axis.config.specs import TradingStrategySpec
from axis.store.models import MarketData
from axis.venues.base import ClosedBar
from axis.worker.build import WorkerOptions, build_worker, prepare_spec
from axis.worker.feed import ReplayFeed
from axis.worker.runtime import Worker
from axis.worker.status import DrainState, WorkerPhase


def paper_spec(symbol: str = "XRP/USDT:USDT", **changes: object) -> TradingStrategySpec:
    body: dict[str, object] = {
        "strategy": "trend_futures",
        "symbols": [symbol],
        "leverage": 3,
        "data": {"source": "replay"},
    }
    body.update(changes)
    return TradingStrategySpec.model_validate(body)


def paper_worker(spec: TradingStrategySpec, db: Path, name: str = "paper-test") -> Worker:
    return build_worker(spec, WorkerOptions(name=name, database_url=f"sqlite:///{db}"))


def fills_of(worker: Worker) -> list[tuple[int, int, float, float, float, str]]:
    return [
        (f.timestamp, f.side.sign, f.quantity, f.price, f.fee, o.tag)
        for o, f in worker.engine.fills
    ]


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Worker:
    """One full paper replay of the bundled XRP/USDT perpetual (5m bars, funding series)."""
    worker = paper_worker(paper_spec(), tmp_path_factory.mktemp("paper") / "w.db")
    asyncio.run(worker.run())
    return worker


def test_paper_replay_fills_equal_the_backtest_of_the_same_spec(replay: Worker) -> None:
    prepared = prepare_spec(paper_spec())
    event = run_event(prepared)
    vectorized = run_vectorized(prepared)
    paper = fills_of(replay)
    assert len(paper) >= 4  # entries, stops and exits all happened
    assert paper == event.fills
    assert paper == vectorized.fills
    assert replay.engine.portfolio.funding_paid == pytest.approx(event.funding_paid)


@pytest.mark.slow
def test_paper_replay_of_the_bundled_btc_data_matches_the_backtest(tmp_path: Path) -> None:
    spec = paper_spec("BTC/USDT", leverage=5)
    worker = paper_worker(spec, tmp_path / "w.db")
    asyncio.run(worker.run())
    assert fills_of(worker) == run_event(prepare_spec(spec)).fills


def test_a_finished_replay_reports_stopped_with_its_figures(replay: Worker) -> None:
    status = replay.status()
    bars = len(prepare_spec(paper_spec()).market.bars)
    assert status.phase is WorkerPhase.STOPPED
    assert status.bars_processed == bars
    assert status.equity == pytest.approx(replay.engine.current_equity())
    assert status.last_decision_ms is not None
    assert status.decision_latency_p99_ms is not None
    body = status.to_json()
    assert body["mode"] == "paper"
    assert body["venues"] == [{"name": "simulated", "healthy": True}]


def test_jobs_ran_at_the_seed_cadences_and_stored_their_records(replay: Worker) -> None:
    bars = prepare_spec(paper_spec()).market.bars
    span_min = (int(bars.timestamp[-1]) + 300_000 - int(bars.timestamp[0])) / 60_000
    jobs = replay.scheduler.jobs()
    assert jobs["position_monitor"].runs == pytest.approx(span_min, abs=2)
    assert jobs["market_data"].runs == pytest.approx(span_min / 5, abs=2)
    assert jobs["portfolio_snapshot"].runs == pytest.approx(span_min / 10, abs=2)
    assert jobs["regime_check"].runs == pytest.approx(span_min / 60, abs=2)
    assert jobs["daily_summary"].runs == pytest.approx(span_min / 1440, abs=1)
    assert all(stats.failures == 0 for stats in jobs.values())
    # Snapshots: one per 10-minute occurrence, plus the one taken at shutdown.
    snapshots = replay.store.snapshots()
    assert len(snapshots) == pytest.approx(jobs["portfolio_snapshot"].runs, abs=1)
    assert float(snapshots[-1].total_value_usdt) == pytest.approx(
        replay.engine.current_equity(), rel=1e-6
    )
    regimes = replay.store.regimes()
    assert {r.regime for r in regimes} <= {"bull", "bear", "consolidation"}
    # Every hourly check once 60 bars (5 hours of 5m bars) are in: the first five have none.
    assert len(regimes) == jobs["regime_check"].runs - 5
    with replay.store.database.sessions() as session:
        stored = session.scalar(select(func.count()).select_from(MarketData))
    assert stored == len(bars) - 1 or stored == len(bars)  # the last bar may close after the job
    # Every funding settlement of the replay, at its time, with the rate the series gave.
    funding = prepare_spec(paper_spec()).market.funding
    assert funding is not None
    # Stored at the open of the bar it settled on (the series' times carry a few ms of jitter).
    bar_of = {
        t // 300_000 * 300_000: r for t, r in zip(funding.timestamp, funding.rate, strict=True)
    }
    rates = {int(t): float(r) for t, r in bar_of.items()}
    stored_rates = replay.store.funding()
    assert len(stored_rates) == len(replay.engine.venue.funding) > 0
    for row in stored_rates:
        at = int(row.time.timestamp() * 1000)
        assert float(row.funding_rate) == pytest.approx(rates[at])


def test_metrics_follow_the_book(replay: Worker) -> None:
    registry = replay.metrics.registry
    engine = replay.engine
    assert registry.get_sample_value("axis_equity") == pytest.approx(engine.current_equity())
    assert registry.get_sample_value("axis_trading_state") == 0
    assert registry.get_sample_value("axis_open_positions") == (
        0 if engine.position().is_flat else 1
    )
    filled = registry.get_sample_value("axis_orders_total", {"state": "filled"})
    assert filled == len({o.client_order_id for o, _ in engine.fills})
    decisions = registry.get_sample_value("axis_decision_latency_seconds_count")
    assert decisions is not None
    assert decisions >= 1
    last = int(prepare_spec(paper_spec()).market.bars.timestamp[-1])
    assert registry.get_sample_value("axis_last_bar_timestamp_seconds") == last / 1000


class _Hooked(ReplayFeed):
    """A replay that calls ``hook`` after each bar it handed out has been traded."""

    def __init__(self, bars: object, hook: object) -> None:
        super().__init__(bars)  # type: ignore[arg-type]
        self.hook = hook

    async def __aiter__(self) -> AsyncIterator[ClosedBar]:
        async for bar in super().__aiter__():
            yield bar
            self.hook()  # type: ignore[operator]


def _run_with_hook(tmp_path: Path, when: object, action: object) -> Worker:
    spec = paper_spec()
    worker = paper_worker(spec, tmp_path / "w.db")
    fired: list[int] = []

    def hook() -> None:
        if not fired and when(worker):  # type: ignore[operator]
            fired.append(worker.trader.index)
            action(worker)  # type: ignore[operator]

    worker.feed = _Hooked(prepare_spec(spec).market.bars, hook)
    asyncio.run(worker.run())
    assert fired, "the condition never held"
    return worker


def _protected_position(worker: Worker) -> bool:
    oms = worker.engine.oms
    return not worker.engine.position().is_flat and any(o.reduce_only for o in oms.open.values())


def test_drain_stops_new_risk_and_keeps_the_protective_stops(tmp_path: Path) -> None:
    drained_at: list[int] = []

    def drain(worker: Worker) -> None:
        drained_at.append(len(worker.engine.fills))
        worker.request_drain(flatten=False)

    worker = _run_with_hook(tmp_path, _protected_position, drain)
    status = worker.status()
    assert status.drain is DrainState.DONE
    assert status.trading_state.value == "reducing"
    # After the drain nothing opened risk: every later fill reduced the position.
    later = [o for o, _ in worker.engine.fills[drained_at[0] :]]
    assert all(o.reduce_only for o in later)
    # No entry order is left working; protective orders stayed while the position lived.
    assert all(o.reduce_only for o in worker.engine.oms.open.values())
    if not worker.engine.position().is_flat:
        assert any(o.is_stop for o in worker.engine.oms.open.values())


def test_drain_with_flatten_closes_the_position(tmp_path: Path) -> None:
    worker = _run_with_hook(tmp_path, _protected_position, lambda w: w.request_drain(flatten=True))
    assert worker.engine.position().is_flat
    assert worker.engine.oms.open == {}
    assert worker.status().drain is DrainState.DONE
    assert worker.engine.fills[-1][0].tag == "drain"


def test_stop_request_ends_the_run_early_and_cleanly(tmp_path: Path) -> None:
    worker = _run_with_hook(tmp_path, lambda w: w.trader.index >= 300, lambda w: w.request_stop())
    status = worker.status()
    assert status.phase is WorkerPhase.STOPPED
    assert status.bars_processed == 301  # bars 0..300; nothing after the stop is traded
    assert status.drain is DrainState.DONE
    assert status.trading_state.value == "reducing"


def test_a_restarted_paper_worker_closes_the_orders_its_exchange_lost(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    first = _run_with_hook(tmp_path, _protected_position, lambda w: w._stop.set())
    open_ids = set(first.engine.oms.open)
    assert open_ids  # the stops were working when it stopped
    second = paper_worker(paper_spec(), db)
    assert second.engine.oms.open == {}
    journal = {o.client_order_id: o for o in second.store.all_orders()}
    assert all(not journal[cid].is_open for cid in open_ids)
    assert second.engine.oms.sequence == max(int(cid.rsplit("-", 1)[1]) for cid in journal)


def test_a_feed_failure_alerts_stops_cleanly_and_is_raised(tmp_path: Path) -> None:
    from axis.observability.alerts import add_sink, remove_sink

    def broken(worker: Worker) -> None:
        raise RuntimeError("feed connection lost")

    alerts: list[str] = []

    def sink(alert: object) -> None:
        alerts.append(alert.kind)  # type: ignore[attr-defined]

    add_sink(sink)
    try:
        with pytest.raises(RuntimeError, match="feed connection lost"):
            _run_with_hook(tmp_path, lambda w: w.trader.index >= 50, broken)
    finally:
        remove_sink(sink)
    assert alerts == ["worker_failed"]
