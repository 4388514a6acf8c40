"""The pure render functions: every child, every option, each manifest validated against the
Kubernetes schemas (kubernetes-validate, strict) or the upstream Istio CRD schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from axis.config.specs import ExchangeConnectorSpec, TradingStrategySpec, load_spec
from axis_operator.render import Owner, render_connector, render_strategy, spec_hash
from axis_operator.settings import OperatorSettings
from axis_operator.validation import validate_manifest

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = OperatorSettings()
STRATEGY_OWNER = Owner("TradingStrategy", "btc-trend", "trading", "uid-1", 3)
CONNECTOR_OWNER = Owner("ExchangeConnector", "binance-spot", "trading", "uid-2", 1)


def example_spec(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "crds" / "examples" / name).read_text())["spec"])


def strategy_spec(**changes: Any) -> TradingStrategySpec:
    spec = example_spec("tradingstrategy-btc-trend.yaml")
    spec.update(changes)
    return TradingStrategySpec.model_validate(spec)


def connector_spec(**changes: Any) -> ExchangeConnectorSpec:
    spec = example_spec("exchangeconnector-binance-spot.yaml")
    spec.update(changes)
    return ExchangeConnectorSpec.model_validate(spec)


def by_kind(children: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{c['kind']}/{c['metadata']['name']}": c for c in children}


def worker_container(children: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = by_kind(children)["Deployment/btc-trend-worker"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


CASES = {
    "strategy-live": lambda: render_strategy(STRATEGY_OWNER, strategy_spec(), SETTINGS),
    "strategy-paused": lambda: render_strategy(
        STRATEGY_OWNER, strategy_spec(paused=True), SETTINGS
    ),
    "strategy-paper": lambda: render_strategy(
        STRATEGY_OWNER,
        TradingStrategySpec.model_validate(example_spec("tradingstrategy-eth-paper.yaml")),
        SETTINGS.model_copy(
            update={
                "store_cidrs": ("10.0.0.0/16",),
                "store_secret": None,
                "monitoring_namespace": None,
                "model_namespace": None,
            }
        ),
    ),
    "connector-agent-mesh": lambda: render_connector(CONNECTOR_OWNER, connector_spec(), SETTINGS),
    "connector-vault-login": lambda: render_connector(
        CONNECTOR_OWNER,
        ExchangeConnectorSpec.model_validate(
            example_spec("exchangeconnector-binance-futures.yaml")
        ),
        SETTINGS,
    ),
    "connector-secret": lambda: render_connector(
        CONNECTOR_OWNER,
        ExchangeConnectorSpec.model_validate(example_spec("exchangeconnector-okx-demo.yaml")),
        SETTINGS.model_copy(update={"mesh_enabled": True}),
    ),
    "connector-local": lambda: render_connector(
        CONNECTOR_OWNER, ExchangeConnectorSpec.model_validate({"exchange": "gate"}), SETTINGS
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_child_validates(case: str, third_party_schemas: Path) -> None:
    children = CASES[case]()
    checked = [validate_manifest(child, third_party_schemas) for child in children]
    assert len(checked) == len(children) >= 4
    for child in children:
        meta = child["metadata"]
        assert meta["namespace"] == "trading"
        (owner,) = meta["ownerReferences"]
        assert owner["controller"] is True
        assert owner["blockOwnerDeletion"] is True
        assert owner["apiVersion"] == "trading.axis.io/v1alpha1"
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "axis-operator"


def test_validation_catches_a_misspelt_field(third_party_schemas: Path) -> None:
    from axis_operator.validation import ManifestError

    deployment = by_kind(CASES["strategy-live"]())["Deployment/btc-trend-worker"]
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(ManifestError, match="livenesProbe"):
        validate_manifest(deployment, third_party_schemas)
    rule = by_kind(CASES["connector-agent-mesh"]())["DestinationRule/binance-spot-egress"]
    rule["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xx"] = 3
    with pytest.raises(ManifestError, match="consecutive5xx"):
        validate_manifest(rule, third_party_schemas)


def test_rendering_is_deterministic() -> None:
    assert CASES["strategy-live"]() == CASES["strategy-live"]()
    assert CASES["connector-agent-mesh"]() == CASES["connector-agent-mesh"]()


def test_strategy_children_in_apply_order() -> None:
    kinds = [c["kind"] for c in CASES["strategy-live"]()]
    assert kinds == [
        "ConfigMap",
        "ServiceAccount",
        "NetworkPolicy",
        "Service",
        "PodDisruptionBudget",
        "Deployment",
    ]


def test_worker_runs_the_contract_command(tmp_path: Path) -> None:
    children = CASES["strategy-live"]()
    container = worker_container(children)
    assert container["command"] == ["axis"]
    assert container["args"] == [
        "trade",
        "--config",
        "/etc/axis/strategy.yaml",
        "--host",
        "0.0.0.0",
        "--port",
        "8080",
    ]
    assert container["image"] == SETTINGS.image
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    assert {"name": "config", "mountPath": "/etc/axis", "readOnly": True} in container[
        "volumeMounts"
    ]
    env = {e["name"]: e for e in container["env"]}
    assert json.loads(env["AXIS_GATEWAYS"]["value"]) == {
        "binance-futures": "http://binance-futures-gateway.trading.svc:8080",
        "okx-demo": "http://okx-demo-gateway.trading.svc:8080",
    }
    assert list(json.loads(env["AXIS_GATEWAYS"]["value"])) == ["binance-futures", "okx-demo"]
    assert container["envFrom"] == [{"secretRef": {"name": "axis-store", "optional": True}}]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # The ConfigMap holds a resource the worker's own loader reads back to the same spec.
    config = by_kind(children)["ConfigMap/btc-trend-worker"]
    path = tmp_path / "strategy.yaml"
    path.write_text(config["data"]["strategy.yaml"])
    assert load_spec(TradingStrategySpec, path) == strategy_spec()


def test_worker_deployment_shape() -> None:
    deployment = by_kind(CASES["strategy-live"]())["Deployment/btc-trend-worker"]
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    template = spec["template"]
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "8080"
    assert annotations["trading.axis.io/spec-hash"] == spec_hash(strategy_spec())
    assert spec["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    assert template["spec"]["serviceAccountName"] == "btc-trend-worker"
    assert template["spec"]["automountServiceAccountToken"] is False
    pdb = by_kind(CASES["strategy-live"]())["PodDisruptionBudget/btc-trend-worker"]
    assert pdb["spec"]["maxUnavailable"] == 0


def test_spec_change_changes_the_pod_template_and_nothing_else_does() -> None:
    before = worker_container(CASES["strategy-live"]())
    assert spec_hash(strategy_spec(timeframe="1h")) != spec_hash(strategy_spec())
    assert spec_hash(strategy_spec()) == spec_hash(strategy_spec())
    assert before == worker_container(CASES["strategy-live"]())


def test_paused_scales_to_zero_and_image_override_applies() -> None:
    paused = by_kind(CASES["strategy-paused"]())["Deployment/btc-trend-worker"]
    assert paused["spec"]["replicas"] == 0
    custom = render_strategy(
        STRATEGY_OWNER, strategy_spec(image="registry.example.com/axis:1.2.3"), SETTINGS
    )
    assert worker_container(custom)["image"] == "registry.example.com/axis:1.2.3"


def test_network_policy_reaches_only_gateways_store_models_and_dns() -> None:
    policy = by_kind(CASES["strategy-live"]())["NetworkPolicy/btc-trend-worker"]["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    gateways = [
        rule["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/instance"]
        for rule in policy["egress"]
        if rule["to"][0].get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
        == "axis-gateway"
    ]
    assert gateways == ["binance-futures", "okx-demo"]
    ports = sorted(p["port"] for rule in policy["egress"] for p in rule["ports"])
    assert ports == sorted([53, 53, 8080, 8080, 5432, 6379, SETTINGS.model_port])
    assert all(rule["to"] for rule in policy["egress"])  # no rule opens all destinations
    assert [p["port"] for p in policy["ingress"][0]["ports"]] == [8080]
    paper = by_kind(CASES["strategy-paper"]())["NetworkPolicy/btc-trend-worker"]["spec"]
    store = next(r for r in paper["egress"] if any("ipBlock" in peer for peer in r["to"]))
    assert store["to"] == [{"ipBlock": {"cidr": "10.0.0.0/16"}}]
    assert not any(
        r["to"][0].get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
        == "axis-gateway"
        for r in paper["egress"]
    )


def gateway_container(children: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = next(c for c in children if c["kind"] == "Deployment")
    return dict(deployment["spec"]["template"]["spec"]["containers"][0])


def test_gateway_runs_the_contract_command() -> None:
    children = CASES["connector-secret"]()
    container = gateway_container(children)
    assert container["args"] == [
        "gateway",
        "--config",
        "/etc/axis/connector.yaml",
        "--host",
        "0.0.0.0",
        "--port",
        "8080",
    ]
    env = {e["name"]: e for e in container["env"]}
    assert env["AXIS_CONNECTOR_NAME"]["value"] == "binance-spot"
    assert env["AXIS_EXCHANGE_API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "okx-demo-keys",
        "key": "apiKey",
    }
    assert env["AXIS_EXCHANGE_SECRET"]["valueFrom"]["secretKeyRef"]["key"] == "secret"
    assert env["AXIS_EXCHANGE_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "passphrase"
    assert "value" not in env["AXIS_EXCHANGE_SECRET"]  # keys never inline


def test_vault_agent_renders_the_keys_file() -> None:
    children = CASES["connector-agent-mesh"]()
    deployment = next(c for c in children if c["kind"] == "Deployment")
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["vault.hashicorp.com/agent-inject"] == "true"
    assert annotations["vault.hashicorp.com/role"] == "axis-gateway-binance-spot"
    key = "vault.hashicorp.com/agent-inject-secret-exchange-keys.json"
    assert annotations[key] == "secret/data/axis/binance-spot"
    template = annotations["vault.hashicorp.com/agent-inject-template-exchange-keys.json"]
    for field in (
        '"apiKey"',
        '"secret"',
        '"password"',
        'with secret "secret/data/axis/binance-spot"',
    ):
        assert field in template
    env = {e["name"] for e in gateway_container(children)["env"]}
    assert not env & {"AXIS_EXCHANGE_API_KEY", "AXIS_VAULT_ADDR"}
    assert deployment["spec"]["template"]["spec"]["automountServiceAccountToken"] is True


def test_vault_kubernetes_login_env() -> None:
    children = CASES["connector-vault-login"]()
    env = {e["name"]: e["value"] for e in gateway_container(children)["env"] if "value" in e}
    assert env["AXIS_VAULT_ADDR"] == SETTINGS.vault_addr
    assert env["AXIS_VAULT_AUTH_PATH"] == "kubernetes"
    assert env["AXIS_VAULT_ROLE"] == "axis-gateway-binance-futures"
    assert (env["AXIS_VAULT_MOUNT"], env["AXIS_VAULT_PATH"]) == ("secret", "axis/binance-futures")
    account = next(c for c in children if c["kind"] == "ServiceAccount")
    assert account["automountServiceAccountToken"] is True


def test_gateway_network_policy() -> None:
    policy = by_kind(CASES["connector-secret"]())["NetworkPolicy/binance-spot-gateway"]["spec"]
    sources = [
        peer.get("podSelector", {}).get("matchLabels", {}) for peer in policy["ingress"][0]["from"]
    ]
    assert {"app.kubernetes.io/name": "axis-worker"} in sources
    assert [p["port"] for p in policy["ingress"][0]["ports"]] == [8080]
    egress_ports = sorted(p["port"] for rule in policy["egress"] for p in rule["ports"])
    assert egress_ports == [53, 53, 443, 8200]


def test_local_credentials_and_no_mesh_by_default() -> None:
    children = CASES["connector-local"]()
    assert sorted(c["kind"] for c in children) == [
        "ConfigMap",
        "Deployment",
        "NetworkPolicy",
        "Service",
        "ServiceAccount",
    ]
    env = {e["name"]: e.get("value") for e in gateway_container(children)["env"]}
    assert env["AXIS_CREDENTIALS_PROFILE"] == "default"
    account = next(c for c in children if c["kind"] == "ServiceAccount")
    assert account["automountServiceAccountToken"] is False


def test_mesh_follows_spec_then_settings() -> None:
    off = ExchangeConnectorSpec.model_validate({"exchange": "bybit", "mesh": {"enabled": False}})
    on_settings = SETTINGS.model_copy(update={"mesh_enabled": True})
    assert not any(
        "istio" in c["apiVersion"] for c in render_connector(CONNECTOR_OWNER, off, on_settings)
    )
    inherit = ExchangeConnectorSpec.model_validate({"exchange": "bybit"})
    kinds = [c["kind"] for c in render_connector(CONNECTOR_OWNER, inherit, on_settings)]
    assert kinds[-3:] == ["ServiceEntry", "DestinationRule", "VirtualService"]


def test_istio_egress_fails_over_between_alternate_hosts() -> None:
    objects = by_kind(CASES["connector-agent-mesh"]())
    entry = objects["ServiceEntry/binance-spot-egress"]["spec"]
    assert entry["hosts"] == ["api.binance.com"]
    assert [e["address"] for e in entry["endpoints"]] == [
        "api.binance.com",
        "api1.binance.com",
        "api2.binance.com",
        "api3.binance.com",
        "api4.binance.com",
    ]
    assert entry["location"] == "MESH_EXTERNAL"
    assert entry["resolution"] == "DNS"
    aux = objects["ServiceEntry/binance-spot-egress-aux"]["spec"]
    assert "fapi.binance.com" in aux["hosts"]
    assert "api.binance.com" not in aux["hosts"]
    rule = objects["DestinationRule/binance-spot-egress"]["spec"]
    assert rule["trafficPolicy"]["portLevelSettings"][0]["tls"] == {
        "mode": "SIMPLE",
        "sni": "api.binance.com",
    }
    outlier = rule["trafficPolicy"]["outlierDetection"]
    assert outlier["consecutive5xxErrors"] == 5
    assert outlier["maxEjectionPercent"] == 100
    assert rule["trafficPolicy"]["connectionPool"]["tcp"]["maxConnections"] == 100
    routes = objects["VirtualService/binance-spot-egress"]["spec"]["http"]
    assert routes[0]["match"] == [{"method": {"regex": "POST|PUT|DELETE"}}]
    assert routes[0]["retries"] == {"attempts": 0}  # never retry an order placement
    assert routes[0]["timeout"] == routes[1]["timeout"] == "10s"
    assert routes[1]["retries"]["attempts"] == 2
    deployment = objects["Deployment/binance-spot-gateway"]
    assert deployment["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"] == "true"


def test_sandbox_and_market_type_pick_the_hosts() -> None:
    futures = ExchangeConnectorSpec.model_validate(
        example_spec("exchangeconnector-binance-futures.yaml")
    )
    entry = by_kind(render_connector(CONNECTOR_OWNER, futures, SETTINGS))[
        "ServiceEntry/binance-spot-egress"
    ]
    assert entry["spec"]["hosts"] == ["fapi.binance.com"]
    rule = by_kind(render_connector(CONNECTOR_OWNER, futures, SETTINGS))[
        "VirtualService/binance-spot-egress"
    ]
    assert rule["spec"]["http"][0]["timeout"] == "8s"
    testnet = ExchangeConnectorSpec.model_validate(
        {"exchange": "bybit", "sandbox": True, "mesh": {"enabled": True}}
    )
    entry = by_kind(render_connector(CONNECTOR_OWNER, testnet, SETTINGS))[
        "ServiceEntry/binance-spot-egress"
    ]
    assert entry["spec"]["hosts"] == ["api-testnet.bybit.com"]


def test_settings_from_environment() -> None:
    settings = OperatorSettings.from_env(
        {
            "AXIS_OPERATOR_IMAGE": "ghcr.io/axis-trading/axis:9.9.9",
            "AXIS_OPERATOR_MESH_ENABLED": "true",
            "AXIS_OPERATOR_STORE_CIDRS": "10.1.0.0/16, 10.2.0.0/16",
            "AXIS_OPERATOR_STORE_SECRET": "none",
            "AXIS_OPERATOR_STATUS_INTERVAL_SECONDS": "15",
        }
    )
    assert settings.image.endswith(":9.9.9")
    assert settings.mesh_enabled is True
    assert settings.store_cidrs == ("10.1.0.0/16", "10.2.0.0/16")
    assert settings.store_secret is None
    assert settings.status_interval_seconds == 15
    assert settings.worker_base_url("a", "b") == "http://a-worker.b.svc:8080"
    with pytest.raises(ValueError, match="image"):
        OperatorSettings.from_env({"AXIS_OPERATOR_IMAGE": "Not An Image"})
