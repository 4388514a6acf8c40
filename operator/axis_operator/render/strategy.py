"""TradingStrategy → its children: ConfigMap, ServiceAccount, Deployment (one ``axis trade``
worker, ``Recreate``: never two workers on one book), Service, PodDisruptionBudget and a
NetworkPolicy that lets the worker reach only its gateways, the store and the model service."""

from __future__ import annotations

import json
from typing import Any

from axis.config.specs import TradingStrategySpec
from axis_operator.render.common import (
    Manifest,
    Owner,
    Process,
    config_map,
    config_resource,
    control_peers,
    dns_egress,
    labels,
    metadata,
    process_deployment,
    selector,
    service,
    service_account,
    spec_hash,
)
from axis_operator.settings import PORT, OperatorSettings

COMPONENT = "worker"
CONFIG_KEY = "strategy.yaml"


def worker_name(strategy: str) -> str:
    return f"{strategy}-worker"


def gateways(spec: TradingStrategySpec, namespace: str) -> dict[str, str]:
    """The AXIS_GATEWAYS map of the process contract, in the spec's failover order."""
    return {name: f"http://{name}-gateway.{namespace}.svc:{PORT}" for name in spec.connectors}


def deployment(owner: Owner, spec: TradingStrategySpec, settings: OperatorSettings) -> Manifest:
    env: list[dict[str, Any]] = [
        {"name": "AXIS_STRATEGY_NAME", "value": owner.name},
        {"name": "AXIS_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "AXIS_GATEWAYS", "value": json.dumps(gateways(spec, owner.namespace))},
        {"name": "AXIS_SERVE_URL", "value": settings.model_service_url},
    ]
    store = [{"secretRef": {"name": settings.store_secret, "optional": True}}]
    process = Process(
        component=COMPONENT,
        command="trade",
        config_key=CONFIG_KEY,
        image=spec.image or settings.image,
        env=env,
        resources=spec.resources,
        env_from=store if settings.store_secret else None,
    )
    return process_deployment(
        owner,
        process,
        settings,
        replicas=0 if spec.paused else 1,
        pod_labels=labels(owner, COMPONENT),
        annotations={"trading.axis.io/spec-hash": spec_hash(spec)},
        automount_token=False,
        grace_seconds=settings.termination_grace_seconds,
        tmp_size="256Mi",
    )


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
    egress: list[dict[str, Any]] = [dns_egress()]
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

    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(owner, worker_name(owner.name), COMPONENT),
        "spec": {
            "podSelector": {"matchLabels": selector(owner, COMPONENT)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": control_peers(settings), "ports": [{"protocol": "TCP", "port": PORT}]}
            ],
            "egress": egress,
        },
    }


def render_strategy(
    owner: Owner, spec: TradingStrategySpec, settings: OperatorSettings
) -> list[Manifest]:
    """Every child of a TradingStrategy, in apply order."""
    name = worker_name(owner.name)
    return [
        config_map(owner, name, COMPONENT, CONFIG_KEY, config_resource(owner, spec)),
        service_account(owner, name, COMPONENT, automount=False),
        network_policy(owner, spec, settings),
        service(owner, name, COMPONENT),
        disruption_budget(owner),
        deployment(owner, spec, settings),
    ]
