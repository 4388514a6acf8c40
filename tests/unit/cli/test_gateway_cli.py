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
