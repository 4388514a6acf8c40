"""Redis goes down mid-test (a redis-server of the test's own, stopped), the API keeps serving
from the database with an alert, and recovers cleanly when Redis is back."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from axis.api import create_app
from axis.config.settings import AxisSettings
from axis.observability import add_sink, remove_sink
from axis.observability.alerts import Alert
from axis.observability.metrics import cache_requests_total
from axis.store.cache import keys

PASSWORD = "correct horse battery staple"


@pytest.fixture
def alerts() -> Any:
    seen: list[Alert] = []
    add_sink(seen.append)
    yield seen
    remove_sink(seen.append)


def _errors(kind: str) -> float:
    return cache_requests_total.labels(kind=kind, result="error")._value.get()


def test_reads_fall_back_to_the_database_while_redis_is_down(
    own_redis: Any, tmp_path: Path, alerts: list[Alert], pg_url: str
) -> None:
    settings = AxisSettings(
        data_dir=tmp_path,
        database_url=pg_url,
        redis_url=own_redis.url,
        password_time_cost=1,
        password_memory_kib=1024,
        password_parallelism=1,
        log_level="error",
    )
    app = create_app(settings)
    ctx = app.state.context
    with TestClient(app) as client:
        client.post(
            "/api/v2/auth/register",
            json={"username": "fallback", "email": "fb@example.com", "password": PASSWORD},
        )
        token = client.post(
            "/api/v2/auth/login", json={"username": "fallback", "password": PASSWORD}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        me = client.get("/api/v2/auth/me", headers=headers).json()["user_id"]
        opened = client.post(
            "/api/v2/positions/open",
            headers=headers,
            json={
                "user_id": me,
                "symbol": "BTCUSDT",
                "side": "LONG",
                "leverage": 5,
                "size_usdt": 500,
            },
        )
        assert opened.status_code == 200, opened.text
        market = client.get("/api/v2/data/market/BTCUSDT", headers=headers).json()
        before = client.get(f"/api/v2/users/{me}/portfolio", headers=headers).json()
        assert ctx.cache.get(keys.user_positions(me)) is not None  # warm
        direct = redis.Redis.from_url(own_redis.url)
        direct.save()  # the restarted server will come back with these (soon stale) values
        streams_before = direct.xlen(keys.STREAM_FILLS)
        direct.close()

        own_redis.stop()  # ---- Redis is down ----

        errors = _errors("user_account")
        during = client.get(f"/api/v2/users/{me}/portfolio", headers=headers)
        assert during.status_code == 200
        assert during.json()["total_value_usdt"] == pytest.approx(before["total_value_usdt"])
        assert _errors("user_account") > errors
        down = [a for a in alerts if a.kind == "cache_down"]
        assert len(down) == 1
        market_down = client.get("/api/v2/data/market/BTCUSDT", headers=headers)
        assert market_down.status_code == 200
        assert market_down.json()["ohlcv"] == market["ohlcv"]
        added = client.post(
            "/api/v2/positions/open",
            headers=headers,
            json={
                "user_id": me,
                "symbol": "XRPUSDT",
                "side": "SHORT",
                "leverage": 3,
                "size_usdt": 300,
            },
        )
        assert added.status_code == 200, added.text
        after_add = client.get(f"/api/v2/users/{me}/portfolio", headers=headers).json()
        assert "XRP" in after_add["allocations"]
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["cache"].startswith("degraded")
        assert len([a for a in alerts if a.kind == "cache_down"]) == 1  # one per outage

        own_redis.start()  # ---- Redis is back, with the values saved before the outage ----
        time.sleep(ctx.cache.retry_after_s + 0.1)

        healed = client.get(f"/api/v2/users/{me}/portfolio", headers=headers).json()
        assert "XRP" in healed["allocations"]  # the stale cached book was dropped
        assert any(a.kind == "cache_recovered" for a in alerts)
        assert ctx.cache.healthy
        direct = redis.Redis.from_url(own_redis.url)
        # the fill and order events of the outage were appended once Redis was back
        assert direct.xlen(keys.STREAM_FILLS) == streams_before + 1
        direct.close()
    ctx.close()
