"""The weight-aware token bucket, its penalties and the per-account registry."""

from __future__ import annotations

import pytest

from axis.venues.errors import RateLimited, classify, retry_after_seconds
from axis.venues.ratelimit import RateLimiter, forget_limiters, limiter_for


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(t: FakeTime, rate: float = 10.0, capacity: float = 20.0) -> RateLimiter:
    return RateLimiter(rate=rate, capacity=capacity, clock=t.clock, sleep=t.sleep)


@pytest.mark.asyncio
async def test_burst_up_to_capacity_then_wait_for_the_weight() -> None:
    t = FakeTime()
    bucket = limiter(t)
    await bucket.acquire(15)
    await bucket.acquire(5)
    assert t.slept == []
    assert bucket.headroom() == 0.0
    await bucket.acquire(5)  # 5 weight at 10/s: half a second
    assert t.slept == [pytest.approx(0.5)]
    assert bucket.waits == 1
    assert bucket.waited_seconds == pytest.approx(0.5)


@pytest.mark.asyncio
async def test_headroom_refills_with_time() -> None:
    t = FakeTime()
    bucket = limiter(t)
    await bucket.acquire(20)
    t.now += 1.0
    assert bucket.headroom() == pytest.approx(0.5)
    t.now += 10.0
    assert bucket.headroom() == 1.0  # never above capacity


@pytest.mark.asyncio
async def test_penalty_blocks_everyone_for_retry_after() -> None:
    t = FakeTime()
    bucket = limiter(t)
    bucket.penalize(3.0)
    assert bucket.headroom() == 0.0
    assert bucket.penalties == 1
    await bucket.acquire(1)
    assert t.now >= 3.0  # nothing spent before the penalty ended
    assert bucket.waits == 1


@pytest.mark.asyncio
async def test_a_call_heavier_than_the_bucket_runs_on_a_full_bucket() -> None:
    t = FakeTime()
    bucket = limiter(t, rate=10, capacity=20)
    await bucket.acquire(50)
    assert t.slept == []
    await bucket.acquire(1)  # the debt of 30 is paid back first
    assert t.now == pytest.approx(3.1)


def test_registry_shares_one_limiter_per_account() -> None:
    forget_limiters()
    a = limiter_for("binance", "acct-1", rate=20, capacity=1200)
    assert limiter_for("binance", "acct-1", rate=1, capacity=1) is a
    assert limiter_for("binance", "acct-2", rate=20, capacity=1200) is not a
    assert limiter_for("bybit", "acct-1", rate=50, capacity=50) is not a
    forget_limiters()


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(rate=0, capacity=10)


def test_retry_after_header_is_read_case_insensitively() -> None:
    assert retry_after_seconds({"retry-after": "12"}) == 12.0
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds(None) is None
    import ccxt

    error = classify(ccxt.RateLimitExceeded("429"), {"Retry-After": "4"})
    assert isinstance(error, RateLimited)
    assert error.retry_after == 4.0


@pytest.mark.asyncio
async def test_refill_dust_does_not_spin_on_a_coarse_clock() -> None:
    t = FakeTime()
    t.now = 7.0
    bucket = limiter(t, rate=1e6, capacity=1e6)
    bucket.penalize(7.0)
    for _ in range(50):  # each call needs a refill of a few microseconds after the penalty
        await bucket.acquire(2)
    assert t.now >= 14.0
    assert len(t.slept) < 60
