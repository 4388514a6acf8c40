"""The generated CRDs: up to date, structural, valid, and refusing what the spec models refuse
(schema ranges and enums, and CEL rules mirroring every cross-field validator)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from axis.config.specs import ExchangeConnectorSpec, TradingStrategySpec
from axis.risk.limits import PROFILES
from axis_operator import crds
from axis_operator.validation import ManifestError, apply_defaults, validate_custom

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "crds" / "examples").glob("*.yaml"))
MODELS = {"TradingStrategy": TradingStrategySpec, "ExchangeConnector": ExchangeConnectorSpec}


def test_crds_folder_is_what_the_models_generate() -> None:
    assert crds.stale(ROOT / "crds") == [], "crds/ is stale: run `make crds`"


def test_stale_detects_an_edited_file(tmp_path: Path) -> None:
    crds.write(tmp_path)
    assert crds.stale(tmp_path) == []
    target = tmp_path / "trading.axis.io_tradingstrategies.yaml"
    target.write_text(target.read_text().replace("maximum: 125", "maximum: 200"))
    assert crds.stale(tmp_path) == ["trading.axis.io_tradingstrategies.yaml"]


@pytest.mark.parametrize("kind", crds.KINDS, ids=lambda k: k.kind)
def test_crd_is_a_valid_apiextensions_object(kind: crds.CustomKind) -> None:
    kubernetes_validate.validate(crds.crd(kind), "1.32", strict=True)


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((path, node))
        for key in ("properties",):
            for name, sub in node.get(key, {}).items():
                found += _walk(sub, f"{path}.{name}")
        if "items" in node:
            found += _walk(node["items"], f"{path}[]")
    return found


@pytest.mark.parametrize("kind", crds.KINDS, ids=lambda k: k.kind)
def test_schema_is_structural(kind: crds.CustomKind) -> None:
    schema = crds.crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema):
        assert not {"$ref", "anyOf", "oneOf", "allOf", "$defs", "title"} & node.keys(), path
        assert node.get("additionalProperties") is not False, path
        assert "type" in node, f"{path} has no type"
        if node["type"] == "object" and path not in ("", ".metadata"):
            assert "properties" in node or node.get("x-kubernetes-preserve-unknown-fields"), path
        if "exclusiveMinimum" in node:
            assert node["exclusiveMinimum"] is True, path
            assert "minimum" in node, path
        if "default" in node:  # a default, once its own nested defaults apply, passes the node
            jsonschema.Draft4Validator(node).validate(apply_defaults(node["default"], node))


def test_printer_columns_and_status_subresource() -> None:
    version = crds.crd(crds.TRADING_STRATEGY)["spec"]["versions"][0]
    names = [c["name"] for c in version["additionalPrinterColumns"]]
    for column in ("Mode", "Symbols", "Phase", "Equity", "Ready", "Age"):
        assert column in names
    assert version["subresources"] == {"status": {}}
    ready = next(c for c in version["additionalPrinterColumns"] if c["name"] == "Ready")
    assert ready["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'


def test_every_model_validator_has_a_cel_mirror() -> None:
    from axis.config import specs

    for model in (specs.RiskSpec, specs.DataSpec, specs.TradingStrategySpec, specs.Credentials):
        assert model.__pydantic_decorators__.model_validators, model
        assert crds.MODEL_RULES[model], model
    rules = [r["rule"] for rules in crds.MODEL_RULES.values() for r in rules]
    assert all("self" in rule for rule in rules)


def test_leverage_rule_is_generated_from_the_profile_table() -> None:
    rule = crds.MODEL_RULES[TradingStrategySpec][2]["rule"]
    for limits in PROFILES.values():
        assert repr(float(limits.max_leverage)) in rule


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_pass_the_crd_and_the_model(path: Path) -> None:
    resource = yaml.safe_load(path.read_text())
    defaulted = validate_custom(resource)
    model = MODELS[resource["kind"]].model_validate(resource["spec"])
    # Structural defaulting gives exactly what the model fills in: one truth for both.
    assert defaulted["spec"] == model.to_wire()


def test_defaults_of_a_minimal_strategy_match_the_model() -> None:
    minimal = {
        "apiVersion": "trading.axis.io/v1alpha1",
        "kind": "TradingStrategy",
        "metadata": {"name": "m"},
        "spec": {"strategy": "ma_crossover", "symbols": ["BTC/USDT"]},
    }
    defaulted = validate_custom(minimal)
    assert defaulted["spec"] == TradingStrategySpec.model_validate(minimal["spec"]).to_wire()
    connector = {
        "apiVersion": "trading.axis.io/v1alpha1",
        "kind": "ExchangeConnector",
        "metadata": {"name": "c"},
        "spec": {"exchange": "bybit"},
    }
    defaulted = validate_custom(connector)
    assert defaulted["spec"] == ExchangeConnectorSpec.model_validate(connector["spec"]).to_wire()


def _example(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "crds" / "examples" / name).read_text()))


STRATEGY = "tradingstrategy-btc-trend.yaml"
PAPER = "tradingstrategy-eth-paper.yaml"
CONNECTOR = "exchangeconnector-binance-futures.yaml"

# (example, change to spec, a word the CRD's refusal names, a word pydantic's refusal names)
BAD = [
    (STRATEGY, {"connectors": []}, "live mode needs at least one connector", "connector"),
    (STRATEGY, {"data": {"source": "replay"}}, "replay is for paper mode", "replay"),
    (
        STRATEGY,
        {"risk": {"stopLoss": 0.08, "takeProfit": 0.06}},
        "stopLoss must be below",
        "stopLoss",
    ),
    (STRATEGY, {"leverage": 15}, "above the risk profile", "leverage"),
    (
        STRATEGY,
        {"leverage": 4, "risk": {"profile": "conservative"}},
        "above the risk profile",
        "leverage",
    ),
    (
        STRATEGY,
        {"leverage": 30, "risk": {"maxLeverage": 25}},
        "above the risk profile",
        "leverage",
    ),
    (STRATEGY, {"leverage": 200}, "leverage", "leverage"),
    (STRATEGY, {"mode": "yolo"}, "mode", "mode"),
    (STRATEGY, {"symbols": ["btcusdt"]}, "symbols", "symbol"),
    (STRATEGY, {"symbols": ["BTC/USDT", "BTC/USDT"]}, "duplicate", "repeat"),
    (STRATEGY, {"symbols": []}, "symbols", "symbols"),
    (STRATEGY, {"timeframe": "7m"}, "timeframe", "timeframe"),
    (STRATEGY, {"connectors": ["Binance_Main"]}, "connectors", "connector"),
    (STRATEGY, {"capital": 0}, "capital", "capital"),
    (STRATEGY, {"drainTimeoutSeconds": 1}, "drainTimeoutSeconds", "drain"),
    (STRATEGY, {"image": "UPPER/case"}, "image", "image"),
    (STRATEGY, {"resources": {"cpuLimit": "lots"}}, "cpuLimit", "cpu"),
    (STRATEGY, {"unknownField": 1}, "unknownField", "unknown"),
    (
        PAPER,
        {"data": {"source": "live", "path": "/data/eth.csv"}},
        "only used with source",
        "path",
    ),
    (CONNECTOR, {"credentials": {}}, "exactly one", "exactly one"),
    (
        CONNECTOR,
        {"credentials": {"vault": {"path": "a/b"}, "secretRef": {"name": "k"}}},
        "exactly one",
        "exactly one",
    ),
    (CONNECTOR, {"exchange": "ftx"}, "exchange", "exchange"),
    (CONNECTOR, {"rateLimitShare": 0}, "rateLimitShare", "rate"),
    (CONNECTOR, {"alternateHosts": ["localhost"]}, "host name", "host"),
    (CONNECTOR, {"mesh": {"requestTimeoutSeconds": 0}}, "requestTimeoutSeconds", "timeout"),
    (CONNECTOR, {"credentials": {"vault": {"path": "a/b", "auth": "token"}}}, "auth", "auth"),
]


@pytest.mark.parametrize(
    ("example", "change", "crd_says", "model_says"),
    BAD,
    ids=[f"{b[0].split('-')[0]}:{next(iter(b[1]))}-{i}" for i, b in enumerate(BAD)],
)
def test_bad_resources_fail_both_the_crd_and_the_model(
    example: str, change: dict[str, Any], crd_says: str, model_says: str
) -> None:
    resource = copy.deepcopy(_example(example))
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(resource["spec"].get(key), dict) and value:
            resource["spec"][key] = {**resource["spec"][key], **value}
            if key == "credentials":
                resource["spec"][key] = value
        else:
            resource["spec"][key] = value
    with pytest.raises(ManifestError) as refused:
        validate_custom(resource)
    assert crd_says.lower() in str(refused.value).lower()
    with pytest.raises(ValidationError) as invalid:
        MODELS[resource["kind"]].model_validate(resource["spec"])
    assert model_says.lower() in str(invalid.value).lower()
