"""``axis up``: the local platform in one process, on embedded defaults.

A paper-trading worker runs ``trend_futures`` on the bundled BTC/USDT 5m data replayed on an
accelerated clock, serves its health/metrics endpoints and shows the live view; Ctrl-C stops it
cleanly (the worker's own stop path) and prints the run's summary. ``--headless`` drops the
view; ``--until-end`` exits when the replay ends, ``--duration`` after so many seconds.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console

from axis.config.backtest import ConfigError
from axis.config.specs import DataSource, DataSpec, StrategyMode, TradingStrategySpec
from axis.observability.logging import configure_logging
from axis.worker.host import HostOptions, HostResult, RunnableWorker, host
from axis.worker.http import ListenError, port_from_env
from axis.worker.scheduler import Scheduler
from axis.worker.view import summary

#: 38 days of 5m bars in about three minutes: fast enough to see trades, slow enough to watch.
DEFAULT_SPEED = 20_000.0


@dataclass(frozen=True, slots=True)
class LocalWorker:
    """What the factory builds for ``axis up``: the worker, its scheduled jobs, its capital."""

    worker: RunnableWorker
    scheduler: Scheduler | None
    capital: float


WorkerFactory = Callable[[TradingStrategySpec], LocalWorker]


def local_spec(speed: float = DEFAULT_SPEED) -> TradingStrategySpec:
    """The embedded default: the built-in futures strategy, paper mode, bundled data replayed."""
    return TradingStrategySpec(
        strategy="trend_futures",
        mode=StrategyMode.PAPER,
        symbols=["BTC/USDT"],
        timeframe="5m",
        capital=10_000.0,
        leverage=5.0,
        data=DataSpec(source=DataSource.REPLAY, speed=speed),
    )


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is now, so that log lines written while the live
    view runs go through rich's redirection (above the view) instead of tearing it."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _logs_for(view: bool) -> None:
    import logging

    import structlog

    configure_logging(level="warning" if view else "info", json=not view)
    if view:
        stream: Any = _CurrentStderr()
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(stream))
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(stream)


def run_up(
    spec: TradingStrategySpec,
    factory: WorkerFactory,
    options: HostOptions,
    console: Console,
) -> HostResult:
    """Build the worker, host it until it ends or is stopped, and print the summary."""
    local = factory(spec)
    try:
        result = asyncio.run(host(local.worker, options, local.scheduler))
    except ListenError as exc:
        raise ConfigError(f"{exc}; choose another port with --port or AXIS_PORT") from None
    console.print(summary(result.status, result.wall_s, result.stopped_by, capital=local.capital))
    if result.port is not None:
        console.print(f"endpoints were on port {result.port} (/healthz /readyz /status /metrics)")
    return result


def register(app: typer.Typer, factory: WorkerFactory) -> None:
    """Add ``axis up`` to ``app``, building its worker with ``factory``."""

    @app.command()
    def up(
        headless: Annotated[
            bool, typer.Option(help="no live view: log lines, then the summary")
        ] = False,
        until_end: Annotated[
            bool, typer.Option(help="exit when the replay ends (headless always does)")
        ] = False,
        duration: Annotated[
            float | None, typer.Option(help="stop after SECONDS of wall time")
        ] = None,
        speed: Annotated[
            float, typer.Option(help="replay speed-up over real time; 0 = as fast as possible")
        ] = DEFAULT_SPEED,
        port: Annotated[
            int | None, typer.Option(help="endpoint port (default AXIS_PORT, else 8080)")
        ] = None,
    ) -> None:
        """The local platform: a paper-trading worker (trend_futures, bundled BTC/USDT replayed
        on an accelerated clock) with its endpoints and a live view; Ctrl-C stops it cleanly
        and prints the run's summary."""
        options = _options(headless, until_end, duration, speed, port)
        run_up(local_spec(speed), factory, options, Console())


def _options(
    headless: bool, until_end: bool, duration: float | None, speed: float, port: int | None
) -> HostOptions:
    """Checked options (a bad one is a ConfigError naming it); sets up logging for the mode."""
    if duration is not None and not duration > 0:
        raise ConfigError(f"--duration {duration:g}: expected a positive number of seconds")
    if not speed >= 0:
        raise ConfigError(f"--speed {speed:g}: expected 0 (as fast as possible) or more")
    if port is not None and not 0 <= port <= 65535:
        raise ConfigError(f"--port {port}: expected a port number 0-65535")
    try:
        chosen_port = port_from_env() if port is None else port
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    _logs_for(view=not headless)
    return HostOptions(
        port=chosen_port,
        view=None if headless else Console(),
        duration_s=duration,
        hold_view=not headless and not until_end,
    )
