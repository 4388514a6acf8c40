"""The worker's job scheduler: named coroutines run on a cadence of the worker's clock.

- A cadence says when a job is next due after a time: :class:`Every` (every N seconds from
  the start, or ``aligned`` to the clock, e.g. every 5 minutes on the 5-minute boundary) or
  :class:`DailyAt` (once a day at a UTC time).
- Time comes from a :class:`~axis.worker.clocks.TimerClock`: the wall clock live, replay time in
  paper replays. Each job gets the simulated time it was due, so a replay at 1000x (or a stepped
  replay as fast as the CPU allows) runs the jobs at the simulated times they would run live.
- A job never overlaps itself: the occurrences that come due while it still runs are skipped
  and counted. A run over its budget (real seconds, the CPU/I-O it costs) is reported once,
  while it is still running: a log line, an alert and a metric; it is not cancelled.
- An exception in a job is logged and counted; the job runs again at its next occurrence and
  the scheduler carries on. :meth:`Scheduler.stop` cancels every job cleanly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day

from prometheus_client import Counter, Histogram

from axis.observability.alerts import raise_alert
from axis.observability.logging import get_logger
from axis.observability.metrics import REGISTRY
from axis.worker.clocks import TimerClock

log = get_logger("axis.worker.scheduler")

job_runs_total = Counter(
    "axis_job_runs_total",
    "Scheduled worker job occurrences by outcome (ok, failed, skipped_overlap, missed)",
    ["job", "outcome"],
    registry=REGISTRY,
)
job_slow_total = Counter(
    "axis_job_slow_total", "Worker job runs that went over their budget", ["job"], registry=REGISTRY
)
job_duration_seconds = Histogram(
    "axis_job_duration_seconds",
    "Worker job run time (wall-clock seconds)",
    ["job"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0),
    registry=REGISTRY,
)

LOG_EVERY_S = 60.0  # passed-over occurrences of one job are logged at most this often
MAX_CATCH_UP = 100_000  # passed occurrences counted one by one before resuming from now

JobFn = Callable[[int], Awaitable[None]]
"""A job: called with the clock time (epoch ms) of the occurrence it runs for."""


@dataclass(frozen=True, slots=True)
class Every:
    """Every ``seconds``; ``aligned`` puts occurrences on multiples of the period since the
    epoch (``Every(300, aligned=True)`` fires at :00, :05, :10 ... UTC)."""

    seconds: float
    aligned: bool = False

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise ValueError(f"Every: seconds must be positive, got {self.seconds}")

    @property
    def period_ms(self) -> int:
        return max(1, round(self.seconds * 1000))

    def first_after(self, start_ms: int) -> int:
        if self.aligned:
            return self.next_after(start_ms)
        return start_ms + self.period_ms

    def next_after(self, ms: int) -> int:
        # For unaligned cadences `ms` is always a previous occurrence, so adding the period
        # keeps the phase set by the start.
        if self.aligned:
            return (ms // self.period_ms + 1) * self.period_ms
        return ms + self.period_ms


@dataclass(frozen=True, slots=True)
class DailyAt:
    """Once a day at ``at`` (UTC)."""

    at: time_of_day

    def first_after(self, start_ms: int) -> int:
        return self.next_after(start_ms)

    def next_after(self, ms: int) -> int:
        now = datetime.fromtimestamp(ms / 1000, UTC)
        candidate = datetime.combine(now.date(), self.at.replace(tzinfo=UTC))
        if candidate <= now:
            candidate += timedelta(days=1)
        return int(candidate.timestamp() * 1000)


Cadence = Every | DailyAt


@dataclass(slots=True)
class JobStats:
    """What a job did so far (read by the status snapshot and the tests)."""

    runs: int = 0
    failures: int = 0
    skipped_overlap: int = 0  # occurrences that came due while the previous run still ran
    missed: int = 0  # occurrences the clock jumped over while the job was idle
    slow: int = 0
    last_due_ms: int | None = None
    last_duration_s: float | None = None
    last_error: str | None = None
    running: bool = False


@dataclass(slots=True)
class Job:
    name: str
    cadence: Cadence
    fn: JobFn
    budget_s: float
    run_at_start: bool
    stats: JobStats


class Scheduler:
    """Runs each added job in its own task on ``clock`` until :meth:`stop`."""

    def __init__(self, clock: TimerClock) -> None:
        self.clock = clock
        self._jobs: dict[str, Job] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._logged_at: dict[tuple[str, str], float] = {}
        self._unlogged: dict[tuple[str, str], int] = {}

    def add(
        self,
        name: str,
        cadence: Cadence,
        fn: JobFn,
        *,
        budget_s: float = 5.0,
        run_at_start: bool = False,
    ) -> None:
        """Register a job; if the scheduler is running it starts at once."""
        if name in self._jobs:
            raise ValueError(f"job {name!r} is already scheduled")
        if not budget_s > 0:
            raise ValueError(f"job {name!r}: budget_s must be positive, got {budget_s}")
        job = Job(name, cadence, fn, budget_s, run_at_start, JobStats())
        self._jobs[name] = job
        if self.running:
            self._spawn(job, self.clock.now_ms())

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    def stats(self, name: str) -> JobStats:
        return self._jobs[name].stats

    def jobs(self) -> dict[str, JobStats]:
        return {name: job.stats for name, job in self._jobs.items()}

    def start(self) -> None:
        """Start every job's loop on the running event loop."""
        if self.running:
            raise RuntimeError("scheduler already started")
        start = self.clock.now_ms()  # one phase for every unaligned job started together
        for job in self._jobs.values():
            self._spawn(job, start)

    async def stop(self) -> None:
        """Cancel every job (a running job sees ``CancelledError`` at its current await)."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, job: Job, start: int) -> None:
        self._tasks[job.name] = asyncio.create_task(self._loop(job, start), name=f"job:{job.name}")

    async def _loop(self, job: Job, start: int) -> None:
        due = start if job.run_at_start else job.cadence.first_after(start)
        while True:
            await self.clock.sleep_until(due)
            # Woken late (the clock jumped): run once, for the latest occurrence that is due.
            due, jumped = self._latest_due(job, due, self.clock.now_ms())
            if jumped:
                job.stats.missed += jumped
                self._passed_over(job, "missed", jumped)
            await self._run(job, due)
            # What came due while it ran is skipped: a job never overlaps itself.
            last, overlapped = self._latest_due(job, due, self.clock.now_ms())
            if overlapped:
                job.stats.skipped_overlap += overlapped
                self._passed_over(job, "skipped_overlap", overlapped)
            due = job.cadence.next_after(last)
            # Yield once per run even when the next occurrence is already due: on a fast replay
            # clock a job must never starve the feed and the other jobs of the event loop.
            await asyncio.sleep(0)

    def _passed_over(self, job: Job, outcome: str, occurrences: int) -> None:
        """Count occurrences that did not run; log them at most once a minute per job and
        outcome (a fast replay passes over short cadences all the time: a line each would
        flood the log)."""
        job_runs_total.labels(job=job.name, outcome=outcome).inc(occurrences)
        key = (job.name, outcome)
        pending = self._unlogged.get(key, 0) + occurrences
        now = time.monotonic()
        if now - self._logged_at.get(key, -LOG_EVERY_S) < LOG_EVERY_S:
            self._unlogged[key] = pending
            return
        self._logged_at[key] = now
        self._unlogged[key] = 0
        log.warning(f"job_{outcome}", job=job.name, occurrences=pending)

    @staticmethod
    def _latest_due(job: Job, due: int, now: int) -> tuple[int, int]:
        """The last occurrence at or before ``now`` from ``due`` on, and how many it passed."""
        passed = 0
        while (following := job.cadence.next_after(due)) <= now:
            passed += 1
            due = following
            if passed >= MAX_CATCH_UP:  # a huge jump: resume from now rather than iterate
                return now, passed
        return due, passed

    async def _run(self, job: Job, due: int) -> None:
        stats = job.stats
        stats.last_due_ms = due
        stats.running = True
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        watchdog = loop.call_later(job.budget_s, self._report_slow, job, due)
        outcome = "ok"
        try:
            await job.fn(due)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failing job must not stop the scheduler or other jobs
            outcome = "failed"
            stats.failures += 1
            stats.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("job_failed", job=job.name, due_ms=due)
        finally:
            watchdog.cancel()
            stats.running = False
            elapsed = time.perf_counter() - started
            stats.last_duration_s = elapsed
            job_duration_seconds.labels(job=job.name).observe(elapsed)
        stats.runs += 1
        job_runs_total.labels(job=job.name, outcome=outcome).inc()

    def _report_slow(self, job: Job, due: int) -> None:
        job.stats.slow += 1
        job_slow_total.labels(job=job.name).inc()
        raise_alert(
            "job_slow",
            f"job {job.name} still running after its {job.budget_s:g}s budget",
            severity="warning",
            job=job.name,
            due_ms=due,
        )
