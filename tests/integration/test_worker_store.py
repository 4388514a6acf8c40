"""A paper worker on PostgreSQL: its write-ahead journal, snapshots, regimes and bars land in
the server, and a restart on the same database carries on with fresh order ids."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

from sqlalchemy import func, select

from axis.config.specs import TradingStrategySpec
from axis.data.sample import find_sample
from axis.domain.orders import OrderStatus
from axis.store.models import MarketData
from axis.worker.build import WorkerOptions, build_worker


def _history(tmp_path: Path, bars: int) -> Path:
    """The first ``bars`` candles of the bundled BTC/USDT 5m sample, as a CSV file."""
    sample = find_sample("BTC/USDT", "5m")
    assert sample is not None
    with gzip.open(sample, "rt") as source:
        lines = source.read().splitlines()[: bars + 1]  # with its header
    path = tmp_path / "btc.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_paper_worker_journals_and_snapshots_on_postgresql(
    fresh_pg_url: str, tmp_path: Path
) -> None:
    spec = TradingStrategySpec.model_validate(
        {
            "strategy": "ma_crossover",
            "symbols": ["BTC/USDT"],
            "data": {"source": "replay", "path": str(_history(tmp_path, 1500))},
        }
    )
    options = WorkerOptions(name="pg-paper", database_url=fresh_pg_url)
    worker = build_worker(spec, options)
    asyncio.run(worker.run())

    journal = {o.client_order_id: o for o in worker.store.all_orders()}
    placed = worker.engine.oms.orders
    assert placed
    assert set(journal) == set(placed)  # every order was stored (before it was sent)
    for cid, order in placed.items():
        assert journal[cid].status is order.status
        assert journal[cid].filled_qty == order.filled_qty
    assert any(o.status is OrderStatus.FILLED for o in journal.values())
    assert len(worker.store.snapshots()) >= 1500 * 5 // 10 - 1
    assert worker.store.regimes()
    with worker.store.database.sessions() as session:
        stored = session.scalar(select(func.count()).select_from(MarketData))
    assert stored is not None
    assert stored >= 1499

    restarted = build_worker(spec, options)
    assert restarted.engine.oms.sequence == max(int(c.rsplit("-", 1)[1]) for c in journal)
    assert restarted.engine.oms.open == {}
