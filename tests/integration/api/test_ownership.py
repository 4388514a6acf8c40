"""Every route that touches a user's resource, tried as another user: 403, nothing changed.

The table below must name every route of the app (a new route without an entry fails
``test_every_route_is_classified``), so no route can skip its ownership check unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

Api = Any

# Routes with no resource of a user: public, or the caller's own by construction.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/api/v2/auth/register"),
    ("POST", "/api/v2/auth/login"),
    ("POST", "/api/v2/auth/refresh"),
}
SELF_ONLY = {  # act on the token's own user; there is no other user's id to pass
    ("GET", "/api/v2/auth/me"),
    ("POST", "/api/v2/auth/totp/enable"),
    ("POST", "/api/v2/auth/totp/verify"),
    ("GET", "/api/v2/positions"),
    ("GET", "/api/v2/strategies"),
    ("POST", "/api/v2/strategies"),
    ("GET", "/api/v2/backtests"),
    ("POST", "/api/v2/backtests"),
    ("GET", "/api/v2/data/market/{symbol}"),
    ("GET", "/api/v2/regime/current"),
}

SPEC = {"strategy": "trend_futures", "symbols": ["BTC/USDT:USDT"], "leverage": 3}

Attempt = Callable[[Api, Any, Any, dict[str, int]], Any]


def _as(b: Any) -> dict[str, str]:
    return dict(b.headers)


ATTEMPTS: dict[tuple[str, str], Attempt] = {
    ("POST", "/api/v2/positions/open"): lambda api, a, b, r: api.client.post(
        "/api/v2/positions/open",
        headers=_as(b),
        json={
            "user_id": a.user_id,
            "symbol": "BTCUSDT",
            "side": "LONG",
            "leverage": 5,
            "size_usdt": 100,
        },
    ),
    ("POST", "/api/v2/positions/{position_id}/close"): lambda api, a, b, r: api.client.post(
        f"/api/v2/positions/{r['position']}/close", headers=_as(b), json={"user_id": b.user_id}
    ),
    ("GET", "/api/v2/positions/{position_id}"): lambda api, a, b, r: api.client.get(
        f"/api/v2/positions/{r['position']}", headers=_as(b)
    ),
    ("GET", "/api/v2/users/{user_id}/portfolio"): lambda api, a, b, r: api.client.get(
        f"/api/v2/users/{a.user_id}/portfolio", headers=_as(b)
    ),
    ("POST", "/api/v2/users/{user_id}/kill-switch"): lambda api, a, b, r: api.client.post(
        f"/api/v2/users/{a.user_id}/kill-switch", headers=_as(b), json={"reason": "x"}
    ),
    ("DELETE", "/api/v2/users/{user_id}/kill-switch"): lambda api, a, b, r: api.client.delete(
        f"/api/v2/users/{a.user_id}/kill-switch", headers=api.totp_headers(b)
    ),
    ("GET", "/api/v2/users/{user_id}/exchange-keys"): lambda api, a, b, r: api.client.get(
        f"/api/v2/users/{a.user_id}/exchange-keys", headers=_as(b)
    ),
    ("POST", "/api/v2/users/{user_id}/exchange-keys"): lambda api, a, b, r: api.client.post(
        f"/api/v2/users/{a.user_id}/exchange-keys",
        headers=api.totp_headers(b),
        json={"exchange": "binance", "api_key": "k" * 12, "secret": "s" * 12},
    ),
    ("DELETE", "/api/v2/users/{user_id}/exchange-keys/{credential_id}"): (
        lambda api, a, b, r: api.client.delete(
            f"/api/v2/users/{b.user_id}/exchange-keys/{r['credential']}",
            headers=api.totp_headers(b),
        )
    ),
    ("GET", "/api/v2/users/{user_id}/audit"): lambda api, a, b, r: api.client.get(
        f"/api/v2/users/{a.user_id}/audit", headers=_as(b)
    ),
    ("POST", "/api/v2/decisions"): lambda api, a, b, r: api.client.post(
        "/api/v2/decisions",
        headers=_as(b),
        json={
            "user_id": a.user_id,
            "agent_name": "ceo",
            "input_data": {},
            "output_data": {},
            "evidence": {},
            "reasoning": "r",
        },
    ),
    ("GET", "/api/v2/decisions"): lambda api, a, b, r: api.client.get(
        f"/api/v2/decisions?user_id={a.user_id}", headers=_as(b)
    ),
    ("GET", "/api/v2/decisions/{decision_id}"): lambda api, a, b, r: api.client.get(
        f"/api/v2/decisions/{r['decision']}", headers=_as(b)
    ),
    ("POST", "/api/v2/trading/trigger"): lambda api, a, b, r: api.client.post(
        "/api/v2/trading/trigger", headers=_as(b), json={"user_id": a.user_id}
    ),
    ("GET", "/api/v2/strategies/{strategy_id}"): lambda api, a, b, r: api.client.get(
        f"/api/v2/strategies/{r['strategy']}", headers=_as(b)
    ),
    ("PUT", "/api/v2/strategies/{strategy_id}"): lambda api, a, b, r: api.client.put(
        f"/api/v2/strategies/{r['strategy']}", headers=_as(b), json={"spec": SPEC}
    ),
    ("POST", "/api/v2/strategies/{strategy_id}/pause"): lambda api, a, b, r: api.client.post(
        f"/api/v2/strategies/{r['strategy']}/pause", headers=_as(b)
    ),
    ("POST", "/api/v2/strategies/{strategy_id}/resume"): lambda api, a, b, r: api.client.post(
        f"/api/v2/strategies/{r['strategy']}/resume", headers=_as(b)
    ),
    ("POST", "/api/v2/strategies/{strategy_id}/kill-switch"): (
        lambda api, a, b, r: api.client.post(
            f"/api/v2/strategies/{r['strategy']}/kill-switch", headers=_as(b), json={}
        )
    ),
    ("DELETE", "/api/v2/strategies/{strategy_id}/kill-switch"): (
        lambda api, a, b, r: api.client.delete(
            f"/api/v2/strategies/{r['strategy']}/kill-switch", headers=api.totp_headers(b)
        )
    ),
    ("GET", "/api/v2/backtests/{backtest_id}"): lambda api, a, b, r: api.client.get(
        f"/api/v2/backtests/{r['backtest']}", headers=_as(b)
    ),
    ("GET", "/api/v2/backtests/{backtest_id}/result"): lambda api, a, b, r: api.client.get(
        f"/api/v2/backtests/{r['backtest']}/result", headers=_as(b)
    ),
    ("GET", "/api/v2/backtests/{backtest_id}/report"): lambda api, a, b, r: api.client.get(
        f"/api/v2/backtests/{r['backtest']}/report", headers=_as(b)
    ),
    ("POST", "/api/v2/auth/logout"): lambda api, a, b, r: api.client.post(
        "/api/v2/auth/logout", headers=_as(b), json={"refresh_token": a.refresh_token}
    ),
    ("POST", "/api/v2/regime/update"): lambda api, a, b, r: api.client.post(
        "/api/v2/regime/update", headers=_as(b), json={"regime": "bull_trend", "confidence": 0.9}
    ),
}


def _routes(app: Any) -> set[tuple[str, str]]:
    """Every (method, path) the app serves, from its OpenAPI document."""
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }


def test_every_route_is_classified(sqlite_api: Api) -> None:
    routes = _routes(sqlite_api.client.app)
    unclassified = routes - PUBLIC - SELF_ONLY - set(ATTEMPTS)
    assert not unclassified, f"routes without an ownership test: {sorted(unclassified)}"
    stale = (set(ATTEMPTS) | SELF_ONLY | PUBLIC) - routes
    assert not stale, f"table names routes that do not exist: {sorted(stale)}"


@pytest.fixture
def owned(api: Api) -> tuple[Any, Any, dict[str, int]]:
    """Alice owns one of everything; Bob (second factor enabled) will try to touch it."""
    alice, bob = api.register(), api.register()
    api.enable_totp(alice)
    api.enable_totp(bob)
    resources: dict[str, int] = {}
    resources["position"] = api.open(alice).json()["position_id"]
    resources["decision"] = api.client.post(
        "/api/v2/decisions",
        headers=alice.headers,
        json={
            "user_id": alice.user_id,
            "agent_name": "ceo",
            "input_data": {"a": 1},
            "output_data": {"b": 2},
            "evidence": {"c": 3},
            "reasoning": "because",
        },
    ).json()["decision_id"]
    resources["strategy"] = api.client.post(
        "/api/v2/strategies", headers=alice.headers, json={"name": "alpha", "spec": SPEC}
    ).json()["strategy_id"]
    api.client.post(
        f"/api/v2/strategies/{resources['strategy']}/kill-switch", headers=alice.headers, json={}
    )
    resources["backtest"] = api.client.post(
        "/api/v2/backtests",
        headers=alice.headers,
        json={
            "strategy": "ma_crossover",
            "symbol": "BTC/USDT",
            "timeframe": "5m",
            "start": "2023-01-10T00:00:00Z",
            "end": "2023-01-17T00:00:00Z",
        },
    ).json()["backtest_id"]
    resources["credential"] = api.client.post(
        f"/api/v2/users/{alice.user_id}/exchange-keys",
        headers=api.totp_headers(alice),
        json={"exchange": "okx", "api_key": "a" * 12, "secret": "b" * 12, "password": "p"},
    ).json()["credential_id"]
    api.client.post(f"/api/v2/users/{alice.user_id}/kill-switch", headers=alice.headers, json={})
    api.client.app.state.services.backtests.wait(resources["backtest"], timeout=120)
    return alice, bob, resources


def _state(api: Api, bob_id: int) -> dict[str, list[tuple[str, ...]]]:
    """Everything but the audit log and Bob's own row (his TOTP step moves when he tries)."""
    snapshot = api.snapshot()
    snapshot.pop("audit_log")
    snapshot["users"] = [row for row in snapshot["users"] if row[0] != str(bob_id)]
    return snapshot


def test_another_users_resources_are_forbidden(
    api: Api, owned: tuple[Any, Any, dict[str, int]]
) -> None:
    alice, bob, resources = owned
    failures = []
    for route in sorted(ATTEMPTS):
        before = _state(api, bob.user_id)
        response = ATTEMPTS[route](api, alice, bob, resources)
        if response.status_code != 403:
            failures.append((route, response.status_code, response.text[:200]))
        elif _state(api, bob.user_id) != before:
            failures.append((route, "changed the database", ""))
    assert not failures, failures
