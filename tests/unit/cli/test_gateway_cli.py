"""``axis gateway --config``: the config and the keys are checked before anything is served;
a problem is one line on stderr and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from axis.cli import main
from axis.config.backtest import ConfigError
from axis.gateway.server import load_config

CONNECTOR = """\
apiVersion: trading.axis.io/v1alpha1
kind: ExchangeConnector
metadata:
  name: binance-main
spec:
  exchange: binance
  marketType: linear_perpetual
  sandbox: true
"""


def run_cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    code = exit_info.value.code
    return int(code) if code is not None else 0


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AXIS_EXCHANGE_API_KEY", "AXIS_EXCHANGE_SECRET", "AXIS_EXCHANGE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AXIS_VAULT_ADDR", "AXIS_VAULT_PATH", "AXIS_CREDENTIALS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AXIS_VAULT_AGENT_FILE", str(tmp_path / "absent.json"))
    monkeypatch.setenv("AXIS_SECRETS_FILE", str(tmp_path / "secrets.json"))


def test_the_resource_form_gives_the_spec_name_and_port(tmp_path: Path) -> None:
    path = tmp_path / "connector.yaml"
    path.write_text(CONNECTOR)
    config = load_config(path, {})
    assert config.connector == "binance-main"
    assert config.port == 8080
    assert config.spec.sandbox is True
    assert config.token is None
    env = {"AXIS_PORT": "9090", "AXIS_CONNECTOR_NAME": "other", "AXIS_GATEWAY_TOKEN": "t"}
    config = load_config(path, env)
    assert (config.port, config.connector, config.token) == (9090, "other", "t")
    bare = tmp_path / "bare.yaml"
    bare.write_text("exchange: okx\n")
    assert load_config(bare, {}).connector == "okx"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AXIS_PORT": "http"}, "AXIS_PORT: 'http' is not a port number"),
        ({"AXIS_PORT": "70000"}, "AXIS_PORT: 70000 is not a port number"),
        ({"AXIS_CONNECTOR_NAME": "Not_A_Name"}, "not a valid connector name"),
    ],
)
def test_bad_process_settings_are_refused(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    path = tmp_path / "connector.yaml"
    path.write_text(CONNECTOR)
    with pytest.raises(ConfigError, match=message):
        load_config(path, env)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such file"),
        ("exchange: kraken\n", "exchange"),
        ("exchange: binance\nsandbox: maybe\n", "sandbox"),
        ("exchange: binance\nrateLimitShare: 2\n", "rateLimitShare"),
    ],
)
def test_a_bad_config_is_one_line_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_keys: None,
    content: str | None,
    expected: str,
) -> None:
    path = tmp_path / "connector.yaml"
    if content is not None:
        path.write_text(content)
    assert run_cli(["gateway", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert expected in lines[0]


def test_missing_keys_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_keys: None
) -> None:
    path = tmp_path / "connector.yaml"
    path.write_text(CONNECTOR)
    assert run_cli(["gateway", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: no exchange keys")
    assert "Traceback" not in "\n".join(err)


# No terminal under pytest: getpass warns that it cannot turn echo off, and reads stdin.
@pytest.mark.filterwarnings("ignore::getpass.GetPassWarning")
def test_exchange_keys_are_prompted_stored_privately_and_never_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    from axis.config.specs import ExchangeConnectorSpec
    from axis.gateway.credentials import load_exchange_keys

    secrets_file = tmp_path / "secrets.json"
    monkeypatch.setenv("AXIS_SECRETS_FILE", str(secrets_file))
    monkeypatch.delenv("AXIS_VAULT_ADDR", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("KEY-abc123\nSECRET-def456\nPASS-789\n"))
    code = run_cli(["exchange-keys", "--profile", "okx-demo", "--passphrase"])
    out = capsys.readouterr()
    assert code == 0
    assert "stored exchange keys as profile 'okx-demo'" in out.out
    for value in ("KEY-abc123", "SECRET-def456", "PASS-789"):
        assert value not in out.out + out.err
    assert oct(secrets_file.stat().st_mode & 0o777) == "0o600"
    env = {"AXIS_CREDENTIALS_PROFILE": "okx-demo", "AXIS_VAULT_AGENT_FILE": str(tmp_path / "n")}
    keys = load_exchange_keys(ExchangeConnectorSpec(exchange="okx"), env)
    assert keys.reveal() == {
        "apiKey": "KEY-abc123",
        "secret": "SECRET-def456",
        "password": "PASS-789",
    }
    assert run_cli(["exchange-keys", "--profile", "bad name"]) == 2
    assert "is not a profile name" in capsys.readouterr().err


@pytest.mark.slow
def test_axis_gateway_serves_the_process_endpoints_without_its_exchange(tmp_path: Path) -> None:
    """The real command with the real exchange venue and no way to reach the exchange (or
    keys it refuses): it serves liveness and status, is not ready, says why, never shows the
    keys, and stops cleanly on SIGTERM."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    path = tmp_path / "connector.yaml"
    path.write_text(CONNECTOR)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = Path(__file__).resolve().parents[3]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(root / p) for p in ("services", "operator", "ml")),
        "AXIS_PORT": str(port),
        "AXIS_HOST": "127.0.0.1",
        "AXIS_EXCHANGE_API_KEY": "CLIkeyNeverShown123",
        "AXIS_EXCHANGE_SECRET": "CLIsecretNeverShown456",
        "AXIS_VAULT_AGENT_FILE": str(tmp_path / "absent.json"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "axis", "gateway", "--config", str(path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the gateway did not come up"
            time.sleep(0.2)
        assert httpx.get(f"{url}/readyz", timeout=5).status_code == 503
        status = httpx.get(f"{url}/status", timeout=5).json()
        assert status["exchange"] == "binance"
        assert status["connector"] == "binance-main"
        assert status["reachable"] is False
        refused = httpx.get(f"{url}/v1/balances", timeout=5)
        assert refused.status_code == 502
        assert refused.json()["kind"] == "VenueUnavailable"
        metrics = httpx.get(f"{url}/metrics", timeout=5).text
        assert 'axis_gateway_errors_total{connector="binance-main",kind="VenueUnavailable"}' in (
            metrics
        )
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells why.
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
    assert "CLIkeyNeverShown123" not in output
    assert "CLIsecretNeverShown456" not in output
