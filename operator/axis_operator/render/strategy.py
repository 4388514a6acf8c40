"""TradingStrategy → its children: ConfigMap, ServiceAccount, Deployment (one ``axis trade``
worker, ``Recreate``: never two workers on one book), Service, PodDisruptionBudget and a
NetworkPolicy that lets the worker reach only its gateways, the store and the model service."""

from __future__ import annotations

import json
from typing import Any

import yaml

from axis.config.specs import TradingStrategySpec
from axis_operator import API_VERSION
from axis_operator.render.common import (
    Manifest,
    Owner,
    config_map,
    container_resources,
    container_security,
    metadata,
    pod_security,
    probes,
    prometheus_annotations,
    selector,
    service,
    service_account,
    spec_hash,
)
from axis_operator.settings import PORT, OperatorSettings

COMPONENT = "worker"
CONFIG_DIR = "/etc/axis"
CONFIG_KEY = "strategy.yaml"


def worker_name(strategy: str) -> str:
    return f"{strategy}-worker"


def gateways(spec: TradingStrategySpec, namespace: str) -> dict[str, str]:
    """The AXIS_GATEWAYS map of the process contract, in the spec's failover order."""
    return {name: f"http://{name}-gateway.{namespace}.svc:{PORT}" for name in spec.connectors}


def config_text(owner: Owner, spec: TradingStrategySpec) -> str:
    resource = {
        "apiVersion": API_VERSION,
        "kind": "TradingStrategy",
        "metadata": {"name": owner.name, "namespace": owner.namespace},
        "spec": spec.to_wire(),
    }
    return yaml.safe_dump(resource, sort_keys=False)


def deployment(owner: Owner, spec: TradingStrategySpec, settings: OperatorSettings) -> Manifest:
    name = worker_name(owner.name)
    env: list[dict[str, Any]] = [
        {"name": "AXIS_STRATEGY_NAME", "value": owner.name},
        {"name": "AXIS_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "AXIS_GATEWAYS", "value": json.dumps(gateways(spec, owner.namespace))},
        {"name": "AXIS_SERVE_URL", "value": settings.model_service_url},
    ]
    container: dict[str, Any] = {
        "name": COMPONENT,
        "image": spec.image or settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["axis"],
        "args": [
            "trade",
            "--config",
            f"{CONFIG_DIR}/{CONFIG_KEY}",
            "--host",
            "0.0.0.0",
            "--port",
            str(PORT),
        ],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": env,
        "resources": container_resources(spec.resources),
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        **probes(),
    }
    if settings.store_secret:
        container["envFrom"] = [{"secretRef": {"name": settings.store_secret, "optional": True}}]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(owner, name, COMPONENT),
        "spec": {
            "replicas": 0 if spec.paused else 1,
            "strategy": {"type": "Recreate"},
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(owner, COMPONENT)},
            "template": {
                "metadata": {
                    "labels": metadata(owner, name, COMPONENT)["labels"],
                    "annotations": {
                        **prometheus_annotations(),
                        "trading.axis.io/spec-hash": spec_hash(spec),
                    },
                },
                "spec": {
                    "serviceAccountName": name,
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": settings.termination_grace_seconds,
                    "securityContext": pod_security(),
                    "containers": [container],
                    "volumes": [
                        {"name": "config", "configMap": {"name": name}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                    ],
                },
            },
        },
    }


def disruption_budget(owner: Owner) -> Manifest:
    """No voluntary eviction of a trading worker: a node drain waits until the strategy is
    paused (which stops opening risk first) instead of killing it mid-decision."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(owner, worker_name(owner.name), COMPONENT),
        "spec": {
            "maxUnavailable": 0,
            "selector": {"matchLabels": selector(owner, COMPONENT)},
        },
    }


def network_policy(owner: Owner, spec: TradingStrategySpec, settings: OperatorSettings) -> Manifest:
    egress: list[dict[str, Any]] = [
        {  # DNS
            "to": [
                {"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
            ],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        }
    ]
    for connector in spec.connectors:
        egress.append(
            {
                "to": [
                    {
                        "podSelector": {
                            "matchLabels": {
                                "app.kubernetes.io/name": "axis-gateway",
                                "app.kubernetes.io/instance": connector,
                            }
                        }
                    }
                ],
                "ports": [{"protocol": "TCP", "port": PORT}],
            }
        )
    store_ports = [{"protocol": "TCP", "port": port} for port in settings.store_ports]
    if settings.store_cidrs:
        store_peers: list[dict[str, Any]] = [
            {"ipBlock": {"cidr": cidr}} for cidr in settings.store_cidrs
        ]
    else:  # in-cluster PostgreSQL/Redis, wherever they run
        store_peers = [{"namespaceSelector": {}}]
    egress.append({"to": store_peers, "ports": store_ports})
    model_peer: dict[str, Any] = {"podSelector": {"matchLabels": {"ray.io/is-ray-node": "yes"}}}
    if settings.model_namespace:
        model_peer["namespaceSelector"] = {
            "matchLabels": {"kubernetes.io/metadata.name": settings.model_namespace}
        }
    egress.append({"to": [model_peer], "ports": [{"protocol": "TCP", "port": settings.model_port}]})

    scrapers: list[dict[str, Any]] = [
        {
            "namespaceSelector": {
                "matchLabels": {"kubernetes.io/metadata.name": settings.operator_namespace}
            },
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "axis-operator"}},
        }
    ]
    if settings.monitoring_namespace:
        scrapers.append(
            {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": settings.monitoring_namespace}
                }
            }
        )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(owner, worker_name(owner.name), COMPONENT),
        "spec": {
            "podSelector": {"matchLabels": selector(owner, COMPONENT)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": scrapers, "ports": [{"protocol": "TCP", "port": PORT}]}],
            "egress": egress,
        },
    }


def render_strategy(
    owner: Owner, spec: TradingStrategySpec, settings: OperatorSettings
) -> list[Manifest]:
    """Every child of a TradingStrategy, in apply order."""
    name = worker_name(owner.name)
    return [
        config_map(owner, name, COMPONENT, CONFIG_KEY, config_text(owner, spec)),
        service_account(owner, name, COMPONENT, automount=False),
        network_policy(owner, spec, settings),
        service(owner, name, COMPONENT),
        disruption_budget(owner),
        deployment(owner, spec, settings),
    ]
