"""``axis trade --config``: a bad configuration ends with one line and exit code 2 before
anything starts; a real worker process serves its endpoints and drains on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from axis.cli import main

ROOT = Path(__file__).resolve().parents[4]
LIVE = "strategy: trend_futures\nmode: live\nsymbols: [BTC/USDT:USDT]\nconnectors: [binance-main]\n"


def run_cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    code = exit_info.value.code
    return int(code) if code is not None else 0


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        (None, {}, "no such file"),
        ("strategy: [unclosed\n", {}, "not valid YAML"),
        ("strategy: trend_futures\nsymbols: [BTCUSDT]\n", {}, "symbols"),
        ("strategy: nope\nsymbols: [BTC/USDT]\ndata: {source: replay}\n", {}, "unknown strategy"),
        (
            "strategy: trend_futures\nsymbols: [BTC/USDT]\nparams: {ma_period: 1}\n"
            "data: {source: replay}\n",
            {},
            "ma_period",
        ),
        (LIVE, {}, "AXIS_GATEWAYS: not set"),
        (LIVE, {"AXIS_GATEWAYS": "{not json"}, "AXIS_GATEWAYS: not valid JSON"),
        (LIVE, {"AXIS_GATEWAYS": '{"bybit-main": "http://x"}'}, "no URL for connector"),
    ],
)
def test_bad_configuration_is_one_line_and_exit_code_2(
    text: str | None,
    env: dict[str, str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AXIS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("AXIS_GATEWAYS", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    config = tmp_path / "strategy.yaml"
    if text is not None:
        config.write_text(text)
    assert run_cli(["trade", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "data" / "axis.db").exists()  # nothing was started or written


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.slow
def test_a_worker_process_serves_its_endpoints_and_drains_on_sigterm(tmp_path: Path) -> None:
    config = tmp_path / "strategy.yaml"
    # 2000 bars of 5 minutes at 3000x: a bar every 0.1 s, far longer than the test.
    config.write_text(
        "strategy: trend_futures\nsymbols: [XRP/USDT:USDT]\nleverage: 3\n"
        "data: {source: replay, speed: 3000}\n"
    )
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("services", "operator", "ml")),
        "AXIS_DATA_DIR": str(tmp_path / "data"),
        "AXIS_PORT": str(port),
        "AXIS_STRATEGY_NAME": "sigterm-test",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from axis.cli import main; main()",
            "trade",
            "--config",
            str(config),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        ready = False
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = _get(port, "/readyz")[0] == 200
            except OSError:
                ready = False
            if ready:
                break
            time.sleep(0.2)
        if not ready:
            process.kill()
            pytest.fail(f"the worker never became ready: {process.communicate()[1]}")
        status = json.loads(_get(port, "/status")[1])
        assert status["phase"] == "Running"
        assert status["mode"] == "paper"
        assert status["strategy"] == "sigterm-test"
        metrics = _get(port, "/metrics")[1].decode()
        assert "axis_equity " in metrics
        assert "axis_decision_latency_seconds_bucket" in metrics
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    final = json.loads(out[out.index("{") :])
    assert final["phase"] == "Stopped"
    assert final["drain"] == "done"
    assert final["tradingState"] == "reducing"


def test_connectors_become_gateway_venues_and_a_failover_group(tmp_path: Path) -> None:
    from axis.config.specs import TradingStrategySpec
    from axis.venues.failover import FailoverVenue
    from axis.venues.gateway import GatewayVenue, gateway_venues
    from axis.worker.build import WorkerOptions
    from axis.worker.main import connect_venue, failover_prefix

    spec = TradingStrategySpec.model_validate(
        {
            "strategy": "trend_futures",
            "mode": "live",
            "symbols": ["BTC/USDT:USDT"],
            "connectors": ["binance-main", "bybit-main"],
            "failover": "mirror",
        }
    )
    table = '{"bybit-main": "http://bybit:8080", "binance-main": "http://binance:8080"}'
    gateways = gateway_venues({"AXIS_GATEWAYS": table}, spec.connectors)
    assert [v.name for v in gateways] == ["binance-main", "bybit-main"]  # failover order
    options = WorkerOptions(name="fo-test", database_url=f"sqlite:///{tmp_path / 'w.db'}")
    venue = connect_venue(spec, gateways, options)
    assert isinstance(venue, FailoverVenue)
    assert venue.policy.value == "mirror"
    single = connect_venue(spec, gateways[:1], options)
    assert isinstance(single, GatewayVenue)
    assert single.name == "binance-main"
    assert single.base_url == "http://binance:8080"
    # One prefix per start; with the venue name and sequence it fits the 36-character ids.
    assert failover_prefix(1_733_300_000) != failover_prefix(1_733_300_001)
    assert len(failover_prefix(2**40)) <= 12
