"""Property-based fuzzing of every operation from the OpenAPI document (Schemathesis).

Generated requests, valid and invalid, carry a real user's token. Every answer must be no 5xx,
documented for its operation (status code and content type), and match the documented schema.
The API runs on SQLite + the in-process cache here (fast); the same app on PostgreSQL + Redis is
what the other API tests exercise.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from axis.api import create_app
from axis.config.settings import AxisSettings

PASSWORD = "correct horse battery staple"


def _app(tmp: Path) -> tuple[Any, dict[str, str]]:
    app = create_app(
        AxisSettings(
            data_dir=tmp,
            password_time_cost=1,
            password_memory_kib=1024,
            password_parallelism=1,
            requests_per_minute_per_ip=10**9,
            open_position_limit_per_minute=10**9,
            log_level="error",
        )
    )
    client = TestClient(app)
    client.post(
        "/api/v2/auth/register",
        json={"username": "fuzzer", "email": "fuzz@example.com", "password": PASSWORD},
    )
    login = client.post("/api/v2/auth/login", json={"username": "fuzzer", "password": PASSWORD})
    token = login.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    # something to find: a position, a strategy, a decision of the fuzzing user (id 1)
    client.post(
        "/api/v2/positions/open",
        headers=headers,
        json={"user_id": 1, "symbol": "BTCUSDT", "side": "LONG", "leverage": 5, "size_usdt": 100},
    )
    client.post(
        "/api/v2/strategies",
        headers=headers,
        json={"name": "fuzz", "spec": {"strategy": "trend_futures", "symbols": ["BTC/USDT"]}},
    )
    return app, headers


# Built at import: Schemathesis parametrizes the test from the app's OpenAPI document.
_FOLDER = tempfile.TemporaryDirectory(prefix="axis-fuzz-")
APP, HEADERS = _app(Path(_FOLDER.name))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_openapi_schema(case: schemathesis.Case) -> None:
    headers = dict(HEADERS)
    if case.headers:
        headers.update({k: v for k, v in case.headers.items() if k.lower() != "authorization"})
    case.call_and_validate(headers=headers, checks=CHECKS)
