"""Market data, regime, decisions, trading trigger, strategies, backtests, audit, health."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import talib
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from axis.data import Bars
from axis.observability.metrics import cache_requests_total
from axis.store.cache import keys
from axis.store.models import AuditEntry
from axis.store.records import MarketDataRepository

Api = Any
SPEC = {"strategy": "trend_futures", "symbols": ["BTC/USDT:USDT"], "leverage": 3}


def _count(kind: str, result: str) -> float:
    return cache_requests_total.labels(kind=kind, result=result)._value.get()


def test_market_data_is_served_from_the_cache_with_cached_at(api: Api) -> None:
    alice = api.register()
    url = "/api/v2/data/market/BTCUSDT?timeframe=15m"
    misses, hits = _count("market_ohlcv", "miss"), _count("market_ohlcv", "hit")
    first = api.client.get(url, headers=alice.headers)
    assert first.status_code == 200
    body = first.json()
    assert body["symbol"] == "BTCUSDT"
    assert body["timeframe"] == "15m"
    assert body["source"] == "bundled_sample"
    assert len(body["ohlcv"]) == 200
    stamps = [c["timestamp"] for c in body["ohlcv"]]
    assert stamps == sorted(stamps)
    step = datetime.fromisoformat(stamps[1]) - datetime.fromisoformat(stamps[0])
    assert step == timedelta(minutes=15)
    closes = np.array([c["close"] for c in body["ohlcv"]])
    assert body["indicators"]["rsi"] == pytest.approx(talib.RSI(closes, 14)[-1])
    cached_at = datetime.fromisoformat(body["cached_at"])
    assert abs((cached_at - api.ctx.now()).total_seconds()) < 5
    second = api.client.get(url, headers=alice.headers)
    assert second.json()["ohlcv"] == body["ohlcv"]
    assert _count("market_ohlcv", "miss") == misses + 1
    assert _count("market_ohlcv", "hit") == hits + 1
    raw = api.ctx.cache.get(keys.market_ohlcv("binance", "BTC/USDT:USDT", "15m"))
    assert json.loads(raw)[-1][4] == body["ohlcv"][-1]["close"]  # the seed's ccxt layout
    ttl = api.ctx.cache.ttl(keys.market_ohlcv("binance", "BTC/USDT:USDT", "15m"))
    assert 0 < ttl <= 360  # collection period 5 min × 1.2
    plain = api.client.get(url + "&include_indicators=false", headers=alice.headers).json()
    assert plain["indicators"] is None


def test_stored_candles_win_over_the_bundle(api: Api) -> None:
    alice = api.register()
    now_ms = int(api.ctx.clock() * 1000) // 300_000 * 300_000
    n = 60
    ts = np.arange(now_ms - n * 300_000, now_ms, 300_000, dtype=np.int64)
    close = np.linspace(100.0, 160.0, n)
    bars = Bars("SOL/USDT:USDT", "5m", ts, close, close + 1, close - 1, close, np.full(n, 5.0))
    with api.ctx.db.session() as session:
        MarketDataRepository(session).upsert_bars("binance", bars)
    body = api.client.get("/api/v2/data/market/SOLUSDT?timeframe=5m", headers=alice.headers)
    assert body.status_code == 200, body.text
    data = body.json()
    assert data["source"] == "database"
    assert len(data["ohlcv"]) == n
    assert data["ohlcv"][-1]["close"] == pytest.approx(160.0)
    opened = api.open(alice, symbol="SOLUSDT", leverage=2, size_usdt=200)
    assert opened.status_code == 200, opened.text
    assert opened.json()["price_source"] in ("database", "cache")
    missing = api.client.get("/api/v2/data/market/ADAUSDT", headers=alice.headers)
    assert missing.status_code == 404


def test_stale_stored_prices_refuse_new_risk(api: Api) -> None:
    alice = api.register()
    old = int((api.ctx.clock() - 7 * 86400) * 1000) // 3_600_000 * 3_600_000
    ts = np.arange(old - 10 * 3_600_000, old, 3_600_000, dtype=np.int64)
    close = np.full(10, 50.0)
    bars = Bars("LINK/USDT:USDT", "1h", ts, close, close, close, close, np.ones(10))
    with api.ctx.db.session() as session:
        MarketDataRepository(session).upsert_bars("binance", bars)
    refused = api.open(alice, symbol="LINKUSDT", leverage=2, size_usdt=100)
    assert refused.status_code == 400
    assert refused.json()["rule"] == "stale_price"


def test_regime_is_updated_by_operators_and_read_by_everyone(api: Api) -> None:
    operator, alice = api.register(admin=True), api.register()
    assert api.client.get("/api/v2/regime/current", headers=alice.headers).status_code == 404
    start = api.ctx.now() - timedelta(hours=72)
    for hours, regime in ((0, "consolidation"), (24, "bull_trend"), (48, "bull_trend")):
        update = api.client.post(
            "/api/v2/regime/update",
            headers=operator.headers,
            json={
                "regime": regime,
                "confidence": 0.85,
                "adx": 42.1,
                "rsi": 65.3,
                "price_vs_ma50": 8.5,
                "timestamp": (start + timedelta(hours=hours)).isoformat(),
            },
        )
        assert update.status_code == 201, update.text
    current = api.client.get("/api/v2/regime/current", headers=alice.headers).json()
    assert current["regime"] == "bull_trend"
    assert current["confidence"] == 0.85
    assert current["duration_hours"] == pytest.approx(48, abs=0.1)
    assert current["evidence"] == {"adx": 42.1, "rsi": 65.3, "price_vs_ma50": "+8.5%"}
    assert api.ctx.cache.get(keys.REGIME_CURRENT) is not None
    forbidden = api.client.post(
        "/api/v2/regime/update",
        headers=alice.headers,
        json={"regime": "bear_trend", "confidence": 0.9},
    )
    assert forbidden.status_code == 403


def test_decisions_are_recorded_and_listed_newest_first(api: Api) -> None:
    alice = api.register()
    base = datetime(2025, 1, 27, 14, 0, tzinfo=UTC)
    for i, agent in enumerate(("ceo", "btc_analyst", "ceo")):
        created = api.client.post(
            "/api/v2/decisions",
            headers=alice.headers,
            json={
                "user_id": alice.user_id,
                "agent_name": agent,
                "timestamp": (base + timedelta(minutes=i)).isoformat(),
                "input_data": {"i": i},
                "output_data": {"decision": "LONG"},
                "evidence": {"adx": 42},
                "reasoning": "trend",
                "llm_model": "gpt-4o",
                "prompt_tokens": 1000,
                "completion_tokens": 200,
                "llm_cost": 0.0123,
                "execution_time_ms": 2500,
            },
        )
        assert created.status_code == 201
    listed = api.client.get("/api/v2/decisions?agent_name=ceo", headers=alice.headers).json()
    assert [d["input_data"]["i"] for d in listed] == [2, 0]
    assert listed[0]["llm_cost"] == pytest.approx(0.0123)
    one = api.client.get(f"/api/v2/decisions/{listed[0]['decision_id']}", headers=alice.headers)
    assert one.json()["evidence"] == {"adx": 42}
    since = (base + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    recent = api.client.get(f"/api/v2/decisions?since={since}", headers=alice.headers).json()
    assert len(recent) == 2


def test_trigger_holds_the_users_lock_for_one_cycle(api: Api) -> None:
    alice = api.register()
    first = api.client.post(
        "/api/v2/trading/trigger", headers=alice.headers, json={"user_id": alice.user_id}
    )
    assert first.status_code == 202
    execution = first.json()["execution_id"]
    second = api.client.post(
        "/api/v2/trading/trigger", headers=alice.headers, json={"user_id": alice.user_id}
    )
    assert second.status_code == 409
    assert second.json()["execution_id"] == execution
    events = api.ctx.cache.read(keys.STREAM_TRIGGERS)
    assert any(e.fields["execution_id"] == execution for e in events)
    lock = keys.trading_lock(alice.user_id)
    assert 0 < api.ctx.cache.ttl(lock) <= keys.LOCK_TTL_S
    assert api.ctx.cache.release_lock(lock, execution)
    again = api.client.post(
        "/api/v2/trading/trigger", headers=alice.headers, json={"user_id": alice.user_id}
    )
    assert again.status_code == 202


def test_strategies_store_validated_specs_and_their_state(api: Api) -> None:
    alice = api.register()
    created = api.client.post(
        "/api/v2/strategies", headers=alice.headers, json={"name": "trend-btc", "spec": SPEC}
    )
    assert created.status_code == 201, created.text
    strategy = created.json()
    assert strategy["spec"]["risk"]["profile"] == "balanced"  # the spec's defaults, wire form
    assert strategy["generation"] == 1
    sid = strategy["strategy_id"]
    duplicate = api.client.post(
        "/api/v2/strategies", headers=alice.headers, json={"name": "trend-btc", "spec": SPEC}
    )
    assert duplicate.status_code == 409
    paused = api.client.post(f"/api/v2/strategies/{sid}/pause", headers=alice.headers).json()
    assert paused["paused"] is True
    assert paused["spec"]["paused"] is True
    assert paused["generation"] == 2
    resumed = api.client.post(f"/api/v2/strategies/{sid}/resume", headers=alice.headers).json()
    assert resumed["paused"] is False
    killed = api.client.post(
        f"/api/v2/strategies/{sid}/kill-switch", headers=alice.headers, json={"reason": "x"}
    ).json()
    assert killed["trading_state"] == "halted"
    assert (
        api.client.delete(
            f"/api/v2/strategies/{sid}/kill-switch", headers=alice.headers
        ).status_code
        == 403
    )
    api.enable_totp(alice)
    released = api.client.delete(
        f"/api/v2/strategies/{sid}/kill-switch", headers=api.totp_headers(alice)
    )
    assert released.json()["trading_state"] == "active"
    live = {**SPEC, "mode": "live", "connectors": ["binance-main"]}
    no_code = api.client.put(
        f"/api/v2/strategies/{sid}", headers=alice.headers, json={"spec": live}
    )
    assert no_code.status_code == 403
    went_live = api.client.put(
        f"/api/v2/strategies/{sid}", headers=api.totp_headers(alice), json={"spec": live}
    )
    assert went_live.status_code == 200
    assert went_live.json()["mode"] == "live"
    changes = [
        e.fields["change"]
        for e in api.ctx.cache.read(keys.STREAM_STRATEGIES)
        if e.fields["strategy_id"] == str(sid)
    ]
    assert changes == ["created", "paused", "resumed", "killed", "released", "updated"]
    listed = api.client.get("/api/v2/strategies", headers=alice.headers).json()
    assert [s["name"] for s in listed] == ["trend-btc"]


@pytest.mark.slow
def test_backtests_run_in_the_background_and_keep_result_and_report(api: Api) -> None:
    alice = api.register()
    submitted = api.client.post(
        "/api/v2/backtests",
        headers=alice.headers,
        json={
            "strategy": "ma_crossover",
            "symbol": "BTC/USDT",
            "timeframe": "5m",
            "start": "2023-01-05T00:00:00Z",
            "end": "2023-01-20T00:00:00Z",
            "params": {"fast": 10, "slow": 40},
        },
    )
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()
    assert job["status"] == "queued"
    api.client.app.state.services.backtests.wait(job["backtest_id"], timeout=120)
    done = api.client.get(f"/api/v2/backtests/{job['backtest_id']}", headers=alice.headers)
    assert done.json()["status"] == "succeeded", done.json()
    result = api.client.get(
        f"/api/v2/backtests/{job['backtest_id']}/result", headers=alice.headers
    ).json()
    assert result["config"]["params"]["fast"] == 10
    assert result["config"]["params"]["slow"] == 40
    assert result["metrics"]["num_trades"] == len(result["trades"])
    assert done.json()["metrics"]["total_return"] == pytest.approx(
        result["metrics"]["total_return"]
    )
    report = api.client.get(f"/api/v2/backtests/{job['backtest_id']}/report", headers=alice.headers)
    assert report.headers["content-type"].startswith("text/html")
    assert "<html" in report.text.lower()


def test_unfinished_backtests_have_no_result_yet(api: Api) -> None:
    alice = api.register()
    from axis.store.jobs import BacktestRepository

    with api.ctx.db.session() as session:
        job = BacktestRepository(session).create(alice.user_id, {"strategy": "x"})
        job_id = job.id
    response = api.client.get(f"/api/v2/backtests/{job_id}/result", headers=alice.headers)
    assert response.status_code == 409
    assert api.client.app.state.services.backtests.recover() >= 1
    failed = api.client.get(f"/api/v2/backtests/{job_id}", headers=alice.headers).json()
    assert failed["status"] == "failed"
    assert "interrupted" in failed["error"]


def test_state_changing_calls_are_audited_append_only(api: Api) -> None:
    with api.ctx.db.session() as session:
        first_id = session.scalar(select(func.coalesce(func.max(AuditEntry.id), 0)))
    alice, mallory = api.register(), api.register()
    api.open(alice)
    api.client.get(f"/api/v2/users/{alice.user_id}/portfolio", headers=alice.headers)
    api.client.post(f"/api/v2/users/{alice.user_id}/kill-switch", headers=mallory.headers, json={})
    api.client.post(
        "/api/v2/auth/login", json={"username": alice.username, "password": "nope-nope"}
    )
    with api.ctx.db.session() as session:
        query = select(AuditEntry).where(AuditEntry.id > first_id).order_by(AuditEntry.id)
        rows = session.scalars(query).all()
        actions = [(r.action, r.outcome, r.actor_user_id) for r in rows]
        opened = next(r for r in rows if r.action == "positions.open")
    assert ("positions.open", "ok", alice.user_id) in actions
    assert ("users.kill_switch_engage", "denied", mallory.user_id) in actions
    assert ("auth.login", "rejected", None) in actions or ("auth.login", "denied", None) in actions
    assert not any(a[0] == "users.portfolio" for a in actions)  # reads are not audited
    assert opened.ip == "testclient"
    assert opened.request_id
    assert opened.details["symbol"] == "BTC/USDT:USDT"
    assert "password" not in json.dumps([r.details for r in rows])
    for statement in ("UPDATE audit_log SET outcome = 'ok'", "DELETE FROM audit_log"):
        with (
            pytest.raises((IntegrityError, OperationalError, DBAPIError)),
            api.ctx.db.session() as session,
        ):
            session.execute(text(statement))


def test_request_ids_are_echoed_and_generated(api: Api) -> None:
    given = api.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = api.client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 32


def test_health_readiness_and_metrics(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"
    alice = api.register()
    api.open(alice)
    text_body = api.client.get("/metrics").text
    for name in (
        "trades_total{",
        "trade_pnl_bucket",
        "open_positions{",
        "liquidation_distance{",
        "http_request_duration_seconds_bucket",
        "cache_requests_total{",
    ):
        assert name in text_body, name
    assert 'route="/api/v2/positions/open"' in text_body


def test_ip_rate_limit_answers_429_with_retry_after(ip_limited_api: Api) -> None:
    api = ip_limited_api
    api.clock.advance(60 - api.clock() % 60)
    codes = [api.client.get("/api/v2/regime/current").status_code for _ in range(6)]
    assert codes[:5] == [401] * 5
    assert codes[5] == 429
    limited = api.client.get("/api/v2/regime/current")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert api.client.get("/healthz").status_code == 200  # probes are never limited
