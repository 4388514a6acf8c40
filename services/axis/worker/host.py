"""Hosting a worker in this process: its jobs, its endpoints, the live view, and the signals.

:func:`host` is what ``axis up`` runs (and what a worker process needs around its runtime): it
starts the worker's scheduler and HTTP endpoints, draws the live view when asked, turns SIGINT
and SIGTERM into an orderly stop (drain, then stop), stops after a duration or when the worker's
feed ends, and returns the worker's final status. A second Ctrl-C while stopping is ignored: the
stop is already bounded by the worker's grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from rich.console import Console

from axis.observability.logging import get_logger
from axis.worker.http import ALL_INTERFACES, EndpointServer, create_app, serve
from axis.worker.scheduler import Scheduler
from axis.worker.status import WorkerStatus
from axis.worker.view import live_view

log = get_logger("axis.worker.host")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class RunnableWorker(Protocol):
    """A worker runtime as :func:`host` drives it (WorkerControl plus its process loop)."""

    def status(self) -> WorkerStatus: ...

    def request_drain(self, flatten: bool) -> None: ...

    def request_stop(self) -> None:
        """Stop opening risk and stop ``run`` within the grace period."""
        ...

    async def run(self) -> WorkerStatus:
        """Trade until the feed ends or a stop is asked; return the final status."""
        ...


@dataclass(frozen=True, slots=True)
class HostOptions:
    port: int | None = None  # None: AXIS_PORT or 8080; 0: any free port
    host: str = ALL_INTERFACES
    serve_endpoints: bool = True
    view: Console | None = None  # draw the live view on this console
    duration_s: float | None = None  # stop after this many wall-clock seconds
    hold_view: bool = False  # after the feed ends, keep showing the final state until a signal
    refresh_s: float = 0.25


@dataclass(frozen=True, slots=True)
class HostResult:
    status: WorkerStatus
    wall_s: float
    stopped_by: str  # "end" (feed ended), "duration", "SIGINT", "SIGTERM"
    port: int | None


async def host(
    worker: RunnableWorker, options: HostOptions, scheduler: Scheduler | None = None
) -> HostResult:
    started = time.perf_counter()
    stopped_by: list[str] = []
    released = asyncio.Event()  # a signal or the duration: stop (and release a held view)

    def stop(reason: str) -> None:
        if stopped_by:
            return  # already stopping; the grace period bounds it
        stopped_by.append(reason)
        log.info("worker_stop_requested", reason=reason)
        if run_task is not None and not run_task.done():
            worker.request_stop()
        released.set()

    run_task: asyncio.Task[WorkerStatus] | None = None
    endpoints: EndpointServer | None = None
    port: int | None = None
    view_task: asyncio.Task[None] | None = None
    timer: asyncio.TimerHandle | None = None
    with _signals_to(stop):
        try:
            if options.serve_endpoints:
                app = create_app(worker, alive=lambda: run_task is None or not run_task.done())
                endpoints = await serve(app, port=options.port, host=options.host)
                port = endpoints.port
            if scheduler is not None:
                scheduler.start()  # before the first bar: jobs see every occurrence
            run_task = asyncio.create_task(worker.run(), name="worker-run")
            if options.view is not None:
                view_task = asyncio.create_task(
                    live_view(worker, options.view, options.refresh_s, _caption(port)),
                    name="live-view",
                )
            if options.duration_s is not None:
                timer = asyncio.get_running_loop().call_later(options.duration_s, stop, "duration")
            final = await run_task
            if not stopped_by:
                if options.hold_view and view_task is not None:
                    await released.wait()  # the final state stays on screen until Ctrl-C
                    stopped_by[:] = ["end"]
                else:
                    stopped_by.append("end")
        finally:
            if timer is not None:
                timer.cancel()
            if run_task is not None and not run_task.done():  # a hosting error: still stop it
                worker.request_stop()
                with contextlib.suppress(Exception):
                    await run_task
            if scheduler is not None:
                await scheduler.stop()
            if view_task is not None:
                view_task.cancel()
                await asyncio.gather(view_task, return_exceptions=True)
            if endpoints is not None:
                await endpoints.stop()
    return HostResult(
        status=final,
        wall_s=time.perf_counter() - started,
        stopped_by=stopped_by[0],
        port=port,
    )


def _caption(port: int | None) -> str:
    endpoints = "" if port is None else f"http://localhost:{port}/status /metrics /healthz  · "
    return f"{endpoints}Ctrl-C stops"


@contextlib.contextmanager
def _signals_to(stop: _Stop) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    previous: dict[signal.Signals, Any] = {}
    try:
        for sig in STOP_SIGNALS:
            before = signal.getsignal(sig)
            try:
                loop.add_signal_handler(sig, stop, sig.name)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                continue
            previous[sig] = before
        yield
    finally:
        for sig, before in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, before)  # e.g. asyncio.run's own Ctrl-C handling


class _Stop(Protocol):
    def __call__(self, reason: str) -> None: ...
