"""The worker scheduler: cadences, simulated time, no self-overlap, slow and failing jobs, stop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from datetime import time as time_of_day

import pytest
from structlog.testing import capture_logs

from axis.observability import alerts
from axis.observability.metrics import REGISTRY
from axis.worker.clocks import AcceleratedClock, SteppedClock, WallTimer
from axis.worker.scheduler import DailyAt, Every, Scheduler

MIN = 60_000
T0 = int(datetime(2024, 3, 1, 0, 2, 30, tzinfo=UTC).timestamp() * 1000)  # mid-interval start


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(coro())  # type: ignore[arg-type]


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_every_unaligned_keeps_the_start_phase() -> None:
    every = Every(60)
    assert every.first_after(T0) == T0 + MIN
    assert every.next_after(T0 + MIN) == T0 + 2 * MIN


def test_every_aligned_fires_on_the_clock_boundary() -> None:
    five = Every(300, aligned=True)
    boundary = int(datetime(2024, 3, 1, 0, 5, tzinfo=UTC).timestamp() * 1000)
    assert five.first_after(T0) == boundary
    assert five.next_after(boundary) == boundary + 5 * MIN  # strictly after a boundary


def test_daily_at_is_today_if_still_ahead_else_tomorrow() -> None:
    daily = DailyAt(time_of_day(0, 0))
    midnight = int(datetime(2024, 3, 2, tzinfo=UTC).timestamp() * 1000)
    assert daily.next_after(T0) == midnight
    assert daily.next_after(midnight) == midnight + 86_400_000
    assert DailyAt(time_of_day(12, 30)).next_after(T0) == T0 + (12 * 60 + 28) * MIN - 30_000


def test_bad_cadence_and_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError, match="seconds must be positive"):
        Every(0)
    scheduler = Scheduler(SteppedClock(T0))

    async def job(_: int) -> None:
        return None

    scheduler.add("a", Every(1), job)
    with pytest.raises(ValueError, match="already scheduled"):
        scheduler.add("a", Every(1), job)


def test_jobs_fire_at_their_simulated_times_however_the_replay_jumps() -> None:
    clock = SteppedClock(T0)
    scheduler = Scheduler(clock)
    seen: dict[str, list[tuple[int, int]]] = {"monitor": [], "data": []}

    def recorder(name: str) -> Callable[[int], Awaitable[None]]:
        async def job(due: int) -> None:
            seen[name].append((due, clock.now_ms()))

        return job

    scheduler.add("monitor", Every(60), recorder("monitor"))
    scheduler.add("data", Every(300, aligned=True), recorder("data"), run_at_start=True)

    async def replay() -> None:
        scheduler.start()
        await asyncio.sleep(0)
        for bar in range(1, 13):  # a replay that jumps straight from bar close to bar close
            await clock.advance_to(T0 + bar * 5 * MIN)
        await scheduler.stop()

    run(replay)
    monitor = seen["monitor"]
    assert [due for due, _ in monitor] == [T0 + k * MIN for k in range(1, 61)]
    assert all(now == due for due, now in monitor)  # the job saw its own time, not the bar's
    boundary = int(datetime(2024, 3, 1, 0, 5, tzinfo=UTC).timestamp() * 1000)
    assert [due for due, _ in seen["data"]] == [T0] + [boundary + k * 5 * MIN for k in range(12)]
    assert scheduler.stats("monitor").runs == 60
    assert scheduler.stats("monitor").missed == scheduler.stats("monitor").skipped_overlap == 0


def test_a_job_never_overlaps_itself_and_skips_are_counted() -> None:
    clock = SteppedClock(T0)
    scheduler = Scheduler(clock)
    started: list[int] = []
    gate: dict[str, asyncio.Event] = {}  # created inside the running loop

    async def slow_snapshot(due: int) -> None:
        started.append(due)
        if len(started) == 1:
            await gate["open"].wait()

    scheduler.add("snapshot", Every(60), slow_snapshot, budget_s=60)
    before = metric("axis_job_runs_total", job="snapshot", outcome="skipped_overlap")

    async def replay() -> None:
        gate["open"] = asyncio.Event()
        scheduler.start()
        await asyncio.sleep(0)
        await clock.advance_to(T0 + MIN)  # first run starts and blocks
        assert scheduler.stats("snapshot").running
        await clock.advance_to(T0 + 4 * MIN + 10_000)  # three more occurrences come due
        assert started == [T0 + MIN]
        gate["open"].set()
        for _ in range(5):
            await asyncio.sleep(0)
        await clock.advance_to(T0 + 5 * MIN)
        await scheduler.stop()

    run(replay)
    stats = scheduler.stats("snapshot")
    assert started == [T0 + MIN, T0 + 5 * MIN]
    assert stats.skipped_overlap == 3
    assert stats.runs == 2
    after = metric("axis_job_runs_total", job="snapshot", outcome="skipped_overlap")
    assert after - before == 3


def test_a_failing_job_is_counted_and_the_scheduler_carries_on() -> None:
    clock = SteppedClock(T0)
    scheduler = Scheduler(clock)
    healthy: list[int] = []
    attempts: list[int] = []

    async def broken(due: int) -> None:
        attempts.append(due)
        raise RuntimeError("venue said no")

    async def fine(due: int) -> None:
        healthy.append(due)

    scheduler.add("regime", Every(60), broken)
    scheduler.add("monitor", Every(60), fine)
    before = metric("axis_job_runs_total", job="regime", outcome="failed")

    async def replay() -> None:
        scheduler.start()
        await asyncio.sleep(0)
        await clock.advance_to(T0 + 3 * MIN)
        await scheduler.stop()

    run(replay)
    assert len(attempts) == len(healthy) == 3  # it ran again at each occurrence
    stats = scheduler.stats("regime")
    assert stats.failures == 3
    assert stats.last_error == "RuntimeError: venue said no"
    assert metric("axis_job_runs_total", job="regime", outcome="failed") - before == 3


def test_a_slow_job_is_reported_while_it_runs() -> None:
    scheduler = Scheduler(WallTimer())
    raised: list[alerts.Alert] = []
    finished: list[bool] = []

    async def slow(_: int) -> None:
        await asyncio.sleep(0.2)
        finished.append(True)

    scheduler.add("summary", Every(3600), slow, budget_s=0.02, run_at_start=True)
    before = metric("axis_job_slow_total", job="summary")

    async def main() -> None:
        alerts.add_sink(raised.append)
        try:
            scheduler.start()
            await asyncio.sleep(0.1)
            assert [a.kind for a in raised] == ["job_slow"]  # reported before it finished
            assert not finished
            await asyncio.sleep(0.2)
        finally:
            alerts.remove_sink(raised.append)
            await scheduler.stop()

    run(main)
    assert finished == [True]  # reported, not cancelled
    assert raised[0].fields["job"] == "summary"
    assert scheduler.stats("summary").slow == 1
    assert metric("axis_job_slow_total", job="summary") - before == 1


def test_a_clock_jump_runs_once_for_the_latest_occurrence_and_counts_the_missed() -> None:
    class JumpingClock:
        """Sleeps until the test moves time, then wakes however far it went."""

        def __init__(self) -> None:
            self.now = T0
            self.moved = asyncio.Event()

        def now_ms(self) -> int:
            return self.now

        async def sleep_until(self, when_ms: int) -> None:
            while self.now < when_ms:
                self.moved.clear()
                await self.moved.wait()

        def jump(self, to_ms: int) -> None:
            self.now = to_ms
            self.moved.set()

    dues: list[int] = []

    async def monitor(due: int) -> None:
        dues.append(due)

    async def main() -> None:
        clock = JumpingClock()
        scheduler = Scheduler(clock)
        scheduler.add("monitor", Every(60), monitor)
        scheduler.start()
        await asyncio.sleep(0)
        clock.jump(T0 + 10 * MIN + 5)  # a laptop waking from sleep
        for _ in range(5):
            await asyncio.sleep(0)
        await scheduler.stop()
        assert scheduler.stats("monitor").missed == 9

    run(main)
    assert dues == [T0 + 10 * MIN]


def test_accelerated_replay_at_1000x_fires_on_simulated_time() -> None:
    clock = AcceleratedClock(T0, speed=1000)
    scheduler = Scheduler(clock)
    seen: list[tuple[int, int]] = []

    async def monitor(due: int) -> None:
        seen.append((due, clock.now_ms()))

    scheduler.add("monitor", Every(60, aligned=True), monitor)

    async def main() -> None:
        scheduler.start()
        await clock.sleep_until(T0 + 5 * MIN)  # 0.3 s of real time
        await scheduler.stop()

    run(main)
    assert [due for due, _ in seen] == [T0 + 30_000 + k * MIN for k in range(5)]
    # Fired at (never before) the simulated time, within the loop's wake-up latency.
    assert all(0 <= now - due < 30_000 for due, now in seen)


def test_stop_cancels_a_running_job_cleanly() -> None:
    clock = SteppedClock(T0)
    scheduler = Scheduler(clock)
    cancelled: list[bool] = []

    async def stuck(_: int) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    scheduler.add("stuck", Every(60), stuck, budget_s=60, run_at_start=True)

    async def main() -> None:
        scheduler.start()
        for _ in range(3):
            await asyncio.sleep(0)
        assert scheduler.stats("stuck").running
        await scheduler.stop()
        assert not scheduler.running
        assert all(
            task.done() for task in asyncio.all_tasks() if task is not asyncio.current_task()
        )

    run(main)
    assert cancelled == [True]


def test_a_replay_faster_than_a_job_never_starves_the_loop_and_logs_once() -> None:
    clock = AcceleratedClock(T0, speed=1_000_000)  # a 1 s cadence passes every microsecond
    scheduler = Scheduler(clock)
    runs: list[int] = []

    async def monitor(due: int) -> None:
        runs.append(due)

    scheduler.add("monitor", Every(1), monitor)
    before = metric("axis_job_runs_total", job="monitor", outcome="missed")

    async def main() -> None:
        scheduler.start()
        await asyncio.sleep(0.1)
        await scheduler.stop()

    with capture_logs() as logs:
        run(main)
    missed = scheduler.stats("monitor").missed
    assert missed > 1_000
    assert len(runs) > 1
    assert metric("axis_job_runs_total", job="monitor", outcome="missed") - before == missed
    lines = [entry for entry in logs if entry["event"] == "job_missed"]
    assert len(lines) == 1  # counted in full, logged once this minute
