"""Operator settings: one immutable object, read from ``AXIS_OPERATOR_*`` environment variables
(the chart sets them) and passed to the render functions and handlers explicitly."""

from __future__ import annotations

import json
import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from axis.config.specs import IMAGE_PATTERN

DEFAULT_IMAGE = "ghcr.io/axis-trading/axis:0.1.0"
PORT = 8080  # the one HTTP port of every AXIS process (health, readiness, metrics, status)


class OperatorSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    image: str = Field(DEFAULT_IMAGE, pattern=IMAGE_PATTERN)
    image_pull_policy: str = Field("IfNotPresent", pattern="^(Always|IfNotPresent|Never)$")
    # Where the operator reaches a worker / gateway; {name} and {namespace} are filled in.
    # Tests point these at a local fake; in a cluster they are the children's Services.
    worker_url: str = f"http://{{name}}-worker.{{namespace}}.svc:{PORT}"
    gateway_url: str = f"http://{{name}}-gateway.{{namespace}}.svc:{PORT}"
    mesh_enabled: bool = False
    status_interval_seconds: float = Field(30.0, gt=0)
    drain_poll_seconds: float = Field(5.0, gt=0)
    http_timeout_seconds: float = Field(5.0, gt=0)
    termination_grace_seconds: int = Field(60, ge=1, le=3600)
    # Peers the worker's NetworkPolicy lets it reach besides its gateways.
    store_ports: tuple[int, ...] = (5432, 6379)
    store_cidrs: tuple[str, ...] = ()
    store_secret: str | None = "axis-store"
    model_service_url: str = "http://axis-models-serve-svc.axis.svc:8000"
    model_namespace: str | None = "axis"
    model_port: int = 8000
    vault_addr: str = "http://vault.vault.svc:8200"
    vault_auth_path: str = "kubernetes"  # the Kubernetes auth mount gateways log in through
    operator_namespace: str = "axis"
    monitoring_namespace: str | None = "monitoring"
    peering: str = "axis"
    namespaces: tuple[str, ...] = ()  # empty: every namespace

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> OperatorSettings:
        """``AXIS_OPERATOR_<FIELD>``; tuples as comma-separated lists, booleans as true/false."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            raw = env.get(f"AXIS_OPERATOR_{name.upper()}")
            if raw is None:
                continue
            annotation = str(info.annotation)
            if "tuple" in annotation:
                values[name] = tuple(part.strip() for part in raw.split(",") if part.strip())
            elif raw.strip().lower() in ("null", "none", "") and "None" in annotation:
                values[name] = None
            elif annotation in ("<class 'bool'>", "bool"):
                values[name] = json.loads(raw.strip().lower())
            else:
                values[name] = raw
        return cls.model_validate(values)

    def worker_base_url(self, name: str, namespace: str) -> str:
        return self.worker_url.format(name=name, namespace=namespace).rstrip("/")

    def gateway_base_url(self, name: str, namespace: str) -> str:
        return self.gateway_url.format(name=name, namespace=namespace).rstrip("/")
