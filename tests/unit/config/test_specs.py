"""The strategy and connector specs: wire format, defaults and the rules that span fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from axis.config import (
    ConfigError,
    DataSource,
    ExchangeConnectorSpec,
    FailoverPolicy,
    RiskSpec,
    StrategyMode,
    TradingStrategySpec,
    load_spec,
)
from axis.domain.enums import Exchange
from axis.risk.limits import RiskProfile, limits_for


def strategy(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"strategy": "trend_futures", "symbols": ["BTC/USDT:USDT"]}
    spec.update(overrides)
    return spec


def error_of(model: type[Any], data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    first = info.value.errors()[0]
    return ".".join(str(p) for p in first["loc"]) + ": " + first["msg"]


def test_minimal_strategy_gets_paper_mode_and_the_balanced_profile() -> None:
    spec = TradingStrategySpec.model_validate(strategy())
    assert spec.mode is StrategyMode.PAPER
    assert spec.limits() == limits_for(RiskProfile.BALANCED)
    assert spec.failover is FailoverPolicy.HALT
    assert spec.data.source is DataSource.LIVE


def test_wire_form_is_camel_case_and_round_trips() -> None:
    spec = TradingStrategySpec.model_validate(
        strategy(marginMode="cross", onDelete="keep", risk={"stopLoss": 0.02, "takeProfit": 0.05})
    )
    wire = spec.to_wire()
    assert wire["marginMode"] == "cross"
    assert wire["onDelete"] == "keep"
    assert wire["risk"] == {"profile": "balanced", "stopLoss": 0.02, "takeProfit": 0.05}
    assert "margin_mode" not in wire
    assert TradingStrategySpec.model_validate(wire) == spec


def test_snake_case_is_accepted_in_python() -> None:
    spec = TradingStrategySpec(strategy="ma_crossover", symbols=["BTC/USDT"], margin_mode="cross")
    assert spec.margin_mode.value == "cross"


def test_risk_overrides_apply_on_top_of_the_profile() -> None:
    risk = RiskSpec(profile=RiskProfile.CONSERVATIVE, max_open_orders=4, daily_loss_limit=0.01)
    limits = risk.limits()
    assert limits.max_open_orders == 4
    assert limits.daily_loss_limit == 0.01
    assert limits.max_leverage == limits_for(RiskProfile.CONSERVATIVE).max_leverage


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"mode": "live"}, "live mode needs at least one connector"),
        (
            {"mode": "live", "connectors": ["binance-main"], "data": {"source": "replay"}},
            "replay is for paper mode",
        ),
        ({"risk": {"stopLoss": 0.05, "takeProfit": 0.05}}, "stopLoss must be below takeProfit"),
        ({"leverage": 11}, "above the risk profile's maximum 10"),
        ({"symbols": []}, "symbols: List should have at least 1 item"),
        ({"symbols": ["btcusdt"]}, "not a ccxt symbol"),
        ({"symbols": ["BTC/USDT", "BTC/USDT"]}, "symbols must not repeat"),
        ({"timeframe": "7m"}, "unknown timeframe '7m'"),
        ({"connectors": ["Binance_Main"]}, "not a valid connector name"),
        ({"capital": -1}, "capital: Input should be greater than 0"),
        ({"levrage": 3}, "levrage: Extra inputs are not permitted"),
        ({"data": {"path": "x.csv"}}, "path is only used with source: replay"),
    ],
)
def test_bad_strategy_specs_name_the_problem(overrides: dict[str, Any], expected: str) -> None:
    assert expected in error_of(TradingStrategySpec, strategy(**overrides))


def test_leverage_allowed_by_an_overridden_profile() -> None:
    spec = TradingStrategySpec.model_validate(strategy(leverage=20, risk={"profile": "aggressive"}))
    assert spec.leverage == 20


def test_model_reference_uri() -> None:
    spec = TradingStrategySpec.model_validate(
        strategy(models=[{"name": "btc-regime", "role": "regime"}])
    )
    assert spec.models[0].uri == "models:/btc-regime@champion"


def test_connector_defaults_to_local_credentials() -> None:
    spec = ExchangeConnectorSpec(exchange=Exchange.BYBIT)
    assert spec.credentials.local is not None
    assert spec.to_wire()["credentials"] == {"local": {"profile": "default"}}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"exchange": "kraken"}, "exchange: Input should be"),
        ({"exchange": "okx", "credentials": {}}, "exactly one of vault, secretRef or local"),
        (
            {
                "exchange": "okx",
                "credentials": {"vault": {"path": "axis/okx"}, "secretRef": {"name": "okx-keys"}},
            },
            "exactly one of vault, secretRef or local",
        ),
        ({"exchange": "gate", "rateLimitShare": 0}, "rateLimitShare: Input should be greater"),
        ({"exchange": "binance", "alternateHosts": ["not a host"]}, "not a host name"),
        ({"exchange": "binance", "resources": {"cpuLimit": "lots"}}, "cpuLimit: String should"),
    ],
)
def test_bad_connector_specs_name_the_problem(data: dict[str, Any], expected: str) -> None:
    assert expected in error_of(ExchangeConnectorSpec, data)


def test_load_spec_reads_a_bare_spec_or_a_kubernetes_resource(tmp_path: Path) -> None:
    bare = tmp_path / "bare.yaml"
    bare.write_text(yaml.safe_dump(strategy(leverage=3)))
    resource = tmp_path / "resource.yaml"
    resource.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "trading.axis.io/v1alpha1",
                "kind": "TradingStrategy",
                "metadata": {"name": "btc-trend"},
                "spec": strategy(leverage=3),
            }
        )
    )
    assert load_spec(TradingStrategySpec, bare) == load_spec(TradingStrategySpec, resource)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "no such file"),
        ("strategy: [unclosed", "not valid YAML"),
        ("- a list", "expected a mapping"),
        ("strategy: x\nsymbols: [BTC/USDT]\nleverage: 500\n", "leverage: Input should be"),
    ],
)
def test_load_spec_errors_name_the_file_and_field(
    tmp_path: Path, text: str | None, expected: str
) -> None:
    path = tmp_path / "spec.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_spec(TradingStrategySpec, path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)
