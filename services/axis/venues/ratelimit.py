"""A weight-aware rate limiter per exchange account, shared by everything using the account.

Exchanges limit request *weight* per account (Binance: 1200 weight a minute, one order query
weighing 2, a full ticker list 40). A token bucket holds ``capacity`` weight and refills at
``rate`` weight per second; a call of weight ``w`` waits until ``w`` tokens are there. When the
exchange says we went too fast (429/418, with or without Retry-After) the bucket is emptied and
closed until the penalty has passed, so every user of the account backs off together.

Users of one account must share one limiter: :func:`limiter_for` keeps a registry keyed by
exchange and account.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

# Tokens short by less than this share of a call's weight count as there: the refill arithmetic
# leaves dust, and waiting out dust (nanoseconds) could spin on a coarse clock.
_SLACK = 1e-9


@dataclass(slots=True)
class RateLimiter:
    """Token bucket on request weight. ``clock`` and ``sleep`` are injectable for tests."""

    rate: float  # weight per second
    capacity: float  # largest burst, in weight
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    waits: int = 0  # calls that had to wait
    waited_seconds: float = 0.0
    penalties: int = 0  # times the exchange told us to back off
    _tokens: float = field(init=False)
    _updated: float = field(init=False)
    _blocked_until: float = field(init=False, default=0.0)
    _lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        if not self.rate > 0 or not self.capacity > 0:
            raise ValueError("rate limiter rate and capacity must be positive")
        self._tokens = self.capacity
        self._updated = self.clock()

    def _refill(self, now: float) -> None:
        if now > self._updated:
            start = max(self._updated, self._blocked_until)
            if now > start:
                self._tokens = min(self.capacity, self._tokens + (now - start) * self.rate)
            self._updated = now

    def _delay(self, weight: float, now: float) -> float:
        """Seconds until ``weight`` may be spent."""
        if now < self._blocked_until:
            return self._blocked_until - now + weight / self.rate
        missing = min(weight, self.capacity) - self._tokens
        if missing <= _SLACK * max(weight, 1.0):  # float dust from the refill arithmetic
            return 0.0
        return missing / self.rate

    async def acquire(self, weight: float = 1.0) -> None:
        """Wait until ``weight`` may be spent, then spend it. Callers queue in arrival order
        (the lock), so a heavy call is not starved by a stream of light ones."""
        weight = max(float(weight), 0.0)
        async with self._lock:
            waited = False
            while True:
                now = self.clock()
                self._refill(now)
                delay = self._delay(weight, now)
                if delay <= 0:
                    break
                if not waited:
                    self.waits += 1
                    waited = True
                self.waited_seconds += delay
                await self.sleep(delay)
            # A call heavier than the bucket runs on a full bucket and leaves it in debt.
            self._tokens -= weight

    def penalize(self, seconds: float) -> None:
        """The exchange said we are too fast: spend nothing for ``seconds`` and start empty."""
        now = self.clock()
        self._refill(now)
        self.penalties += 1
        self._tokens = 0.0
        self._blocked_until = max(self._blocked_until, now + max(seconds, 0.0))
        self._updated = now

    def headroom(self) -> float:
        """Share of the bucket available now, 0..1 (0 while a penalty lasts)."""
        now = self.clock()
        if now < self._blocked_until:
            return 0.0
        self._refill(now)
        return min(max(self._tokens / self.capacity, 0.0), 1.0)


_REGISTRY: dict[tuple[str, str], RateLimiter] = {}


def limiter_for(exchange: str, account: str, rate: float, capacity: float) -> RateLimiter:
    """The one limiter of an exchange account; created with ``rate``/``capacity`` on first use.

    ``account`` is a label (a connector name or a key fingerprint), never a secret.
    """
    key = (exchange, account)
    limiter = _REGISTRY.get(key)
    if limiter is None:
        limiter = _REGISTRY[key] = RateLimiter(rate=rate, capacity=capacity)
    return limiter


def forget_limiters() -> None:
    """Drop every registered limiter (tests, and a process that re-reads its accounts)."""
    _REGISTRY.clear()
