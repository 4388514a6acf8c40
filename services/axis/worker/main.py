"""``axis trade --config strategy.yaml``: one worker process, per the process contract.

Reads the TradingStrategySpec YAML (a bare spec or a TradingStrategy resource), the store from
:class:`AxisSettings`, the exchange connections from ``AXIS_GATEWAYS`` (a JSON object of
connector name → gateway URL, in failover order), serves ``/healthz``, ``/readyz``,
``/status``, ``/drain`` and ``/metrics`` on ``AXIS_PORT`` (8080), and trades until the feed
ends or SIGTERM/SIGINT, which drain the worker (no new risk, entry orders cancelled, protective
stops kept) before it stops within the grace period.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from axis.config import ConfigError
from axis.config.settings import load_settings
from axis.config.specs import DataSource, StrategyMode, TradingStrategySpec, load_spec
from axis.data.bars import timeframe_to_ms
from axis.notify import notifications
from axis.observability.logging import get_logger
from axis.observability.metrics import REGISTRY
from axis.store.db import Database
from axis.store.trading import SqlOrderJournal
from axis.store.venues import VenueEventRecorder
from axis.venues.base import ClosedBar, LiveVenue
from axis.venues.gateway import GATEWAYS_ENV, gateway_venues
from axis.worker.build import WorkerOptions, build_worker
from axis.worker.clocks import WallTimer
from axis.worker.feed import OhlcvSource, PollingBarFeed
from axis.worker.runtime import Worker
from axis.worker.status import WorkerStatus

log = get_logger("axis.worker.main")

#: Closed bars read at start to warm a live strategy up (one request on every exchange).
WARMUP_BARS = 1_000


def failover_prefix(now_s: int) -> str:
    """Client order id prefix of the failover's own (mirror/flatten) orders: one per process
    start, so its sequence restarting at 1 never repeats an id of an earlier run."""
    digits, value = "", now_s
    while value:
        value, rest = divmod(value, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[rest] + digits
    return f"fo{digits}"[:12]


def connect_venue(
    spec: TradingStrategySpec, venues: Sequence[LiveVenue], options: WorkerOptions
) -> LiveVenue:
    """The connectors' venue: the one gateway, or a FailoverVenue over them in the spec's
    order, its transitions stored (``venue_events``) and its own orders journaled first."""
    if not venues:
        raise ConfigError(f"{GATEWAYS_ENV}: not set; live data needs the connectors' gateway URLs")
    if len(venues) == 1:
        venue: LiveVenue = venues[0]
        return venue
    try:
        from axis.venues.failover import FailoverVenue
    except ImportError as exc:
        raise ConfigError(f"failover between connectors is not available ({exc})") from None
    database = Database(options.database_url)
    database.upgrade()
    journal = SqlOrderJournal(database.sessions(), exchange="failover", commit_each=True)
    failover: LiveVenue = FailoverVenue(
        list(venues),
        spec.failover,
        recorder=VenueEventRecorder(database, options.name),
        journal=journal,
        order_prefix=failover_prefix(int(time.time())),
    )
    return failover


def candle_source(venue: LiveVenue) -> OhlcvSource:
    if not callable(getattr(venue, "fetch_ohlcv", None)):
        raise ConfigError(f"venue {venue.name!r} serves no candles; data.source live needs them")
    return cast(OhlcvSource, venue)  # checked just above: it lists candles


async def fetch_history(
    source: OhlcvSource, spec: TradingStrategySpec, clock: WallTimer
) -> list[ClosedBar]:
    """The last closed bars before now, to warm the strategy up (none if the venue cannot
    say: the strategy then warms up on the bars it trades)."""
    now = clock.now_ms()
    since = now - WARMUP_BARS * timeframe_to_ms(spec.timeframe)
    try:
        bars = await source.fetch_ohlcv(spec.symbols[0], spec.timeframe, since, WARMUP_BARS, now)
    except Exception as exc:  # the venue's errors: start cold rather than not at all
        log.warning("history_unavailable", symbol=spec.symbols[0], error=str(exc))
        return []
    return sorted(bars, key=lambda b: b.timestamp)


async def prepare_worker(spec: TradingStrategySpec, options: WorkerOptions) -> Worker:
    """The worker a spec describes, with its exchange connection when it needs one."""
    needs_exchange = spec.mode is StrategyMode.LIVE or spec.data.source is DataSource.LIVE
    if not needs_exchange:
        return build_worker(spec, options)
    clock = WallTimer()
    venue = connect_venue(spec, gateway_venues(os.environ, spec.connectors), options)
    source = candle_source(venue)
    history = await fetch_history(source, spec, clock)
    after = history[-1].timestamp if history else None
    feed = PollingBarFeed(source, spec.symbols[0], spec.timeframe, clock, after_ms=after)
    if spec.mode is StrategyMode.PAPER:
        return build_worker(spec, options, feed=feed, clock=clock, history=history)
    instrument = await venue.instrument(spec.symbols[0])
    return build_worker(
        spec,
        options,
        live_venue=venue,
        feed=feed,
        clock=clock,
        instrument=instrument,
        history=history,
    )


async def serve_worker(worker: Worker, port: int | None = None) -> WorkerStatus:
    """Run ``worker`` hosted with its endpoints; SIGTERM/SIGINT drain and stop it."""
    from axis.worker.host import HostOptions, host

    REGISTRY.register(worker.metrics.registry)  # its gauges join the process's /metrics
    try:
        result = await host(worker, HostOptions(port=port))
    finally:
        REGISTRY.unregister(worker.metrics.registry)
    log.info("worker_exit", stopped_by=result.stopped_by, wall_s=round(result.wall_s, 3))
    return result.status


def trade(config: Path, port: int | None = None) -> WorkerStatus:
    """Load the spec and settings, then run the worker to its end. Configuration problems
    raise :class:`ConfigError` before anything starts."""
    spec = load_spec(TradingStrategySpec, config)
    settings = load_settings()
    options = WorkerOptions(
        name=os.environ.get("AXIS_STRATEGY_NAME") or config.stem,
        database_url=settings.resolved_database_url,
    )
    if not settings.database_url:  # the embedded SQLite file lives in the data directory
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"AXIS_DATA_DIR: cannot create {settings.data_dir} ({exc.strerror}); "
                "set AXIS_DATA_DIR to a writable folder or AXIS_DATABASE_URL"
            ) from None

    async def main() -> WorkerStatus:
        async with notifications(settings):  # alerts to Slack/Telegram/webhook when configured
            worker = await prepare_worker(spec, options)
            return await serve_worker(worker, port)

    return asyncio.run(main())
