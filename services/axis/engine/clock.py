"""Clocks: what "now" means for the engine. Backtests run on simulated time that only moves
forward with the data; paper and live trading run on the wall clock."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Current time, epoch milliseconds (UTC)."""
        ...


class ClockError(RuntimeError):
    """Simulated time was asked to move backwards."""


class SimulatedClock:
    """Time set by the data being replayed. It never moves backwards: an out-of-order event
    is a bug in the feed, and an engine that silently accepted it would trade on the future."""

    __slots__ = ("_now",)

    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms

    def now_ms(self) -> int:
        return self._now

    def advance_to(self, timestamp_ms: int) -> None:
        if timestamp_ms < self._now:
            raise ClockError(f"simulated time cannot go back from {self._now} to {timestamp_ms}")
        self._now = timestamp_ms


class WallClock:
    """The machine's UTC clock, for paper and live trading."""

    __slots__ = ()

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000
