from __future__ import annotations

import time

import pytest

from axis.engine.clock import ClockError, SimulatedClock, WallClock


def test_simulated_clock_moves_only_forward() -> None:
    clock = SimulatedClock(1_000)
    assert clock.now_ms() == 1_000
    clock.advance_to(1_000)
    clock.advance_to(5_000)
    assert clock.now_ms() == 5_000
    with pytest.raises(ClockError, match="cannot go back"):
        clock.advance_to(4_999)
    assert clock.now_ms() == 5_000


def test_wall_clock_is_utc_epoch_ms() -> None:
    before = time.time() * 1000
    now = WallClock().now_ms()
    after = time.time() * 1000
    assert before - 1 <= now <= after + 1
