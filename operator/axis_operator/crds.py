"""The CustomResourceDefinitions, generated from the pydantic spec models.

The spec models in :mod:`axis.config.specs` are the schema (DESIGN.md §1.4). This module turns
their JSON schema into Kubernetes *structural* OpenAPI schemas (no ``$ref``, no ``anyOf``,
boolean ``exclusiveMinimum``, open maps marked ``x-kubernetes-preserve-unknown-fields``), adds
what a ``field_validator`` checks in Python as enums, patterns and list types, and mirrors every
``model_validator`` as a CEL rule, so the API server refuses what the worker would refuse.
``axis crds`` writes the result to ``crds/``; a test fails when that folder is stale.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from axis.config.specs import (
    HOST_PATTERN,
    NAME_PATTERN,
    SYMBOL_PATTERN,
    Credentials,
    DataSpec,
    ExchangeConnectorSpec,
    RiskSpec,
    SpecModel,
    TradingStrategySpec,
)
from axis.data.bars import TIMEFRAMES
from axis.risk.limits import PROFILES, RiskProfile
from axis_operator import GROUP, VERSION

Schema = dict[str, Any]

# Cross-field rules: each mirrors one model_validator of the spec models, with its message.
MODEL_RULES: dict[type[BaseModel], list[dict[str, str]]] = {}


def _leverage_rule() -> str:
    """``leverage <= the risk profile's max leverage`` (or its override), generated from the
    profile table so the CRD cannot drift from :data:`axis.risk.limits.PROFILES`."""
    profile = "(has(self.risk) && has(self.risk.profile) ? self.risk.profile : 'balanced')"
    by_profile = "".join(
        f"{profile} == '{name.value}' ? {float(limits.max_leverage)!r} : "
        for name, limits in PROFILES.items()
        if name is not RiskProfile.BALANCED
    )
    default = float(PROFILES[RiskProfile.BALANCED].max_leverage)
    cap = (
        "(has(self.risk) && has(self.risk.maxLeverage) ? self.risk.maxLeverage : "
        f"({by_profile}{default!r}))"
    )
    return f"!has(self.leverage) || self.leverage <= {cap}"


MODEL_RULES[RiskSpec] = [
    {
        "rule": "!has(self.stopLoss) || !has(self.takeProfit) || self.stopLoss < self.takeProfit",
        "message": "stopLoss must be below takeProfit",
    }
]
MODEL_RULES[DataSpec] = [
    {
        "rule": "!has(self.path) || (has(self.source) && self.source == 'replay')",
        "message": "path is only used with source: replay",
    }
]
MODEL_RULES[TradingStrategySpec] = [
    {
        "rule": "!has(self.mode) || self.mode != 'live' || "
        "(has(self.connectors) && size(self.connectors) > 0)",
        "message": "live mode needs at least one connector",
    },
    {
        "rule": "!has(self.mode) || self.mode != 'live' || !has(self.data) || "
        "!has(self.data.source) || self.data.source != 'replay'",
        "message": "live mode trades live data; replay is for paper mode",
    },
    {"rule": _leverage_rule(), "message": "leverage is above the risk profile's maximum"},
]
MODEL_RULES[Credentials] = [
    {
        "rule": "(has(self.vault) ? 1 : 0) + (has(self.secretRef) ? 1 : 0) + "
        "(has(self.local) ? 1 : 0) == 1",
        "message": "credentials need exactly one of vault, secretRef or local",
    }
]

# What a field_validator checks, said in schema terms: (model, wire name) → schema keys.
FIELD_RULES: dict[tuple[type[BaseModel], str], Schema] = {
    (TradingStrategySpec, "symbols"): {
        "x-kubernetes-list-type": "set",
        "items": {"pattern": SYMBOL_PATTERN, "maxLength": 62},
    },
    (TradingStrategySpec, "timeframe"): {"enum": list(TIMEFRAMES)},
    (TradingStrategySpec, "connectors"): {
        "x-kubernetes-list-type": "set",
        "items": {"pattern": NAME_PATTERN, "maxLength": 63},
    },
    (ExchangeConnectorSpec, "alternateHosts"): {
        "items": {
            "pattern": HOST_PATTERN,
            "maxLength": 253,
            "x-kubernetes-validations": [
                {
                    "rule": "self.contains('.')",
                    "message": "must be a host name such as api1.binance.com",
                }
            ],
        }
    },
}
for _model, _wire in FIELD_RULES:  # fail at import on a renamed field, not in a cluster
    assert any(f.alias == _wire for f in _model.model_fields.values()), (_model, _wire)

_DROP = {"title", "additionalProperties", "$defs", "discriminator"}


def _model_for(name: str) -> type[BaseModel] | None:
    models: list[type[BaseModel]] = [*MODEL_RULES, *(model for model, _ in FIELD_RULES)]
    pending: list[type[BaseModel]] = list(models)
    seen: dict[str, type[BaseModel]] = {}
    while pending:
        model = pending.pop()
        if model.__name__ in seen:
            continue
        seen[model.__name__] = model
        for info in model.model_fields.values():
            for candidate in _nested_models(info.annotation):
                pending.append(candidate)
    return seen.get(name)


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _nested_models(arg)]


def _factory_defaults(model: type[BaseModel]) -> dict[str, Any]:
    """Defaults that pydantic leaves out of the JSON schema (``default_factory``): an object
    default of ``{}`` lets the API server fill the nested defaults in turn."""
    defaults: dict[str, Any] = {}
    for info in model.model_fields.values():
        factory = info.default_factory
        if factory is None:
            continue
        value = factory()  # type: ignore[call-arg]
        if isinstance(value, SpecModel):
            defaults[info.alias or ""] = value.model_dump(
                mode="json", by_alias=True, exclude_defaults=True
            )
        else:
            defaults[info.alias or ""] = copy.deepcopy(value)
    return defaults


def structural(
    node: Schema, defs: dict[str, Schema], model: type[BaseModel] | None = None
) -> Schema:
    """One pydantic JSON-schema node → a Kubernetes structural schema node."""
    node = dict(node)
    if "$ref" in node:
        name = node.pop("$ref").rsplit("/", 1)[-1]
        target = structural(defs[name], defs, _model_for(name))
        target.update({k: v for k, v in node.items() if k in ("description", "default")})
        node = target
        return _clean_default(node)
    if "anyOf" in node:
        branches = [b for b in node.pop("anyOf") if b.get("type") != "null"]
        if len(branches) != 1:
            raise ValueError(f"a union is not structural: {branches}")
        merged = structural(branches[0], defs)
        merged.update({k: v for k, v in node.items() if k in ("description", "default")})
        return _clean_default(merged)
    out: Schema = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "properties":
            out[key] = {name: structural(sub, defs) for name, sub in value.items()}
        elif key == "items":
            out[key] = structural(value, defs)
        elif key in ("exclusiveMinimum", "exclusiveMaximum"):
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        else:
            out[key] = value
    if out.get("type") == "object" and "properties" not in out:
        out["x-kubernetes-preserve-unknown-fields"] = True  # a free map such as strategy params
    if model is not None:
        for name, default in _factory_defaults(model).items():
            out["properties"][name].setdefault("default", default)
        for (owner, wire), extra in FIELD_RULES.items():
            if owner is model:
                _merge(out["properties"][wire], extra)
        if model in MODEL_RULES:
            out["x-kubernetes-validations"] = copy.deepcopy(MODEL_RULES[model])
    return _clean_default(out)


def _merge(target: Schema, extra: Schema) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


_KEY_ORDER = [
    "description",
    "type",
    "format",
    "enum",
    "default",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "required",
    "properties",
    "items",
]


def _clean_default(node: Schema) -> Schema:
    """Drop null defaults, fold docstrings to one line and put keys in a reading order."""
    if "default" in node and node["default"] is None:
        del node["default"]
    if "description" in node:
        node["description"] = " ".join(str(node["description"]).replace("``", "").split())
    rank = {key: i for i, key in enumerate(_KEY_ORDER)}
    ordered = dict(sorted(node.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))
    node.clear()
    node.update(ordered)
    return node


def spec_schema(model: type[BaseModel]) -> Schema:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return structural(raw, raw.get("$defs", {}), model)


def _condition_schema() -> Schema:
    return {
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
        "maxItems": 16,
        "items": {
            "type": "object",
            "required": ["type", "status"],
            "properties": {
                "type": {"type": "string", "maxLength": 64},
                "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
                "reason": {"type": "string", "maxLength": 128},
                "message": {"type": "string", "maxLength": 4096},
                "lastTransitionTime": {"type": "string", "format": "date-time"},
                "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
            },
        },
    }


STRATEGY_PHASES = [
    "Pending",
    "Starting",
    "Running",
    "Paused",
    "Draining",
    "Drained",
    "Halted",
    "Degraded",
]
CONNECTOR_PHASES = ["Pending", "Ready", "Degraded"]


def _strategy_status() -> Schema:
    return {
        "type": "object",
        "properties": {
            "phase": {"type": "string", "enum": STRATEGY_PHASES},
            "message": {"type": "string", "maxLength": 4096},
            "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
            "specHash": {"type": "string", "maxLength": 64},
            "mode": {"type": "string", "enum": ["paper", "live"]},
            "tradingState": {"type": "string", "enum": ["active", "reducing", "halted"]},
            "equity": {"type": "number"},
            "openPositions": {"type": "integer", "minimum": 0},
            "lastDecisionAt": {"type": "string", "format": "date-time"},
            "lastRefreshedAt": {"type": "string", "format": "date-time"},
            "venues": {
                "type": "array",
                "maxItems": 16,
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "healthy": {"type": "boolean"}},
                },
            },
            "connectors": {
                "type": "array",
                "maxItems": 8,
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "ready": {"type": "boolean"},
                        "message": {"type": "string"},
                    },
                },
            },
            "conditions": _condition_schema(),
        },
    }


def _connector_status() -> Schema:
    return {
        "type": "object",
        "properties": {
            "phase": {"type": "string", "enum": CONNECTOR_PHASES},
            "message": {"type": "string", "maxLength": 4096},
            "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
            "specHash": {"type": "string", "maxLength": 64},
            "reachable": {"type": "boolean"},
            "clockSkewMs": {"type": "number"},
            "rateLimitHeadroom": {"type": "number", "minimum": 0, "maximum": 1},
            "lastError": {"type": "string", "maxLength": 4096},
            "lastRefreshedAt": {"type": "string", "format": "date-time"},
            "conditions": _condition_schema(),
        },
    }


_READY = '.status.conditions[?(@.type=="Ready")].status'


@dataclass(frozen=True)
class CustomKind:
    kind: str
    plural: str
    short_names: list[str]
    spec_model: type[BaseModel]
    status: Callable[[], Schema]
    columns: list[dict[str, Any]] = field(default_factory=list)

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{GROUP}/{VERSION}"


TRADING_STRATEGY = CustomKind(
    kind="TradingStrategy",
    plural="tradingstrategies",
    short_names=["ts", "strategy"],
    spec_model=TradingStrategySpec,
    status=_strategy_status,
    columns=[
        {"name": "Mode", "type": "string", "jsonPath": ".spec.mode"},
        {"name": "Symbols", "type": "string", "jsonPath": ".spec.symbols"},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Equity", "type": "number", "jsonPath": ".status.equity"},
        {"name": "Ready", "type": "string", "jsonPath": _READY},
        {"name": "Strategy", "type": "string", "jsonPath": ".spec.strategy", "priority": 1},
        {
            "name": "Positions",
            "type": "integer",
            "jsonPath": ".status.openPositions",
            "priority": 1,
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ],
)
EXCHANGE_CONNECTOR = CustomKind(
    kind="ExchangeConnector",
    plural="exchangeconnectors",
    short_names=["xc", "connector"],
    spec_model=ExchangeConnectorSpec,
    status=_connector_status,
    columns=[
        {"name": "Exchange", "type": "string", "jsonPath": ".spec.exchange"},
        {"name": "Market", "type": "string", "jsonPath": ".spec.marketType"},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Reachable", "type": "boolean", "jsonPath": ".status.reachable"},
        {"name": "Ready", "type": "string", "jsonPath": _READY},
        {"name": "Sandbox", "type": "boolean", "jsonPath": ".spec.sandbox", "priority": 1},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ],
)
KINDS = (TRADING_STRATEGY, EXCHANGE_CONNECTOR)


def crd(kind: CustomKind) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{kind.plural}.{GROUP}",
            "labels": {"app.kubernetes.io/part-of": "axis"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": kind.short_names,
                "categories": ["axis", "trading"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": kind.columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": (kind.spec_model.__doc__ or kind.kind).strip(),
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema(kind.spec_model),
                                "status": kind.status(),
                            },
                        }
                    },
                }
            ],
        },
    }


HEADER = "# Generated by `axis crds` from axis.config.specs — do not edit by hand.\n"


def render_files() -> dict[str, str]:
    """File name → YAML text of every CRD, as ``axis crds`` writes them."""
    return {
        f"{GROUP}_{kind.plural}.yaml": HEADER
        + yaml.safe_dump(crd(kind), sort_keys=False, width=100, allow_unicode=True)
        for kind in KINDS
    }


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_files().items():
        path = directory / name
        path.write_text(text)
        written.append(path)
    return written


def stale(directory: Path) -> list[str]:
    """Names of the CRD files in ``directory`` that differ from what the models generate."""
    return [
        name
        for name, text in render_files().items()
        if not (directory / name).is_file() or (directory / name).read_text() != text
    ]
