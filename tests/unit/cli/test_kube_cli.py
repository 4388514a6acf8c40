"""``axis crds`` and ``axis operator render``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from axis.cli import main

ROOT = Path(__file__).resolve().parents[3]


def run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    return int(exited.value.code or 0)


def test_crds_writes_then_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["crds", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "trading.axis.io_exchangeconnectors.yaml",
        "trading.axis.io_tradingstrategies.yaml",
    ]
    assert run(["crds", "--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "trading.axis.io_exchangeconnectors.yaml").write_text("edited\n")
    assert run(["crds", "--check", "--out", str(tmp_path)]) == 1
    assert "stale CRDs" in capsys.readouterr().err


def test_render_prints_the_children(capsys: pytest.CaptureFixture[str]) -> None:
    example = ROOT / "crds" / "examples" / "tradingstrategy-btc-trend.yaml"
    assert run(["operator", "render", str(example)]) == 0
    children = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [c["kind"] for c in children][-1] == "Deployment"
    assert children[-1]["metadata"]["namespace"] == "trading"


def test_render_refuses_bad_input_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: trading.axis.io/v1alpha1\nkind: TradingStrategy\nmetadata: {name: x}\n"
        "spec: {strategy: trend_futures, symbols: [BTC/USDT], mode: live}\n"
    )
    assert run(["operator", "render", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "live mode needs at least one connector" in err
    assert run(["operator", "render", str(tmp_path / "missing.yaml")]) == 2
