"""The cache and bus behave the same on Redis and in-process: TTLs, windows, locks, streams."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from axis.store.cache import MemoryCache, RedisCache, ResilientCache, keys, read_through


@pytest.fixture(params=["redis", "memory"])
def cache(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryCache()
        return
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    backend = RedisCache(url, prefix=prefix)
    yield backend
    backend.close()


def test_values_expire_after_their_ttl(cache: Any) -> None:
    cache.set("a", b"1", ttl_s=0.2)
    cache.set("b", "two")
    assert cache.get("a") == b"1"
    assert cache.get_many(["a", "b", "c"]) == [b"1", b"two", None]
    value, ttl = cache.get_with_ttl("a")
    assert value == b"1"
    assert 0 < ttl <= 0.2
    assert cache.ttl("b") is None
    time.sleep(0.3)
    assert cache.get("a") is None
    cache.delete("b")
    assert cache.get("b") is None


def test_fixed_windows_count_and_say_when_they_end(cache: Any) -> None:
    counts = [cache.hit_window("w", 2)[0] for _ in range(3)]
    assert counts == [1, 2, 3]
    _, left = cache.hit_window("w", 2)
    assert 0 < left <= 2
    time.sleep(2.1)
    assert cache.hit_window("w", 2)[0] == 1


def test_locks_belong_to_their_owner_and_expire(cache: Any) -> None:
    lock = keys.trading_lock(7)
    assert cache.acquire_lock(lock, "exec-1", 0.3)
    assert not cache.acquire_lock(lock, "exec-2", 0.3)
    assert cache.lock_owner(lock) == "exec-1"
    assert not cache.release_lock(lock, "exec-2")  # not the owner
    assert cache.release_lock(lock, "exec-1")
    assert cache.acquire_lock(lock, "exec-2", 0.2)
    time.sleep(0.3)
    assert cache.acquire_lock(lock, "exec-3", 1)  # the dead holder's lock expired


def test_only_one_of_many_racing_acquires_wins(cache: Any) -> None:
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def race(name: str) -> None:
        barrier.wait()
        if cache.acquire_lock("race", name, 5):
            winners.append(name)

    threads = [threading.Thread(target=race, args=(f"t{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def test_streams_deliver_in_order_and_groups_share_work(cache: Any) -> None:
    ids = [cache.publish(keys.STREAM_FILLS, {"n": str(i)}) for i in range(5)]
    assert len(set(ids)) == 5
    events = cache.read(keys.STREAM_FILLS, "0", 10)
    assert [e.fields["n"] for e in events] == ["0", "1", "2", "3", "4"]
    assert [e.fields["n"] for e in cache.read(keys.STREAM_FILLS, ids[2], 10)] == ["3", "4"]
    first = cache.read_group(keys.STREAM_FILLS, "workers", "w1", count=3)
    second = cache.read_group(keys.STREAM_FILLS, "workers", "w2", count=10)
    assert [e.fields["n"] for e in first] == ["0", "1", "2"]
    assert [e.fields["n"] for e in second] == ["3", "4"]
    assert cache.ack(keys.STREAM_FILLS, "workers", *[e.id for e in first]) == 3
    assert set(cache.pending(keys.STREAM_FILLS, "workers")) == {e.id for e in second}
    assert cache.length(keys.STREAM_FILLS) == 5


def test_a_blocking_read_wakes_on_publish(cache: Any) -> None:
    cache.publish(keys.STREAM_ALERTS, {"n": "0"})
    last = cache.read(keys.STREAM_ALERTS)[-1].id
    timer = threading.Timer(0.2, lambda: cache.publish(keys.STREAM_ALERTS, {"n": "1"}))
    timer.start()
    started = time.monotonic()
    events = cache.read(keys.STREAM_ALERTS, last, 10, block_ms=3000)
    timer.join()
    assert [e.fields["n"] for e in events] == ["1"]
    assert time.monotonic() - started < 2.5


def test_read_through_loads_once_and_counts(cache: Any) -> None:
    resilient = ResilientCache(cache)
    loads: list[int] = []

    def load() -> bytes:
        loads.append(1)
        return b"from-db"

    assert read_through(resilient, "rt", "test", load, 10) == (b"from-db", "miss")
    assert read_through(resilient, "rt", "test", load, 10) == (b"from-db", "hit")
    assert len(loads) == 1


def test_seed_key_scheme() -> None:
    assert keys.market_ohlcv("binance", "BTCUSDT", "15m") == "market:binance:BTCUSDT:ohlcv_15m"
    assert keys.market_indicators("binance", "BTC/USDT:USDT") == "market:binance:BTCUSDT:indicators"
    assert keys.market_funding("binance", "ETHUSDT") == "market:binance:ETHUSDT:funding"
    assert keys.market_price_change("binance", "BTCUSDT") == (
        "market:binance:BTCUSDT:price_change_15m"
    )
    assert keys.market_ohlcv("binance", "BTC/USDT", "5m") == "market:binance:BTCUSDT-SPOT:ohlcv_5m"
    assert keys.user_positions(1) == "user:1:positions"
    assert keys.user_margin_ratio(1) == "user:1:margin_ratio"
    assert keys.user_has_open_position(1) == "user:1:has_open_position"
    assert keys.trading_lock(1) == "trading:lock:user:1"
    assert keys.REGIME_CURRENT == "regime:current"
    assert keys.market_ttl(300) == 360  # 5 minutes × 1.2 = the seed's 6 minutes
    assert keys.summary_ttl(1800) == 2700  # 30 minutes × 1.5 = the seed's 45 minutes
    assert (keys.USER_TTL_S, keys.SYSTEM_TTL_S, keys.QUICKFILTER_TTL_S, keys.LOCK_TTL_S) == (
        60,
        3600,
        900,
        600,
    )
    assert keys.ccxt_symbol("BTCUSDT") == "BTC/USDT:USDT"
    assert keys.ccxt_symbol("ethusdc") == "ETH/USDC:USDC"
    assert keys.perpetual_symbol("XRP/USDT") == "XRP/USDT:USDT"
    with pytest.raises(keys.SymbolError):
        keys.ccxt_symbol("BTCXYZ")
