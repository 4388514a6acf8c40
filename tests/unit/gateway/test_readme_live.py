"""The README's live-trading section shows specs that the platform accepts as they are."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from axis.config.specs import ExchangeConnectorSpec, StrategyMode, TradingStrategySpec

README = Path(__file__).resolve().parents[3] / "README.md"


def _section_yaml() -> list[dict[str, object]]:
    text = README.read_text()
    section = text.split("## Trading live on a real exchange account", 1)[1].split("\n## ", 1)[0]
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section, re.S)]


def test_the_connector_and_strategy_examples_are_valid_specs() -> None:
    connector, strategy = _section_yaml()
    spec = ExchangeConnectorSpec.model_validate(connector)
    assert spec.sandbox is True
    assert spec.credentials.local is not None
    live = TradingStrategySpec.model_validate(strategy)
    assert live.mode is StrategyMode.LIVE
    assert live.leverage <= live.limits().max_leverage
