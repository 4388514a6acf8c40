"""A circuit breaker per venue: an explicit state machine over an injectable clock.

::

    CLOSED ──N consecutive failures (a call slower than the latency threshold counts)──▶ OPEN
    OPEN ──cool-down elapsed──▶ HALF_OPEN          (one probe call is let through)
    HALF_OPEN ──probe succeeds──▶ CLOSED
    HALF_OPEN ──probe fails (or is too slow)──▶ OPEN (a fresh cool-down)

The breaker only keeps score; it makes no calls. Whoever calls the venue asks ``allow()``
first and reports each outcome with ``record_success(latency_s)`` or ``record_failure(reason)``.
Every transition goes to the ``on_transition`` callback, once, with its reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"  # calls flow
    OPEN = "open"  # calls are refused until the cool-down has passed
    HALF_OPEN = "half_open"  # one probe decides


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    failure_threshold: int = 3  # consecutive failures that open the breaker
    latency_threshold_s: float = 5.0  # a call slower than this is a failure
    cool_down_s: float = 30.0  # open this long before a probe is let through

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if not self.latency_threshold_s > 0 or not self.cool_down_s >= 0:
            raise ValueError("latency_threshold_s must be positive and cool_down_s not negative")


@dataclass(frozen=True, slots=True)
class BreakerTransition:
    venue: str
    old: BreakerState
    new: BreakerState
    reason: str


Clock = Callable[[], float]


class CircuitBreaker:
    def __init__(
        self,
        venue: str,
        config: BreakerConfig | None = None,
        *,
        clock: Clock = time.monotonic,
        on_transition: Callable[[BreakerTransition], None] | None = None,
    ) -> None:
        self.venue = venue
        self.config = config or BreakerConfig()
        self._clock = clock
        self._on_transition = on_transition
        self._state = BreakerState.CLOSED
        self.consecutive_failures = 0
        self.opened_at: float | None = None
        self.last_failure = ""
        self._probe_out = False  # HALF_OPEN: the one probe has been let through

    @property
    def state(self) -> BreakerState:
        """The state now: an OPEN breaker whose cool-down has passed reads HALF_OPEN."""
        if (
            self._state is BreakerState.OPEN
            and self.opened_at is not None
            and self._clock() - self.opened_at >= self.config.cool_down_s
        ):
            self._probe_out = False
            self._move(BreakerState.HALF_OPEN, "cool-down elapsed")
        return self._state

    @property
    def is_closed(self) -> bool:
        return self.state is BreakerState.CLOSED

    def allow(self) -> bool:
        """May a call go to the venue now? In HALF_OPEN only the first caller gets the probe."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probe_out:
            self._probe_out = True
            return True
        return False

    def record_success(self, latency_s: float = 0.0) -> None:
        if latency_s > self.config.latency_threshold_s:
            self.record_failure(
                f"latency {latency_s:.3f}s above {self.config.latency_threshold_s:g}s"
            )
            return
        state = self.state
        if state is BreakerState.OPEN:
            return  # a call that was in flight when it opened proves nothing: wait for the probe
        self.consecutive_failures = 0
        if state is BreakerState.HALF_OPEN:
            self.opened_at = None
            self._move(BreakerState.CLOSED, "probe succeeded")

    def record_failure(self, reason: str) -> None:
        self.last_failure = reason
        state = self.state
        if state is BreakerState.OPEN:
            return  # calls that were already in flight when it opened
        self.consecutive_failures += 1
        if state is BreakerState.HALF_OPEN:
            self._open(f"probe failed: {reason}")
        elif self.consecutive_failures >= self.config.failure_threshold:
            self._open(f"{self.consecutive_failures} consecutive failures, last: {reason}")

    def trip(self, reason: str) -> None:
        """Open now, whatever the count (a venue that reports itself unhealthy)."""
        self.last_failure = reason
        if self.state is not BreakerState.OPEN:
            self._open(reason)

    def _open(self, reason: str) -> None:
        self.opened_at = self._clock()
        self._probe_out = False
        self._move(BreakerState.OPEN, reason)

    def _move(self, new: BreakerState, reason: str) -> None:
        old, self._state = self._state, new
        if old is not new and self._on_transition is not None:
            self._on_transition(BreakerTransition(self.venue, old, new, reason))
