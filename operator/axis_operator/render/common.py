"""Names, labels, owner references and the hardened container defaults every child shares."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import yaml

from axis.config.specs import Resources, SpecModel
from axis_operator import API_VERSION
from axis_operator.settings import PORT, OperatorSettings

Manifest = dict[str, Any]
PART_OF = "axis"
MANAGED_BY = "axis-operator"


@dataclass(frozen=True)
class Owner:
    """The custom resource the children belong to."""

    kind: str
    name: str
    namespace: str
    uid: str
    generation: int = 1

    @property
    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def spec_hash(spec: SpecModel) -> str:
    """A short digest of the spec's wire form: the pod template carries it, so any spec change
    rolls the pod (a ConfigMap change alone would not)."""
    text = json.dumps(spec.to_wire(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def labels(owner: Owner, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": f"axis-{component}",
        "app.kubernetes.io/instance": owner.name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        f"trading.axis.io/{owner.kind.lower()}": owner.name,
    }


def selector(owner: Owner, component: str) -> dict[str, str]:
    """The stable subset of labels that selects the pods (selectors are immutable)."""
    return {
        "app.kubernetes.io/name": f"axis-{component}",
        "app.kubernetes.io/instance": owner.name,
    }


def metadata(owner: Owner, name: str, component: str, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": owner.namespace,
        "labels": labels(owner, component),
        "ownerReferences": [owner.reference],
    }
    meta.update(extra)
    return meta


def container_resources(resources: Resources) -> dict[str, Any]:
    return {
        "requests": {"cpu": resources.cpu_request, "memory": resources.memory_request},
        "limits": {"cpu": resources.cpu_limit, "memory": resources.memory_limit},
    }


def http_probe(path: str, period: int, failures: int, initial: int = 0) -> dict[str, Any]:
    probe: dict[str, Any] = {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }
    if initial:
        probe["initialDelaySeconds"] = initial
    return probe


def probes() -> dict[str, Any]:
    """Liveness on /healthz, readiness on /readyz (venues connected and reconciled); a startup
    probe gives reconciliation up to five minutes before liveness may restart the process."""
    return {
        "startupProbe": http_probe("/healthz", 5, 60),
        "livenessProbe": http_probe("/healthz", 10, 3),
        "readinessProbe": http_probe("/readyz", 5, 3),
    }


def container_security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def prometheus_annotations() -> dict[str, str]:
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(PORT),
        "prometheus.io/path": "/metrics",
    }


def service(owner: Owner, name: str, component: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(owner, name, component),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(owner, component),
            "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def service_account(owner: Owner, name: str, component: str, automount: bool) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(owner, name, component),
        "automountServiceAccountToken": automount,
    }


def config_map(owner: Owner, name: str, component: str, key: str, text: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(owner, name, component),
        "data": {key: text},
    }


CONFIG_DIR = "/etc/axis"


def config_resource(owner: Owner, spec: SpecModel) -> str:
    """The config file of a worker or gateway: the whole resource, which the process's own
    loader (``axis.config.load_spec``) reads back to the spec."""
    resource = {
        "apiVersion": API_VERSION,
        "kind": owner.kind,
        "metadata": {"name": owner.name, "namespace": owner.namespace},
        "spec": spec.to_wire(),
    }
    return yaml.safe_dump(resource, sort_keys=False)


@dataclass(frozen=True)
class Process:
    """One AXIS process per the process contract: ``axis <command> --config <file>`` serving
    health, readiness, metrics and status on :data:`PORT`."""

    component: str  # worker | gateway
    command: str  # trade | gateway
    config_key: str  # strategy.yaml | connector.yaml
    image: str
    env: list[dict[str, Any]]
    resources: Resources
    env_from: list[dict[str, Any]] | None = None


def process_deployment(
    owner: Owner,
    process: Process,
    settings: OperatorSettings,
    *,
    replicas: int,
    pod_labels: dict[str, str],
    annotations: dict[str, str],
    automount_token: bool,
    grace_seconds: int,
    tmp_size: str,
) -> Manifest:
    """A one-replica ``Recreate`` Deployment of the process (never two on one account or book),
    hardened, probed on its health endpoints and scraped by Prometheus."""
    name = f"{owner.name}-{process.component}"
    container: dict[str, Any] = {
        "name": process.component,
        "image": process.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["axis"],
        "args": [
            process.command,
            "--config",
            f"{CONFIG_DIR}/{process.config_key}",
            "--host",
            "0.0.0.0",
            "--port",
            str(PORT),
        ],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": process.env,
        "resources": container_resources(process.resources),
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        **probes(),
    }
    if process.env_from:
        container["envFrom"] = process.env_from
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(owner, name, process.component),
        "spec": {
            "replicas": replicas,
            "strategy": {"type": "Recreate"},
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(owner, process.component)},
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    "annotations": {**prometheus_annotations(), **annotations},
                },
                "spec": {
                    "serviceAccountName": name,
                    "automountServiceAccountToken": automount_token,
                    "terminationGracePeriodSeconds": grace_seconds,
                    "securityContext": pod_security(),
                    "containers": [container],
                    "volumes": [
                        {"name": "config", "configMap": {"name": name}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": tmp_size}},
                    ],
                },
            },
        },
    }


def dns_egress() -> dict[str, Any]:
    return {
        "to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }


def control_peers(settings: OperatorSettings) -> list[dict[str, Any]]:
    """Who may call a process's port besides its clients: the operator (status, drain) and
    the monitoring namespace (metrics)."""
    peers: list[dict[str, Any]] = [
        {
            "namespaceSelector": {
                "matchLabels": {"kubernetes.io/metadata.name": settings.operator_namespace}
            },
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "axis-operator"}},
        }
    ]
    if settings.monitoring_namespace:
        peers.append(
            {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": settings.monitoring_namespace}
                }
            }
        )
    return peers
