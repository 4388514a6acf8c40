"""Venue events on PostgreSQL and SQLite: appended in order, filtered by strategy and kind,
details and aware times kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from axis.store import Database, VenueEventRecorder, VenueEventRepository
from axis.venues.failover import VenueTransition


@pytest.fixture(params=["pg", "sqlite"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "pg":
        url = request.getfixturevalue("fresh_pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'store.db'}"
    database = Database(url)
    database.upgrade()
    yield database
    database.dispose()


def test_events_keep_order_details_and_time(db: Database) -> None:
    start = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    record = VenueEventRecorder(db, "trend-btc")
    record(VenueTransition("binance", "breaker", "closed", "open", "3 failures", time=start))
    record(
        VenueTransition(
            "binance",
            "failover",
            "binance",
            "bybit",
            "3 failures",
            policy="mirror",
            details={"outcome": "mirrored", "exposure": {"BTC/USDT:USDT": 0.5}, "orders": ["a"]},
            time=start + timedelta(seconds=1),
        )
    )
    VenueEventRecorder(db, "other")(
        VenueTransition("okx", "breaker", "closed", "open", "x", time=start)
    )
    with db.session() as session:
        repo = VenueEventRepository(session)
        events = repo.for_strategy("trend-btc")
        assert [(e.kind, e.to_state) for e in events] == [
            ("breaker", "open"),
            ("failover", "bybit"),
        ]
        assert events[1].details["exposure"] == {"BTC/USDT:USDT": 0.5}
        assert events[1].policy == "mirror"
        assert events[0].time == start
        assert events[0].time.tzinfo is not None
        assert [e.venue for e in repo.for_strategy("trend-btc", kind="failover")] == ["binance"]
        assert [e.to_state for e in repo.for_strategy("trend-btc", limit=1)] == ["bybit"]
