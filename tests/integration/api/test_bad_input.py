"""Bad input anywhere: a 4xx whose message names the field at fault, and nothing changed (the
whole database is compared before and after, the audit log included)."""

from __future__ import annotations

from typing import Any

import pytest

Api = Any

GOOD_OPEN = {"symbol": "BTCUSDT", "side": "LONG", "leverage": 5, "size_usdt": 100}
SPEC = {"strategy": "trend_futures", "symbols": ["BTC/USDT:USDT"], "leverage": 3}

# (method, path template, body or query, the field the answer must name)
CASES: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("POST", "/api/v2/positions/open", {**GOOD_OPEN, "size_usdt": -5}, "body.size_usdt"),
    ("POST", "/api/v2/positions/open", {**GOOD_OPEN, "side": "UP"}, "body.side"),
    ("POST", "/api/v2/positions/open", {**GOOD_OPEN, "leverage": 500}, "body.leverage"),
    ("POST", "/api/v2/positions/open", {**GOOD_OPEN, "symbol": "BTC-USDT"}, "body.symbol"),
    ("POST", "/api/v2/positions/open", {**GOOD_OPEN, "stop_loss_pct": 1.5}, "body.stop_loss_pct"),
    ("POST", "/api/v2/positions/open", {**GOOD_OPEN, "confidence": 2}, "body.confidence"),
    ("POST", "/api/v2/positions/open", {**GOOD_OPEN, "exchange": "ftx"}, "body.exchange"),
    ("POST", "/api/v2/positions/open", {**GOOD_OPEN, "sizeUsdt": 5}, "body.sizeUsdt"),
    ("POST", "/api/v2/positions/open", {"symbol": "BTCUSDT"}, "body.side"),
    ("POST", "/api/v2/positions/{pid}/close", {"close_pct": 0}, "body.close_pct"),
    ("POST", "/api/v2/positions/{pid}/close", {"reason": "bored"}, "body.reason"),
    ("POST", "/api/v2/positions/0/close", {}, "path.position_id"),
    ("GET", "/api/v2/data/market/BTCUSDT?timeframe=7m", None, "query.timeframe"),
    ("GET", "/api/v2/data/market/BTC$USDT", None, "path.symbol"),
    ("GET", "/api/v2/data/market/DOGEXYZ", None, "path.symbol"),
    ("GET", "/api/v2/positions?status=maybe", None, "query.status"),
    ("GET", "/api/v2/decisions?limit=0", None, "query.limit"),
    ("GET", "/api/v2/decisions?since=2025-01-01T00:00:00", None, "query.since"),
    ("POST", "/api/v2/decisions", {"agent_name": "ceo"}, "body.input_data"),
    (
        "POST",
        "/api/v2/decisions",
        {"agent_name": "", "input_data": {}, "output_data": {}, "evidence": {}, "reasoning": "r"},
        "body.agent_name",
    ),
    ("POST", "/api/v2/trading/trigger", {"reason": "Not Allowed!"}, "body.reason"),
    ("POST", "/api/v2/strategies", {"name": "Bad_Name", "spec": SPEC}, "body.name"),
    (
        "POST",
        "/api/v2/strategies",
        {"name": "ok", "spec": {**SPEC, "symbols": ["BTCUSDT"]}},
        "body.spec.symbols",
    ),
    ("POST", "/api/v2/strategies", {"name": "ok", "spec": {**SPEC, "leverage": 50}}, "body.spec"),
    (
        "POST",
        "/api/v2/strategies",
        {"name": "ok", "spec": {**SPEC, "timeframe": "7m"}},
        "body.spec.timeframe",
    ),
    ("POST", "/api/v2/strategies", {"name": "ok", "spec": {**SPEC, "mode": "live"}}, "body.spec"),
    ("POST", "/api/v2/backtests", {"strategy": "no_such"}, "body"),
    ("POST", "/api/v2/backtests", {"strategy": "os:system"}, "body.strategy"),
    ("POST", "/api/v2/backtests", {"capital": -1}, "body.capital"),
    ("POST", "/api/v2/backtests", {"strategy": "ma_crossover", "params": {"fast": "x"}}, "body"),
    ("POST", "/api/v2/backtests", {"data": "/etc/passwd"}, "body.data"),
    (
        "POST",
        "/api/v2/users/{uid}/exchange-keys",
        {"exchange": "binance", "api_key": "k"},
        "body.api_key",
    ),
    ("POST", "/api/v2/users/{uid}/kill-switch", {"reason": ""}, "body.reason"),
    ("POST", "/api/v2/regime/update", {"regime": "sideways", "confidence": 0.5}, "body.regime"),
    (
        "POST",
        "/api/v2/auth/register",
        {"username": "a", "email": "x@y.io", "password": "long enough pass"},
        "body.username",
    ),
    (
        "POST",
        "/api/v2/auth/register",
        {"username": "abcd", "email": "not-an-email", "password": "long enough pass"},
        "body.email",
    ),
    ("POST", "/api/v2/auth/login", {"username": "abc"}, "body.password"),
    ("POST", "/api/v2/auth/totp/verify", {"code": "12ab56"}, "body.code"),
    ("POST", "/api/v2/auth/refresh", {"refresh_token": "short"}, "body.refresh_token"),
]


@pytest.fixture
def setup(api: Api) -> tuple[Any, dict[str, int]]:
    alice = api.register(admin=True)
    api.enable_totp(alice)
    position = api.open(alice).json()["position_id"]
    return alice, {"pid": position, "uid": alice.user_id}


def test_bad_input_names_the_field_and_changes_nothing(
    api: Api, setup: tuple[Any, dict[str, int]]
) -> None:
    alice, ids = setup
    failures = []
    for method, template, payload, field in CASES:
        path = template.format(**ids)
        body = dict(payload) if payload is not None else None
        if body is not None and template.startswith(
            ("/api/v2/positions", "/api/v2/decisions", "/api/v2/trading")
        ):
            body.setdefault("user_id", alice.user_id)
        headers = api.totp_headers(alice) if "exchange-keys" in template else alice.headers
        before = api.snapshot()
        response = api.client.request(method, path, headers=headers, json=body)
        after = api.snapshot()
        answer = (
            response.json()
            if response.headers.get("content-type", "").startswith("application/json")
            else {}
        )
        named = answer.get("field") == field or answer.get("error", "").startswith(field)
        if not (400 <= response.status_code < 500) or not named:
            failures.append((method, path, response.status_code, answer))
        if after != before:
            changed = [t for t in after if after[t] != before[t]]
            failures.append((method, path, "changed", changed))
    assert not failures, failures


def test_validation_errors_list_every_field(api: Api) -> None:
    alice = api.register()
    response = api.client.post(
        "/api/v2/positions/open",
        headers=alice.headers,
        json={"user_id": alice.user_id, "symbol": "BTCUSDT", "side": "UP", "leverage": -1},
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"body.side", "body.leverage", "body.size_usdt"} <= fields


def test_malformed_json_is_a_422(api: Api) -> None:
    alice = api.register()
    response = api.client.post(
        "/api/v2/positions/open",
        headers={**alice.headers, "content-type": "application/json"},
        content=b"{not json",
    )
    assert response.status_code == 422
    assert response.json()["success"] is False
