"""``axis up`` with the real worker runtime: a headless replay to its end, the live view, and
Ctrl-C (SIGINT) to a real ``axis up`` process: each ends cleanly with the run's summary."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from axis.cli.up import build_local_worker, local_spec, run_up
from axis.config.specs import DataSource, DataSpec, TradingStrategySpec
from axis.worker.host import HostOptions
from axis.worker.status import WorkerPhase

ROOT = Path(__file__).resolve().parents[3]
XRP_5M = ROOT / "services/axis/data/sample/XRP_USDT_USDT-5m-futures.csv.gz"  # 1,999 bars


def short_replay(speed: float) -> TradingStrategySpec:
    return TradingStrategySpec(
        strategy="trend_futures",
        symbols=["XRP/USDT:USDT"],
        timeframe="5m",
        leverage=3.0,
        data=DataSpec(source=DataSource.REPLAY, path=str(XRP_5M), speed=speed),
    )


def console_text() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=120, color_system=None, force_terminal=True), out


def test_a_headless_replay_runs_to_its_end_and_prints_the_summary() -> None:
    console, out = console_text()
    result = run_up(
        short_replay(speed=0), build_local_worker, HostOptions(port=0, host="127.0.0.1"), console
    )
    assert result.stopped_by == "end"
    assert result.status.phase is WorkerPhase.STOPPED
    assert result.status.bars_processed == 1_999
    assert result.status.decision_latency_p50_ms is not None  # it traded
    text = out.getvalue()
    assert "trend_futures · paper · stopped by end" in text
    assert re.search(r"bars processed\s*│\s*1,999\s", text)


def test_the_live_view_renders_the_running_worker_until_the_duration() -> None:
    console, out = console_text()
    options = HostOptions(port=0, host="127.0.0.1", view=console, duration_s=1.5, refresh_s=0.1)
    result = run_up(local_spec(), build_local_worker, options, console)
    assert result.stopped_by == "duration"
    assert result.status.phase is WorkerPhase.STOPPED
    screen = out.getvalue()
    assert "AXIS worker" in screen
    assert "trend_futures [paper]" in screen
    assert "clock 2023-01-" in screen  # the replay clock, not the wall clock
    assert f"http://localhost:{result.port}/status /metrics" in screen
    assert "stopped by duration" in screen


def axis_up(*args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("services", "operator", "ml")),
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from axis.cli import main; main()", "up", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_sigint_stops_a_real_axis_up_cleanly_with_the_summary() -> None:
    process = axis_up("--headless", "--port", "0")
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 120
        for line in process.stderr:  # wait until the worker trades
            if '"worker_started"' in line:
                break
            assert time.monotonic() < deadline, "axis up did not start"
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr[-2000:]
    assert "stopped by SIGINT" in stdout
    assert re.search(r"phase\s*│\s*Stopped", stdout)
    assert '"worker_stopped"' in stderr
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_axis_up_headless_until_end_replays_all_the_bundled_data() -> None:
    process = axis_up("--headless", "--until-end", "--speed", "0", "--port", "0")
    stdout, stderr = process.communicate(timeout=900)
    assert process.returncode == 0, stderr[-2000:]
    assert "stopped by end" in stdout
    assert re.search(r"bars processed\s*│\s*10,999\s", stdout)
