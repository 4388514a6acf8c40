"""ExchangeConnector → its children: ConfigMap, ServiceAccount, the ``axis gateway`` Deployment
and Service, the credentials wiring (Kubernetes Secret, Vault Agent injection or Vault
Kubernetes-auth login) and, when the mesh is on, the Istio egress objects."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from axis.config.specs import (
    ExchangeConnectorSpec,
    SecretRef,
    VaultAuth,
    VaultCredentials,
)
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
from axis_operator.render.exchanges import exchange_hosts
from axis_operator.settings import PORT, OperatorSettings

COMPONENT = "gateway"
CONFIG_KEY = "connector.yaml"
KEYS_FILE = "exchange-keys.json"  # rendered by Vault Agent at /vault/secrets/<KEYS_FILE>
ISTIO = "networking.istio.io/v1"


def gateway_name(connector: str) -> str:
    return f"{connector}-gateway"


def mesh_enabled(spec: ExchangeConnectorSpec, settings: OperatorSettings) -> bool:
    return settings.mesh_enabled if spec.mesh.enabled is None else spec.mesh.enabled


def secret_env(ref: SecretRef) -> list[dict[str, Any]]:
    pairs = [("AXIS_EXCHANGE_API_KEY", ref.api_key_key), ("AXIS_EXCHANGE_SECRET", ref.secret_key)]
    if ref.password_key:
        pairs.append(("AXIS_EXCHANGE_PASSWORD", ref.password_key))
    return [
        {"name": env, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": key}}}
        for env, key in pairs
    ]


def vault_agent_annotations(vault: VaultCredentials) -> dict[str, str]:
    """Vault Agent injector: render the KV v2 secret as the JSON file the gateway reads. Init
    container only: keys are read once at start, and no sidecar outlives the gateway."""
    secret = f"{vault.mount}/data/{vault.path}"
    template = (
        f'{{{{- with secret "{secret}" -}}}}'
        '{"apiKey": {{ .Data.data.apiKey | toJSON }}, '
        '"secret": {{ .Data.data.secret | toJSON }}, '
        '"password": {{ or .Data.data.password "" | toJSON }}}'
        "{{- end }}"
    )
    return {
        "vault.hashicorp.com/agent-inject": "true",
        "vault.hashicorp.com/agent-pre-populate-only": "true",
        "vault.hashicorp.com/role": vault.role,
        f"vault.hashicorp.com/agent-inject-secret-{KEYS_FILE}": secret,
        f"vault.hashicorp.com/agent-inject-template-{KEYS_FILE}": template,
    }


def vault_login_env(vault: VaultCredentials, settings: OperatorSettings) -> list[dict[str, Any]]:
    return [
        {"name": "AXIS_VAULT_ADDR", "value": settings.vault_addr},
        {"name": "AXIS_VAULT_AUTH_PATH", "value": settings.vault_auth_path},
        {"name": "AXIS_VAULT_ROLE", "value": vault.role},
        {"name": "AXIS_VAULT_MOUNT", "value": vault.mount},
        {"name": "AXIS_VAULT_PATH", "value": vault.path},
    ]


def deployment(owner: Owner, spec: ExchangeConnectorSpec, settings: OperatorSettings) -> Manifest:
    env: list[dict[str, Any]] = [{"name": "AXIS_CONNECTOR_NAME", "value": owner.name}]
    annotations = {"trading.axis.io/spec-hash": spec_hash(spec)}
    credentials = spec.credentials
    if credentials.secret_ref is not None:
        env += secret_env(credentials.secret_ref)
    elif credentials.vault is not None and credentials.vault.auth is VaultAuth.AGENT:
        annotations.update(vault_agent_annotations(credentials.vault))
    elif credentials.vault is not None:
        env += vault_login_env(credentials.vault, settings)
    elif credentials.local is not None:
        env.append({"name": "AXIS_CREDENTIALS_PROFILE", "value": credentials.local.profile})
    pod_labels = labels(owner, COMPONENT)
    if mesh_enabled(spec, settings):
        pod_labels["sidecar.istio.io/inject"] = "true"
        env.append({"name": "AXIS_EGRESS_TLS_ORIGINATION", "value": "true"})
    process = Process(
        component=COMPONENT,
        command="gateway",
        config_key=CONFIG_KEY,
        image=spec.image or settings.image,
        env=env,
        resources=spec.resources,
    )
    # One gateway per account: two would each spend the account's request weight.
    return process_deployment(
        owner,
        process,
        settings,
        replicas=1,
        pod_labels=pod_labels,
        annotations=annotations,
        automount_token=credentials.vault is not None,
        grace_seconds=30,
        tmp_size="64Mi",
    )


def istio_objects(owner: Owner, spec: ExchangeConnectorSpec) -> list[Manifest]:
    """Egress to the exchange through the mesh.

    - ServiceEntry: the exchange's REST hosts. The primary host resolves to itself and to the
      spec's alternate hosts (e.g. Binance's api1–api4) as endpoints, so outlier detection
      fails over between them; the other hosts pass through on 443.
    - DestinationRule: TLS origination on port 80 → 443, connection pool, outlier detection.
    - VirtualService: per-request timeouts; order placement (POST/PUT/DELETE) is never
      retried (a retried order could be doubled), reads are retried on connect failures.
    """
    hosts = exchange_hosts(spec.exchange, spec.market_type, spec.sandbox)
    primary, others = hosts[0], list(hosts[1:])
    name = f"{owner.name}-egress"
    endpoints = [
        {"address": host, "ports": {"http": 443, "https": 443}}
        for host in [primary, *spec.alternate_hosts]
    ]
    entries: list[Manifest] = [
        {
            "apiVersion": ISTIO,
            "kind": "ServiceEntry",
            "metadata": metadata(owner, name, COMPONENT),
            "spec": {
                "hosts": [primary],
                "location": "MESH_EXTERNAL",
                "resolution": "DNS",
                "ports": [
                    {"number": 80, "name": "http", "protocol": "HTTP", "targetPort": 443},
                    {"number": 443, "name": "https", "protocol": "TLS"},
                ],
                "endpoints": endpoints,
                "exportTo": ["."],
            },
        }
    ]
    if others:
        entries.append(
            {
                "apiVersion": ISTIO,
                "kind": "ServiceEntry",
                "metadata": metadata(owner, f"{name}-aux", COMPONENT),
                "spec": {
                    "hosts": others,
                    "location": "MESH_EXTERNAL",
                    "resolution": "DNS",
                    "ports": [{"number": 443, "name": "https", "protocol": "TLS"}],
                    "exportTo": ["."],
                },
            }
        )
    timeout = f"{spec.mesh.request_timeout_seconds:g}s"
    destination = {"host": primary, "port": {"number": 80}}
    rule: Manifest = {
        "apiVersion": ISTIO,
        "kind": "DestinationRule",
        "metadata": metadata(owner, name, COMPONENT),
        "spec": {
            "host": primary,
            "exportTo": ["."],
            "trafficPolicy": {
                "connectionPool": {
                    "tcp": {"maxConnections": spec.mesh.max_connections, "connectTimeout": "5s"},
                    "http": {
                        "http1MaxPendingRequests": spec.mesh.max_connections,
                        "maxRequestsPerConnection": 0,
                        "idleTimeout": "60s",
                    },
                },
                "outlierDetection": {
                    "consecutive5xxErrors": spec.mesh.consecutive_errors,
                    "consecutiveGatewayErrors": spec.mesh.consecutive_errors,
                    "interval": "10s",
                    "baseEjectionTime": "30s",
                    "maxEjectionPercent": 100 if spec.alternate_hosts else 50,
                },
                "portLevelSettings": [
                    {"port": {"number": 80}, "tls": {"mode": "SIMPLE", "sni": primary}}
                ],
            },
        },
    }
    routes: Manifest = {
        "apiVersion": ISTIO,
        "kind": "VirtualService",
        "metadata": metadata(owner, name, COMPONENT),
        "spec": {
            "hosts": [primary],
            "exportTo": ["."],
            "http": [
                {
                    "name": "orders-no-retry",
                    "match": [{"method": {"regex": "POST|PUT|DELETE"}}],
                    "route": [{"destination": destination}],
                    "timeout": timeout,
                    "retries": {"attempts": 0},
                },
                {
                    "name": "reads",
                    "route": [{"destination": destination}],
                    "timeout": timeout,
                    "retries": {
                        "attempts": 2,
                        "perTryTimeout": f"{spec.mesh.request_timeout_seconds / 2:g}s",
                        "retryOn": "connect-failure,refused-stream,reset,503",
                    },
                },
            ],
        },
    }
    return [*entries, rule, routes]


def network_policy(owner: Owner, settings: OperatorSettings) -> Manifest:
    """The gateway is reached only by workers (of any strategy in the namespace), the operator and
    monitoring; it reaches DNS, Vault and HTTPS (the exchange, by host through the mesh when on:
    a NetworkPolicy cannot name hosts, the ServiceEntry does)."""
    vault = urlparse(settings.vault_addr)
    vault_port = vault.port or (443 if vault.scheme == "https" else 80)
    peers: list[dict[str, Any]] = [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "axis-worker"}}},
        *control_peers(settings),
    ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(owner, gateway_name(owner.name), COMPONENT),
        "spec": {
            "podSelector": {"matchLabels": selector(owner, COMPONENT)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": peers, "ports": [{"protocol": "TCP", "port": PORT}]}],
            "egress": [
                dns_egress(),
                {"ports": [{"protocol": "TCP", "port": 443}]},
                {"ports": [{"protocol": "TCP", "port": vault_port}]},
            ],
        },
    }


def render_connector(
    owner: Owner, spec: ExchangeConnectorSpec, settings: OperatorSettings
) -> list[Manifest]:
    """Every child of an ExchangeConnector, in apply order."""
    name = gateway_name(owner.name)
    children = [
        config_map(owner, name, COMPONENT, CONFIG_KEY, config_resource(owner, spec)),
        service_account(owner, name, COMPONENT, automount=spec.credentials.vault is not None),
        network_policy(owner, settings),
        service(owner, name, COMPONENT),
        deployment(owner, spec, settings),
    ]
    if mesh_enabled(spec, settings):
        children += istio_objects(owner, spec)
    return children
