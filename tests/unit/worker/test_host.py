"""Hosting a worker: endpoints while it runs, jobs on its clock, the view, and how it stops
(feed end, duration, SIGINT/SIGTERM)."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiohttp
import pytest
from rich.console import Console

from axis.worker.host import HostOptions, HostResult, host
from axis.worker.scheduler import Every, Scheduler
from axis.worker.status import DrainState, WorkerPhase
from axis.worker.view import summary

if TYPE_CHECKING:
    from conftest import ReplayWorker  # tests/unit/worker/conftest.py

T0 = int(datetime(2024, 3, 1, 12, 0, tzinfo=UTC).timestamp() * 1000)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_host(
    worker: ReplayWorker, options: HostOptions, scheduler: Scheduler | None = None
) -> HostResult:
    return asyncio.run(host(worker, options, scheduler))


def test_a_replay_to_its_end_runs_the_jobs_and_serves_the_endpoints(
    replay_worker: Callable[..., ReplayWorker],
) -> None:
    worker = replay_worker(bars=24, pause_s=0.01)
    scheduler = Scheduler(worker.clock)
    monitor_runs: list[int] = []
    port = free_port()

    async def position_monitor(due: int) -> None:
        monitor_runs.append(due)

    scheduler.add("position_monitor", Every(60), position_monitor)

    async def main() -> tuple[HostResult, dict[str, object]]:
        task = asyncio.create_task(
            host(worker, HostOptions(port=port, host="127.0.0.1"), scheduler)
        )
        while worker.done < 3:
            await asyncio.sleep(0.005)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
            async with session.get(f"http://127.0.0.1:{port}/status") as response:
                status = await response.json()
        return await task, status

    result, status_over_http = asyncio.run(main())
    assert result.stopped_by == "end"
    assert result.status.phase is WorkerPhase.STOPPED
    assert result.status.bars_processed == 24
    assert result.port == port
    assert status_over_http["phase"] == "Running"
    assert monitor_runs == [T0 + k * 60_000 for k in range(1, 24 * 5 + 1)]
    assert not scheduler.running
    with pytest.raises(aiohttp.ClientConnectionError):  # the endpoints are closed again
        asyncio.run(_get(f"http://127.0.0.1:{port}/healthz"))


async def _get(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status


def test_duration_stops_the_worker_through_its_stop_path(
    replay_worker: Callable[..., ReplayWorker],
) -> None:
    worker = replay_worker(bars=10_000, pause_s=0.001)
    result = run_host(worker, HostOptions(serve_endpoints=False, duration_s=0.1))
    assert result.stopped_by == "duration"
    assert worker.stop_requests == 1
    assert 0 < result.status.bars_processed < 10_000
    assert result.status.drain is DrainState.DONE


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_cleanly_and_the_handlers_are_restored(
    sig: signal.Signals, replay_worker: Callable[..., ReplayWorker]
) -> None:
    worker = replay_worker(bars=10_000, pause_s=0.001)
    before = signal.getsignal(sig)

    async def main() -> HostResult:
        task = asyncio.create_task(host(worker, HostOptions(serve_endpoints=False)))
        while worker.done < 5:
            await asyncio.sleep(0.005)
        os.kill(os.getpid(), sig)
        await asyncio.sleep(0.01)
        os.kill(os.getpid(), sig)  # a second Ctrl-C while stopping changes nothing
        return await task

    result = asyncio.run(main())
    assert result.stopped_by == sig.name
    assert worker.stop_requests == 1
    assert result.status.phase is WorkerPhase.STOPPED
    assert signal.getsignal(sig) == before


def test_the_live_view_draws_while_it_runs_and_the_summary_names_the_run(
    replay_worker: Callable[..., ReplayWorker],
) -> None:
    worker = replay_worker(bars=30, pause_s=0.005)
    out = io.StringIO()
    console = Console(file=out, width=120, color_system=None, force_terminal=True)
    result = run_host(worker, HostOptions(serve_endpoints=False, view=console, refresh_s=0.01))
    screen = out.getvalue()
    assert "AXIS worker" in screen
    assert "Running" in screen
    assert screen.rfind("Stopped") > screen.rfind("Running")  # the final frame is the end
    assert "Ctrl-C stops" in screen
    assert "http://" not in screen  # no endpoints served, none shown

    text = io.StringIO()
    Console(file=text, width=100, color_system=None).print(
        summary(result.status, result.wall_s, result.stopped_by, capital=10_000.0)
    )
    table = text.getvalue()
    assert "stopped by end" in table
    assert "bars processed" in table
    assert "30" in table
    assert "+5.12%" in table  # 10,512.25 from 10,000


def test_a_held_view_stays_until_a_signal_after_the_feed_ends(
    replay_worker: Callable[..., ReplayWorker],
) -> None:
    worker = replay_worker(bars=3)
    console = Console(file=io.StringIO(), width=120, color_system=None)

    async def main() -> HostResult:
        task = asyncio.create_task(
            host(worker, HostOptions(serve_endpoints=False, view=console, hold_view=True))
        )
        while worker.phase is not WorkerPhase.STOPPED:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)
        assert not task.done()  # the final state is still on screen
        os.kill(os.getpid(), signal.SIGINT)
        return await task

    result = asyncio.run(main())
    assert result.stopped_by == "end"
    assert worker.stop_requests == 0  # the worker had already stopped by itself
