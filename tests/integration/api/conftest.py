"""The API under test, on PostgreSQL + Redis (the production parts) or SQLite + the in-process
cache (the embedded default), with helpers to register users, log in and make TOTP codes."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from axis.api import create_app
from axis.api.context import ApiContext
from axis.config.settings import AxisSettings
from axis.security import totp
from axis.store.models import Base, User

PASSWORD = "correct horse battery staple"
_names = itertools.count(1)


class FakeClock:
    """Wall time that tests can move forward (TOTP steps, rate-limit windows)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Account:
    user_id: int
    username: str
    token: str
    refresh_token: str
    totp_secret: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Api:
    client: TestClient
    ctx: ApiContext
    clock: FakeClock
    backend: str
    accounts: list[Account] = field(default_factory=list)

    def register(self, *, admin: bool = False, profile: str = "balanced") -> Account:
        name = f"u{next(_names)}_{uuid.uuid4().hex[:6]}"
        response = self.client.post(
            "/api/v2/auth/register",
            json={
                "username": name,
                "email": f"{name}@example.com",
                "password": PASSWORD,
                "risk_profile": profile,
            },
        )
        assert response.status_code == 201, response.text
        user_id = response.json()["user_id"]
        if admin:
            with self.ctx.db.session() as session:
                session.get(User, user_id).is_admin = True  # type: ignore[union-attr]
            self.ctx.forget_user(user_id)
        login = self.client.post(
            "/api/v2/auth/login", json={"username": name, "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        account = Account(
            user_id, name, login.json()["access_token"], login.json()["refresh_token"]
        )
        self.accounts.append(account)
        return account

    def enable_totp(self, account: Account) -> str:
        response = self.client.post("/api/v2/auth/totp/enable", headers=account.headers)
        assert response.status_code == 200, response.text
        secret = response.json()["secret"]
        verified = self.client.post(
            "/api/v2/auth/totp/verify", headers=account.headers, json={"code": self.code(secret)}
        )
        assert verified.status_code == 200, verified.text
        account.totp_secret = secret
        return secret

    def code(self, secret: str) -> str:
        """A code of the next time step (each code is accepted once)."""
        self.clock.advance(totp.STEP_S)
        return totp.code_at(secret, self.clock())

    def totp_headers(self, account: Account) -> dict[str, str]:
        assert account.totp_secret is not None
        return {**account.headers, "X-TOTP-Code": self.code(account.totp_secret)}

    def open(self, account: Account, **overrides: Any) -> Any:
        body = {
            "user_id": account.user_id,
            "symbol": "BTCUSDT",
            "side": "LONG",
            "leverage": 5,
            "size_usdt": 500,
            "stop_loss_pct": 0.03,
            "take_profit_pct": 0.10,
            "regime": "bull_trend",
            "confidence": 0.8,
            "ai_rationale": "test",
        }
        body.update(overrides)
        return self.client.post("/api/v2/positions/open", headers=account.headers, json=body)

    def snapshot(self) -> dict[str, list[tuple[str, ...]]]:
        """Every row of every table, as text: equal snapshots mean nothing changed."""
        out: dict[str, list[tuple[str, ...]]] = {}
        with self.ctx.db.session() as session:
            for table in Base.metadata.sorted_tables:
                rows = session.execute(select(table)).all()
                out[table.name] = sorted(tuple(str(v) for v in row) for row in rows)
        return out


def _settings(tmp: Path, **overrides: Any) -> AxisSettings:
    base: dict[str, Any] = {
        "data_dir": tmp,
        "password_time_cost": 1,
        "password_memory_kib": 1024,
        "password_parallelism": 1,
        "requests_per_minute_per_ip": 100_000,
        "log_json": True,
        "log_level": "warning",
    }
    base.update(overrides)
    return AxisSettings(**base)


def make_api(tmp: Path, backend: str, request: pytest.FixtureRequest, **overrides: Any) -> Api:
    if backend == "pg":
        pg_url = request.getfixturevalue("pg_url")
        redis_url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("redis_prefix")
        settings = _settings(
            tmp, database_url=pg_url, redis_url=redis_url, cache_prefix=prefix, **overrides
        )
    else:
        settings = _settings(tmp, **overrides)
    app = create_app(settings)
    clock = FakeClock()
    app.state.context.clock = clock
    client = TestClient(app)
    client.__enter__()
    request.addfinalizer(lambda: _close(client, app.state.context))
    return Api(client, app.state.context, clock, backend)


def _close(client: TestClient, ctx: ApiContext) -> None:
    client.__exit__(None, None, None)
    ctx.close()


@pytest.fixture(params=["pg", "sqlite"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """The API on both stacks: PostgreSQL + Redis, and SQLite + in-process cache."""
    return make_api(tmp_path, request.param, request)


@pytest.fixture
def pg_api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """The API on PostgreSQL + Redis only."""
    return make_api(tmp_path, "pg", request)


@pytest.fixture
def sqlite_api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    return make_api(tmp_path, "sqlite", request)


@pytest.fixture
def ip_limited_api(request: pytest.FixtureRequest, tmp_path: Path) -> Api:
    """SQLite API whose global per-IP limit is 5 requests a minute."""
    return make_api(tmp_path, "sqlite", request, requests_per_minute_per_ip=5)
