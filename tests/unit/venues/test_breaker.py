"""The circuit breaker's state machine: consecutive failures, slow answers, the cool-down, the
half-open probe and its two outcomes, each transition reported once with its reason."""

from __future__ import annotations

import pytest
from fakes import FakeClock

from axis.venues.breaker import BreakerConfig, BreakerState, BreakerTransition, CircuitBreaker


def _breaker(clock: FakeClock, seen: list[BreakerTransition]) -> CircuitBreaker:
    config = BreakerConfig(failure_threshold=3, latency_threshold_s=2.0, cool_down_s=30.0)
    return CircuitBreaker("binance", config, clock=clock, on_transition=seen.append)


def _moves(seen: list[BreakerTransition]) -> list[tuple[str, str]]:
    return [(t.old.value, t.new.value) for t in seen]


def test_opens_on_consecutive_failures_only() -> None:
    clock, seen = FakeClock(), []
    breaker = _breaker(clock, seen)
    breaker.record_failure("timeout")
    breaker.record_failure("timeout")
    breaker.record_success(0.1)  # the run is broken: counting starts again
    breaker.record_failure("timeout")
    breaker.record_failure("timeout")
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow()
    breaker.record_failure("HTTP 502")
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    assert _moves(seen) == [("closed", "open")]
    assert seen[0].reason == "3 consecutive failures, last: HTTP 502"


def test_answers_slower_than_the_threshold_count_as_failures() -> None:
    clock, seen = FakeClock(), []
    breaker = _breaker(clock, seen)
    for _ in range(3):
        breaker.record_success(2.5)
    assert breaker.state is BreakerState.OPEN
    assert "latency 2.500s above 2s" in seen[0].reason
    fresh = _breaker(FakeClock(), [])
    for _ in range(10):
        fresh.record_success(1.9)
    assert fresh.state is BreakerState.CLOSED


def test_half_open_after_the_cool_down_lets_one_probe_through_and_closes_on_success() -> None:
    clock, seen = FakeClock(), []
    breaker = _breaker(clock, seen)
    breaker.trip("venue reports itself down")
    clock.advance(29.9)
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    breaker.record_success(0.1)  # a call in flight when it opened proves nothing
    assert breaker.state is BreakerState.OPEN
    clock.advance(0.1)
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()  # one probe at a time
    breaker.record_success(0.2)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.consecutive_failures == 0
    assert _moves(seen) == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    assert [t.reason for t in seen[1:]] == ["cool-down elapsed", "probe succeeded"]


@pytest.mark.parametrize("probe", ["error", "slow"])
def test_a_failed_or_slow_probe_reopens_with_a_fresh_cool_down(probe: str) -> None:
    clock, seen = FakeClock(), []
    breaker = _breaker(clock, seen)
    for _ in range(3):
        breaker.record_failure("timeout")
    clock.advance(30)
    assert breaker.allow()
    if probe == "error":
        breaker.record_failure("connection refused")
    else:
        breaker.record_success(5.0)
    assert breaker.state is BreakerState.OPEN
    assert seen[-1].reason.startswith("probe failed: ")
    clock.advance(29)
    assert breaker.state is BreakerState.OPEN  # the cool-down restarted at the failed probe
    clock.advance(1)
    assert breaker.state is BreakerState.HALF_OPEN
    assert _moves(seen) == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
        ("open", "half_open"),
    ]


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        BreakerConfig(failure_threshold=0)
    with pytest.raises(ValueError, match="latency_threshold_s"):
        BreakerConfig(latency_threshold_s=0)
