"""``axis up``: the local platform in one process, on embedded defaults.

A paper-trading worker runs ``trend_futures`` on the bundled BTC/USDT 5m data replayed on an
accelerated clock, serves its health/metrics endpoints and shows the live view; Ctrl-C stops it
cleanly (the worker's own stop path) and prints the run's summary. ``--headless`` drops the
view; ``--until-end`` exits when the replay ends, ``--duration`` after so many seconds.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from axis.config.backtest import ConfigError
from axis.config.specs import DataSource, DataSpec, StrategyMode, TradingStrategySpec
from axis.observability.logging import configure_logging

if TYPE_CHECKING:  # the runtime and its web server load when `up` runs, not with `axis --help`
    from axis.worker.host import HostOptions, HostResult, RunnableWorker
    from axis.worker.scheduler import Scheduler

#: 38 days of 5m bars in about three minutes: fast enough to see trades, slow enough to watch.
DEFAULT_SPEED = 20_000.0


@dataclass(frozen=True, slots=True)
class LocalWorker:
    """What the factory builds for ``axis up``: the worker, its scheduled jobs (when the worker
    does not run its own), its capital, and what to release once it has stopped."""

    worker: RunnableWorker
    scheduler: Scheduler | None
    capital: float
    close: Callable[[], None] = lambda: None


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


def build_local_worker(spec: TradingStrategySpec) -> LocalWorker:
    """The worker runtime on embedded defaults: its journal and snapshots in a scratch SQLite
    database that lives as long as the run (a local replay always starts from a clean slate)."""
    from axis.worker.build import WorkerOptions, build_worker

    scratch = tempfile.TemporaryDirectory(prefix="axis-up-")
    try:
        database_url = f"sqlite:///{Path(scratch.name) / 'worker.db'}"
        options = WorkerOptions(name=spec.strategy, database_url=database_url)
        worker = build_worker(spec, options)
    except BaseException:
        scratch.cleanup()
        raise
    # The worker schedules its own jobs on its clock (Worker.run).
    return LocalWorker(worker, None, spec.capital, close=scratch.cleanup)


def _logs_for(view: bool) -> None:
    # Under the live view only warnings and alerts, human-readable; rich prints them above the
    # view (the loggers write to the sys.stderr of the moment, which rich redirects).
    configure_logging(level="warning" if view else "info", json=not view)


def run_up(
    spec: TradingStrategySpec,
    factory: WorkerFactory,
    options: HostOptions,
    console: Console,
) -> HostResult:
    """Build the worker, host it until it ends or is stopped, and print the summary."""
    from axis.worker.host import host
    from axis.worker.http import ListenError
    from axis.worker.view import summary

    local = factory(spec)
    try:
        result = asyncio.run(host(local.worker, options, local.scheduler))
    except ListenError as exc:
        raise ConfigError(f"{exc}; choose another port with --port or AXIS_PORT") from None
    finally:
        local.close()
    if options.view is not None and not options.view.is_terminal:
        console.line()  # a view drawn to a pipe or file leaves its last line open
    console.print(summary(result.status, result.wall_s, result.stopped_by, capital=local.capital))
    if result.port is not None:
        console.print(f"endpoints were on port {result.port} (/healthz /readyz /status /metrics)")
    return result


def register(app: typer.Typer, factory: WorkerFactory | None = None) -> None:
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
        run_up(local_spec(speed), factory or build_local_worker, options, Console())


def _options(
    headless: bool, until_end: bool, duration: float | None, speed: float, port: int | None
) -> HostOptions:
    """Checked options (a bad one is a ConfigError naming it); sets up logging for the mode."""
    from axis.worker.host import HostOptions
    from axis.worker.http import port_from_env

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
