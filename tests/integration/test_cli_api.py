"""`axis db`, `axis users`, `axis keys` and `axis api` from the command line."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory

from axis.cli import main
from axis.config.settings import AxisSettings
from axis.security import build_security
from axis.store import CredentialRepository, Database, UserRepository
from axis.store.db import alembic_config

PASSWORD = "correct horse battery staple"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("AXIS_CONFIG_FILE", raising=False)
    monkeypatch.setenv("AXIS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AXIS_PASSWORD_MEMORY_KIB", "1024")
    monkeypatch.setenv("AXIS_PASSWORD_TIME_COST", "1")
    return tmp_path


def run(args: list[str], stdin: str = "") -> int:
    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with pytest.raises(SystemExit) as exit_info:
            main(args)
    finally:
        sys.stdin = old
    return int(exit_info.value.code or 0)


def test_db_upgrade_and_users_create(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["db", "upgrade"]) == 0
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert f"revision {head}" in capsys.readouterr().out
    code = run(
        [
            "users",
            "create",
            "--username",
            "ops",
            "--email",
            "ops@example.com",
            "--password-stdin",
            "--admin",
            "--capital",
            "50000",
        ],
        stdin=PASSWORD + "\n",
    )
    assert code == 0
    db = Database(f"sqlite:///{env / 'axis.db'}")
    with db.session() as session:
        user = UserRepository(session).by_username("ops")
        assert user.is_admin
        assert float(user.wallet_balance) == 50_000
        assert user.password_hash.startswith("$argon2id$")
    db.dispose()
    again = run(
        ["users", "create", "--username", "ops", "--email", "x@example.com", "--password-stdin"],
        stdin=PASSWORD + "\n",
    )
    assert again == 2
    assert "username already registered" in capsys.readouterr().err
    weak = run(
        ["users", "create", "--username", "bob", "--email", "b@example.com", "--password-stdin"],
        stdin="short\n",
    )
    assert weak == 2
    assert run(["users", "list"]) == 0
    assert "ops@example.com" in capsys.readouterr().out


def test_keys_rotate_reencrypts_stored_credentials(env: Path) -> None:
    settings = AxisSettings()
    db = Database(settings.resolved_database_url)
    db.upgrade()
    encryptor = build_security(settings).encryptor
    with db.session() as session:
        user = UserRepository(session).create("k", "k@example.com", "h")
        token = encryptor.encrypt("api-key")
        CredentialRepository(session).add(
            user.id,
            "binance",
            "main",
            token,
            encryptor.encrypt("secret"),
            None,
            encryptor.version_of(token),
        )
    old_version = encryptor.current_version()
    assert run(["keys", "rotate"]) == 0
    fresh = build_security(AxisSettings()).encryptor
    with db.session() as session:
        row = CredentialRepository(session).for_user(user.id)[0]
        assert row.key_version != old_version
        assert fresh.decrypt(row.secret_encrypted) == "secret"
    db.dispose()


def test_bad_settings_end_with_one_line(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AXIS_API_PORT", "0")
    assert run(["db", "upgrade"]) == 2
    assert "api_port" in capsys.readouterr().err


@pytest.mark.slow
def test_axis_api_serves(env: Path) -> None:
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "axis", "api", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "AXIS_LOG_LEVEL": "warning"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except httpx.HTTPError:
                assert process.poll() is None, "axis api exited"
                assert time.monotonic() < deadline, "axis api did not answer"
                time.sleep(0.2)
        assert response.status_code == 200
        docs = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).json()
        assert "/api/v2/positions/open" in docs["paths"]
    finally:
        process.terminate()
        process.wait(timeout=20)
