"""The `axis` command: the issue's backtest command, determinism, and every bad input ending
with one clear line, exit code 2, no traceback and nothing written."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from axis.cli import main

SAMPLE = Path(__file__).resolve().parents[3] / "services/axis/data/sample/BTC_USDT-5m.csv.gz"


def run_cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    code = exit_info.value.code
    return int(code) if code is not None else 0


def test_issue_command_writes_result_and_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = run_cli(
        [
            "backtest",
            "--strategy",
            "trend_futures",
            "--symbol",
            "BTC/USDT",
            "--timeframe",
            "5m",
            "--leverage",
            "5",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    result = json.loads((out / "result.json").read_text())
    assert result["config"]["symbol"] == "BTC/USDT:USDT"
    assert result["config"]["leverage"] == 5
    assert result["config"]["bars"] == 10_999
    assert len(result["equity_curve"]["equity"]) == 10_999
    assert result["metrics"]["num_trades"] == len(result["trades"]) > 0
    assert {"sharpe", "sortino", "calmar", "max_drawdown", "fees_paid", "funding_paid"} <= set(
        result["metrics"]
    )
    html = (out / "report.html").read_text()
    assert "<img" in html
    assert "trend_futures" in html


def _trades_hash(out: Path) -> str:
    trades = json.loads((out / "result.json").read_text())["trades"]
    return hashlib.sha256(json.dumps(trades, sort_keys=True).encode()).hexdigest()


@pytest.mark.parametrize("engine", ["event", "vectorized"])
def test_same_inputs_give_a_byte_identical_trade_list(tmp_path: Path, engine: str) -> None:
    args = [
        "backtest",
        "--strategy",
        "rsi_reversion",
        "--symbol",
        "XRP/USDT:USDT",
        "--timeframe",
        "1h",
        "--leverage",
        "3",
        "--param",
        "allow_short=true",
        "--engine",
        engine,
        "--seed",
        "7",
    ]
    assert run_cli([*args, "--out", str(tmp_path / "a")]) == 0
    assert run_cli([*args, "--out", str(tmp_path / "b")]) == 0
    first, second = _trades_hash(tmp_path / "a"), _trades_hash(tmp_path / "b")
    assert first == second
    stored = json.loads((tmp_path / "a" / "result.json").read_text())["trades_sha256"]
    assert stored == json.loads((tmp_path / "b" / "result.json").read_text())["trades_sha256"]


def _csv(tmp_path: Path, rows: list[str], name: str = "bad.csv") -> Path:
    path = tmp_path / name
    path.write_text("timestamp,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    return path


GOOD = [f"{1_672_677_900_000 + i * 300_000},100,101,99,100.5,10" for i in range(5)]


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    unsorted = [GOOD[1], GOOD[0], *GOOD[2:]]
    duplicate = [GOOD[0], GOOD[0], *GOOD[1:]]
    nan = [*GOOD[:2], GOOD[2].replace(",100.5,", ",nan,"), *GOOD[3:]]
    high_below_low = [*GOOD[:2], GOOD[2].replace(",101,99,", ",98,99,"), *GOOD[3:]]
    return {
        "missing file": (["--data", str(tmp_path / "nope.csv")], "not found"),
        "unsorted timestamps": (["--data", str(_csv(tmp_path, unsorted, "u.csv"))], "sorted"),
        "duplicate timestamps": (["--data", str(_csv(tmp_path, duplicate, "d.csv"))], "duplicate"),
        "NaN": (["--data", str(_csv(tmp_path, nan, "n.csv"))], "close"),
        "high < low": (["--data", str(_csv(tmp_path, high_below_low, "h.csv"))], "high"),
        "unknown strategy": (["--strategy", "does_not_exist"], "unknown strategy"),
        "unknown parameter": (["--strategy", "ma_crossover", "--param", "speed=3"], "speed"),
        "bad parameter value": (["--strategy", "ma_crossover", "--param", "fast=x"], "fast"),
        "negative capital": (["--capital", "-100"], "capital"),
        "leverage above the bracket": (["--leverage", "150"], "leverage"),
        "leverage above the risk profile": (["--leverage", "20"], "risk profile"),
        "leverage on spot": (["--strategy", "ma_crossover", "--leverage", "3"], "spot"),
        "unknown option": (["--levrage", "3"], "--levrage"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing file",
        "unsorted timestamps",
        "duplicate timestamps",
        "NaN",
        "high < low",
        "unknown strategy",
        "unknown parameter",
        "bad parameter value",
        "negative capital",
        "leverage above the bracket",
        "leverage above the risk profile",
        "leverage on spot",
        "unknown option",
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args, expected = _bad_inputs(tmp_path)[case]
    out = tmp_path / "out"
    before = set(tmp_path.iterdir())
    code = run_cli(["backtest", *args, "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    assert expected.lower() in lines[0].lower()
    assert "Traceback" not in captured.err + captured.out
    assert not out.exists()
    assert set(tmp_path.iterdir()) == before


def test_user_data_file_runs(tmp_path: Path) -> None:
    data = tmp_path / "BTC_USDT-5m.csv.gz"
    data.write_bytes(gzip.compress(gzip.decompress(SAMPLE.read_bytes())))
    out = tmp_path / "out"
    assert (
        run_cli(
            [
                "backtest",
                "--strategy",
                "ma_crossover",
                "--data",
                str(data),
                "--start",
                "2023-01-10",
                "--end",
                "2023-01-20",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    result = json.loads((out / "result.json").read_text())
    assert result["config"]["bars"] == 10 * 288


def test_download_without_network_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = run_cli(
        [
            "data",
            "download",
            "--exchange",
            "binance",
            "--symbol",
            "BTC/USDT",
            "--timeframe",
            "5m",
            "--out",
            str(tmp_path / "x.csv.gz"),
        ]
    )
    err = capsys.readouterr().err
    if code == 0:  # a machine with network access
        assert (tmp_path / "x.csv.gz").exists()
    else:
        assert code == 2
        assert "cannot reach binance" in err
