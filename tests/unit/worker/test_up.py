"""``axis up`` around a worker built by its factory: options, the stop paths, the summary."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
import typer
from typer.testing import CliRunner

from axis.cli.up import DEFAULT_SPEED, LocalWorker, local_spec, register
from axis.config.backtest import ConfigError
from axis.config.specs import DataSource, StrategyMode, TradingStrategySpec
from axis.worker.scheduler import Every, Scheduler

if TYPE_CHECKING:
    from conftest import ReplayWorker  # tests/unit/worker/conftest.py


def test_the_local_spec_is_a_paper_replay_of_trend_futures() -> None:
    spec = local_spec()
    assert spec.strategy == "trend_futures"
    assert spec.mode is StrategyMode.PAPER
    assert spec.data.source is DataSource.REPLAY
    assert spec.data.speed == DEFAULT_SPEED
    assert local_spec(speed=0).data.speed == 0


def app_with(factory: Callable[[TradingStrategySpec], LocalWorker]) -> typer.Typer:
    app = typer.Typer()
    register(app, factory)

    @app.command()
    def other() -> None:  # a second command keeps `up` a named subcommand, as in `axis`
        return None

    return app


def test_headless_until_end_prints_the_summary(replay_worker: Callable[..., ReplayWorker]) -> None:
    built: list[TradingStrategySpec] = []
    jobs: list[int] = []

    def factory(spec: TradingStrategySpec) -> LocalWorker:
        built.append(spec)
        worker = replay_worker(bars=12)
        scheduler = Scheduler(worker.clock)

        async def monitor(due: int) -> None:
            jobs.append(due)

        scheduler.add("position_monitor", Every(60), monitor)
        return LocalWorker(worker, scheduler, capital=spec.capital)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = CliRunner().invoke(
        app_with(factory), ["up", "--headless", "--until-end", "--port", str(port), "--speed", "0"]
    )
    assert result.exit_code == 0, result.output
    assert built[0].data.speed == 0
    assert len(jobs) == 12 * 5
    out = result.output
    assert "stopped by end" in out
    assert re.search(r"bars processed\s*│\s*12\s", out)
    assert "+5.12%" in out  # 10,512.25 from the spec's 10,000
    assert f"endpoints were on port {port}" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--duration", "0"], "--duration 0: expected a positive number of seconds"),
        (["--speed", "-1"], "--speed -1: expected 0"),
        (["--port", "70000"], "--port 70000: expected a port number"),
    ],
)
def test_bad_options_name_themselves_and_build_nothing(
    args: list[str], message: str, replay_worker: Callable[..., ReplayWorker]
) -> None:
    built: list[TradingStrategySpec] = []

    def factory(spec: TradingStrategySpec) -> LocalWorker:
        built.append(spec)
        return LocalWorker(replay_worker(bars=1), None, capital=spec.capital)

    result = CliRunner().invoke(app_with(factory), ["up", "--headless", *args])
    assert isinstance(result.exception, ConfigError)
    assert message in str(result.exception)
    assert built == []


def test_a_taken_port_is_a_config_error_naming_it(
    replay_worker: Callable[..., ReplayWorker],
) -> None:
    def factory(spec: TradingStrategySpec) -> LocalWorker:
        return LocalWorker(replay_worker(bars=1), None, capital=spec.capital)

    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app_with(factory), ["up", "--headless", "--port", str(port)])
    assert isinstance(result.exception, ConfigError)
    assert f"cannot listen on 0.0.0.0:{port}" in str(result.exception)
    assert "--port or AXIS_PORT" in str(result.exception)


def test_the_live_view_draws_and_duration_stops_it(
    replay_worker: Callable[..., ReplayWorker],
) -> None:
    def factory(spec: TradingStrategySpec) -> LocalWorker:
        return LocalWorker(replay_worker(bars=100_000, pause_s=0.001), None, spec.capital)

    result = CliRunner().invoke(
        app_with(factory), ["up", "--duration", "0.3", "--port", "0"], terminal_width=120
    )
    assert result.exit_code == 0, result.output
    assert "AXIS worker" in result.output  # the view
    assert "stopped by duration" in result.output  # then the summary
