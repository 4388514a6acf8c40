"""Check manifests the way an API server would, without one.

- Our custom resources: the CRD's structural schema (Draft 4 semantics: boolean
  ``exclusiveMinimum``), then every ``x-kubernetes-validations`` CEL rule, evaluated with
  cel-python where the object has the node (numbers typed ``number`` are doubles, as in the
  API server).
- Core kinds: kubernetes-validate's schemas of the Kubernetes release we target, strict
  (misspelt fields fail).
- Istio, KubeRay, Argo CD and Prometheus Operator kinds: their upstream CRD schemas from a
  folder laid out as ``<group>/<kind>_<version>.json``, with misspelt fields caught by closing
  every object node that declares properties (the API server would prune them silently).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import kubernetes_validate

from axis_operator.crds import KINDS, crd

KUBERNETES_VERSION = "1.32"
Schema = dict[str, Any]


class ManifestError(ValueError):
    """A manifest the API server would refuse; the message names the object and the field."""


def _where(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind', '?')}/{meta.get('name', '?')}"


# --- our CRDs ---------------------------------------------------------------------------------


@cache
def _custom_schema(kind: str) -> Schema:
    for custom in KINDS:
        if custom.kind == kind:
            version = crd(custom)["spec"]["versions"][0]
            schema: Schema = version["schema"]["openAPIV3Schema"]
            return schema
    raise ManifestError(f"{kind} is not an AXIS kind")


def apply_defaults(value: Any, schema: Schema) -> Any:
    """Structural defaulting as the API server does it: missing properties with a default get
    it, and defaults of the properties inside a defaulted object apply in turn."""
    if isinstance(value, dict) and "properties" in schema:
        out = dict(value)
        for name, sub in schema["properties"].items():
            if name not in out and "default" in sub:
                out[name] = copy.deepcopy(sub["default"])
            if name in out:
                out[name] = apply_defaults(out[name], sub)
        return out
    if isinstance(value, list) and "items" in schema:
        return [apply_defaults(item, schema["items"]) for item in value]
    return value


def _as_cel_numbers(value: Any, schema: Schema) -> Any:
    """YAML reads ``5`` as an int; a ``type: number`` field is a double in CEL."""
    if schema.get("type") == "number" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, dict) and "properties" in schema:
        return {k: _as_cel_numbers(v, schema["properties"].get(k, {})) for k, v in value.items()}
    if isinstance(value, list) and "items" in schema:
        return [_as_cel_numbers(item, schema["items"]) for item in value]
    return value


@lru_cache(maxsize=256)
def _cel_program(rule: str) -> Any:
    env = celpy.Environment()
    return env.program(env.compile(rule))


def _cel_failures(value: Any, schema: Schema, path: str) -> Iterator[str]:
    for rule in schema.get("x-kubernetes-validations", []):
        activation = {"self": celpy.json_to_cel(_as_cel_numbers(value, schema))}
        result = _cel_program(rule["rule"]).evaluate(activation)
        if isinstance(result, Exception) or not bool(result):
            yield f"{path}: {rule.get('message', rule['rule'])}"
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                yield from _cel_failures(value[name], sub, f"{path}.{name}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            yield from _cel_failures(item, schema["items"], f"{path}[{i}]")


def _list_set_failures(value: Any, schema: Schema, path: str) -> Iterator[str]:
    if isinstance(value, list):
        if schema.get("x-kubernetes-list-type") == "set" and len(
            {json.dumps(v, sort_keys=True) for v in value}
        ) != len(value):
            yield f"{path}: duplicate entries in a set"
        for i, item in enumerate(value):
            yield from _list_set_failures(item, schema.get("items", {}), f"{path}[{i}]")
    elif isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                yield from _list_set_failures(value[name], sub, f"{path}.{name}")


def validate_custom(obj: dict[str, Any]) -> dict[str, Any]:
    """Validate a TradingStrategy or ExchangeConnector; return it with defaults applied."""
    schema = _custom_schema(str(obj.get("kind")))
    defaulted = apply_defaults(obj, schema)
    validator = jsonschema.Draft4Validator(_closed(schema))
    errors = sorted(validator.iter_errors(defaulted), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.absolute_path) or "object"
        raise ManifestError(f"{_where(obj)}: {where}: {first.message}")
    failures = [*_list_set_failures(defaulted, schema, ""), *_cel_failures(defaulted, schema, "")]
    if failures:
        raise ManifestError(f"{_where(obj)}: {failures[0].lstrip('.')}")
    return defaulted


# --- third-party CRDs and core kinds -----------------------------------------------------------


def _closed(schema: Schema) -> Schema:
    """Every object node that declares properties refuses unknown fields, except under
    ``x-kubernetes-preserve-unknown-fields`` and ``metadata``."""
    if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return schema
    out = dict(schema)
    if "properties" in out:
        out["properties"] = {
            name: sub if name == "metadata" else _closed(sub)
            for name, sub in out["properties"].items()
        }
        out.setdefault("additionalProperties", False)
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = _closed(out[key])
    for key in ("anyOf", "allOf", "oneOf"):
        if key in out:
            out[key] = [_closed(s) for s in out[key]]
    return out


def _with_envelope(schema: Schema) -> Schema:
    """Some schemas (Istio's, kopf's) leave the root envelope undeclared; every object has it."""
    out = dict(schema)
    props = dict(out.get("properties", {}))
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    props.setdefault("metadata", {"type": "object"})
    out["properties"] = props
    return out


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


@lru_cache(maxsize=64)
def _third_party_validator(path: str) -> jsonschema.protocols.Validator:
    schema = json.loads(Path(path).read_text())
    text = json.dumps(schema)
    # Python's re refuses a mid-pattern global flag (PrometheusRule); RE2 accepts it.
    text = text.replace("^(?i)(abort|warn)?$", "(?i)^(abort|warn)?$")
    schema = _closed(_with_envelope(json.loads(text)))
    for _, sub in _walk(schema):  # replica bounds are required but defaulted by the server
        required = sub.get("required", [])
        if "minReplicas" in required and "maxReplicas" in required:
            sub["required"] = [r for r in required if r not in ("minReplicas", "maxReplicas")]
    cls: Any = jsonschema.Draft7Validator
    return cls(schema)


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}/{i}")


def third_party_schema(schemas: Path, obj: dict[str, Any]) -> Path | None:
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    path = schemas / group / f"{str(obj.get('kind', '')).lower()}_{version}.json"
    return path if path.is_file() else None


# Kubernetes' own groups: the core group "", dot-less groups (apps, policy, batch…) and *.k8s.io.
CORE_GROUP = re.compile(r"^[a-z0-9]*$|^([a-z0-9-]+\.)*k8s\.io$")


def _crd_schema(crds: list[dict[str, Any]], api_version: str, kind: str) -> Schema | None:
    group, _, version = api_version.rpartition("/")
    for definition in crds:
        spec = definition.get("spec", {})
        if spec.get("group") != group or spec.get("names", {}).get("kind") != kind:
            continue
        for served in spec.get("versions", []):
            if served.get("name") == version:
                found: Schema = served["schema"]["openAPIV3Schema"]
                return found
    return None


def validate_manifest(
    obj: dict[str, Any], schemas: Path | None = None, crds: list[dict[str, Any]] | None = None
) -> str:
    """Validate one rendered object; returns what it was checked against. ``crds`` are extra
    CustomResourceDefinitions (e.g. those a chart ships) whose objects are checked by their
    own schema."""
    api_version = str(obj.get("apiVersion", ""))
    group = api_version.rpartition("/")[0]
    if str(obj.get("kind")) in {k.kind for k in KINDS} and api_version == KINDS[0].api_version:
        validate_custom(obj)
        return "axis crd"
    own = _crd_schema(crds or [], api_version, str(obj.get("kind")))
    if own is not None:
        errors = list(
            jsonschema.Draft4Validator(_closed(_with_envelope(own))).iter_errors(_drop_nulls(obj))
        )
        if errors:
            raise ManifestError(f"{_where(obj)}: {errors[0].message}")
        return "chart crd"
    if schemas is not None and not CORE_GROUP.match(group):
        path = third_party_schema(schemas, obj)
        if path is None:
            raise ManifestError(f"{_where(obj)}: no schema for {api_version}")
        errors = list(_third_party_validator(str(path)).iter_errors(_drop_nulls(obj)))
        if errors:
            first = min(errors, key=lambda e: len(list(e.absolute_path)))
            where = ".".join(str(p) for p in first.absolute_path) or "object"
            raise ManifestError(f"{_where(obj)}: {where}: {first.message}")
        return str(path.relative_to(schemas))
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.absolute_path) or "object"
        raise ManifestError(f"{_where(obj)}: {where}: {exc.message}") from None
    except kubernetes_validate.SchemaNotFoundError:
        raise ManifestError(f"{_where(obj)}: no Kubernetes schema for {api_version}") from None
    return f"kubernetes {KUBERNETES_VERSION}"
