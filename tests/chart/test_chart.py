"""The Helm chart rendered by the real Helm engine (helm-python-sdk) for the default values and
each profile: lint, values schema, and every object validated (Kubernetes schemas for core kinds,
upstream CRD schemas for KubeRay and the Prometheus Operator, the chart's own CRDs)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from axis_ml.serving import config as serving
from axis_operator import crds as generated
from axis_operator.validation import validate_manifest

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "axis"
PROFILES = ["default", "dev", "prod", "gpu-off"]


def profile_values(profile: str) -> dict[str, Any] | None:
    if profile == "default":
        return None
    return dict(yaml.safe_load((CHART / "profiles" / f"{profile}.yaml").read_text()))


@cache
def _render(profile: str, extra: str = "{}") -> tuple[tuple[str, str], ...]:
    values = profile_values(profile) or {}
    values = helm_merge(values, json.loads(extra))
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values or None, name="axis", namespace="axis")
    return tuple(sorted(rendered.items()))


def helm_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = helm_merge(out[key], value)
        else:
            out[key] = value
    return out


def objects(profile: str, **extra: Any) -> list[dict[str, Any]]:
    found = []
    for path, text in _render(profile, json.dumps(extra, sort_keys=True)):
        if path.endswith(".yaml"):
            found += [doc for doc in yaml.safe_load_all(text) if doc]
    return found


def chart_crds() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((CHART / "crds").glob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def one(found: list[dict[str, Any]], kind: str, name_part: str = "") -> dict[str, Any]:
    (match,) = [o for o in found if o["kind"] == kind and name_part in o["metadata"]["name"]]
    return match


@pytest.mark.parametrize("profile", PROFILES)
def test_chart_lints(profile: str) -> None:
    report = helm.lint(CHART, profile_values(profile), strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("profile", PROFILES)
def test_every_rendered_object_validates(profile: str, third_party_schemas: Path) -> None:
    found = objects(profile)
    assert len(found) >= 10
    checked = {validate_manifest(o, third_party_schemas, chart_crds()) for o in found}
    assert "kubernetes 1.32" in checked
    assert "chart crd" in checked  # the ClusterKopfPeering


def test_chart_crds_are_the_generated_ones() -> None:
    assert generated.stale(CHART / "crds") == [], "run `make crds`"
    for crd in chart_crds():
        validate_manifest(crd)


def test_values_schema_refuses_bad_values() -> None:
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(profile_values("prod"))
        for bad in (
            {"operator": {"replicas": 7}},
            {"image": {"pullPolicy": "Sometimes"}},
            {"models": {"gpu": {"enabled": "yes"}}},
            {"monitoring": {"thresholds": {"drawdownWarning": 2}}},
            {"external": {"redis": {"url": "http://not-redis"}}},
            {"models": {"apps": {"sentiment": {"enabled": True, "model": "x"}}}},
            {"models": {"apps": {"regime": {"enabled": True, "model": "", "numGpus": 1}}}},
            {"unknownSection": {}},
        ):
            with pytest.raises(helm.HelmValuesError):
                chart.validate_schema(bad)


def test_operator_deployment_runs_the_operator_with_rbac_and_peering() -> None:
    found = objects("default")
    deployment = one(found, "Deployment", "operator")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["axis"]
    assert container["args"][:2] == ["operator", "run"]
    assert "--standalone" not in container["args"]  # two replicas peer
    assert deployment["spec"]["replicas"] == 2
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["AXIS_OPERATOR_IMAGE"] == "ghcr.io/axis-trading/axis:0.1.0"
    assert env["AXIS_OPERATOR_VAULT_AUTH_PATH"] == "kubernetes"
    assert env["AXIS_OPERATOR_PEERING"] == one(found, "ClusterKopfPeering")["metadata"]["name"]
    rules = one(found, "ClusterRole")["rules"]
    resources = {r for rule in rules for r in rule["resources"]}
    assert {
        "tradingstrategies/status",
        "deployments",
        "networkpolicies",
        "serviceentries",
        "clusterkopfpeerings",
        "events",
    } <= resources
    assert "secrets" not in resources
    assert "pods" not in resources
    assert not any("*" in rule["verbs"] or "*" in rule["resources"] for rule in rules)
    dev = one(objects("dev"), "Deployment", "operator")
    assert "--standalone" in dev["spec"]["template"]["spec"]["containers"][0]["args"]


def serve_config(found: list[dict[str, Any]]) -> dict[str, Any]:
    return dict(yaml.safe_load(one(found, "RayService")["spec"]["serveConfigV2"]))


def expected_serve_config(profile: str) -> dict[str, Any]:
    """What ml/axis_ml/serving builds for the same settings: the chart must deploy exactly it."""
    values = helm_merge(
        yaml.safe_load((CHART / "values.yaml").read_text()), profile_values(profile) or {}
    )
    models = values["models"]
    apps = {}
    for name, app in models["apps"].items():
        apps[name] = serving.AppSettings(
            model=app["model"],
            num_cpus=app["numCpus"],
            num_gpus=app["numGpus"] if models["gpu"]["enabled"] else 0.0,
            min_replicas=app["minReplicas"],
            max_replicas=app["maxReplicas"],
            target_ongoing_requests=app["targetOngoingRequests"],
        )
    return dict(serving.serve_config(serving.ServeSettings(**apps)))


@pytest.mark.parametrize("profile", ["default", "gpu-off"])
def test_rayservice_serves_the_model_apps_of_axis_ml(profile: str) -> None:
    config = serve_config(objects(profile))
    assert config == expected_serve_config(profile)
    assert {app["import_path"] for app in config["applications"]} == {
        "axis_ml.serving.apps:regime_app",
        "axis_ml.serving.apps:forecast_app",
        "axis_ml.serving.apps:policy_app",
    }
    head = one(objects(profile), "RayService")["spec"]["rayClusterConfig"]["headGroupSpec"]
    env = {e["name"]: e["value"] for e in head["template"]["spec"]["containers"][0]["env"]}
    assert env["MLFLOW_TRACKING_URI"] == "http://axis-mlflow.axis.svc:5000"


def test_a_model_app_can_be_left_out() -> None:
    config = serve_config(objects("default", models={"apps": {"forecast": {"enabled": False}}}))
    assert [app["name"] for app in config["applications"]] == ["regime", "policy"]


def test_gpu_worker_group_with_tolerations_limits_and_bounds() -> None:
    ray = one(objects("prod"), "RayService")["spec"]["rayClusterConfig"]
    assert ray["enableInTreeAutoscaling"] is True
    (group,) = ray["workerGroupSpecs"]
    assert group["groupName"] == "gpu"
    assert (group["minReplicas"], group["maxReplicas"], group["replicas"]) == (1, 8, 2)
    pod = group["template"]["spec"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    assert pod["nodeSelector"] == {"axis.io/pool": "gpu"}
    limits = pod["containers"][0]["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == "1"
    head = ray["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"
    assert "nvidia.com/gpu" not in str(head)


def test_gpu_off_profile_uses_a_cpu_worker_group() -> None:
    found = objects("gpu-off")
    (group,) = one(found, "RayService")["spec"]["rayClusterConfig"]["workerGroupSpecs"]
    assert group["groupName"] == "cpu"
    assert "nvidia.com/gpu" not in json.dumps(one(found, "RayService"))
    for app in serve_config(found)["applications"]:
        assert app["deployments"][0]["ray_actor_options"]["num_gpus"] == 0


def test_mlflow_uses_postgres_and_object_storage() -> None:
    found = objects("dev")
    container = one(found, "Deployment", "mlflow")["spec"]["template"]["spec"]["containers"][0]
    assert "--backend-store-uri=$(MLFLOW_BACKEND_STORE_URI)" in container["args"]
    assert "--artifacts-destination=s3://mlflow/artifacts" in container["args"]
    env = {e["name"]: e for e in container["env"]}
    assert env["MLFLOW_BACKEND_STORE_URI"]["valueFrom"]["secretKeyRef"]["name"] == "axis-mlflow"
    assert env["MLFLOW_S3_ENDPOINT_URL"]["value"] == "http://minio.minio.svc:9000"


def test_monitoring_rules_monitors_and_dashboards() -> None:
    found = objects("default")
    rules = one(found, "PrometheusRule")
    alerts = {r["alert"]: r for g in rules["spec"]["groups"] for r in g["rules"]}
    for name in (
        "AxisLiquidationDistanceLow",
        "AxisLiquidationDistanceCritical",
        "AxisDrawdownHigh",
        "AxisGatewayErrors",
        "AxisStaleMarketData",
    ):
        assert name in alerts
    assert alerts["AxisLiquidationDistanceLow"]["expr"].endswith("< 0.1")
    assert "{{ $labels.strategy }}" in alerts["AxisDrawdownHigh"]["annotations"]["summary"]
    assert rules["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    monitors = [o for o in found if o["kind"] == "ServiceMonitor"]
    selected = {m["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] for m in monitors}
    assert {"axis-worker", "axis-gateway", "axis-api"} <= selected
    dashboards = [
        o for o in found if o["kind"] == "ConfigMap" and "dashboard" in o["metadata"]["name"]
    ]
    assert len(dashboards) == 3
    titles = set()
    for config_map in dashboards:
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        (text,) = config_map["data"].values()
        dashboard = json.loads(text)
        titles.add(dashboard["title"])
        assert all(panel["targets"] for panel in dashboard["panels"])
    assert titles == {"AXIS / Trading overview", "AXIS / System", "AXIS / Models"}
    overview = json.loads(
        next(
            iter(
                next(d for d in dashboards if "trading-overview" in d["metadata"]["name"])[
                    "data"
                ].values()
            )
        )
    )
    exprs = " ".join(t["expr"] for p in overview["panels"] for t in p["targets"])
    for metric in (
        "axis_equity",
        "axis_realized_pnl",
        "axis_open_positions",
        "axis_liquidation_distance",
        "axis_orders_total",
    ):
        assert metric in exprs
    prod = one(objects("prod"), "PrometheusRule")
    prod_alerts = {r["alert"]: r for g in prod["spec"]["groups"] for r in g["rules"]}
    assert prod_alerts["AxisDrawdownHigh"]["expr"].endswith("> 0.08")


def test_dev_profile_drops_prometheus_operator_kinds_and_policies() -> None:
    kinds = {o["kind"] for o in objects("dev")}
    assert not kinds & {"ServiceMonitor", "PodMonitor", "PrometheusRule", "NetworkPolicy"}
    assert "ConfigMap" in kinds  # dashboards still ship


def test_network_policies_cover_every_component() -> None:
    policies = [o for o in objects("default") if o["kind"] == "NetworkPolicy"]
    names = sorted(p["metadata"]["name"] for p in policies)
    assert names == ["axis-api", "axis-mlflow", "axis-models", "axis-operator"]
    prod = {p["metadata"]["name"]: p for p in objects("prod") if p["kind"] == "NetworkPolicy"}
    store = prod["axis-api"]["spec"]["egress"][1]
    assert store["to"] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]


def test_image_tag_and_disabled_components() -> None:
    found = objects(
        "default",
        image={"tag": "1.2.3"},
        api={"enabled": False},
        mlflow={"enabled": False},
        models={"enabled": False},
    )
    names = {o["metadata"]["name"] for o in found}
    assert not any("mlflow" in n or n == "axis-api" for n in names)
    assert not [o for o in found if o["kind"] == "RayService"]
    container = one(found, "Deployment", "operator")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/axis-trading/axis:1.2.3"


def test_operator_rbac_covers_every_kind_it_applies() -> None:
    from axis_operator.kube import PLURALS

    rules = one(objects("default"), "ClusterRole")["rules"]

    def allowed(group: str, plural: str, verb: str) -> bool:
        return any(
            group in rule["apiGroups"] and plural in rule["resources"] and verb in rule["verbs"]
            for rule in rules
        )

    for (api_version, _kind), plural in PLURALS.items():
        group = api_version.rpartition("/")[0]
        verbs = ("get", "patch") if group == "trading.axis.io" else ("get", "create", "patch")
        if plural == "events":
            verbs = ("create",)
        for verb in verbs:
            assert allowed(group, plural, verb), f"{verb} {group}/{plural}"
    assert allowed("trading.axis.io", "tradingstrategies/status", "patch")


@pytest.mark.parametrize("profile", PROFILES)
def test_api_environment_is_a_valid_settings_model(
    profile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API refuses to start on settings it cannot use (Vault without a way to log in):
    what the chart renders must load, and log in with the pod's service-account token."""
    from axis.config.settings import AxisSettings, VaultAuthMethod

    deployment = one(objects(profile), "Deployment", "-api")
    pod = deployment["spec"]["template"]["spec"]
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"] if "value" in e}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = AxisSettings()
    assert settings.vault_addr
    assert settings.vault_auth is VaultAuthMethod.KUBERNETES
    assert settings.vault_role == "axis-api"
    assert pod["automountServiceAccountToken"] is True


@pytest.mark.parametrize("ingress", ["haproxy", "proxy"])
def test_ray_pods_get_the_serve_environment_of_axis_ml(ingress: str) -> None:
    found = objects("default", models={"serve": {"ingress": ingress}})
    cluster = one(found, "RayService")["spec"]["rayClusterConfig"]
    pods = [cluster["headGroupSpec"]] + cluster["workerGroupSpecs"]
    expected = serving.ray_environment(serving.ServeSettings(ingress=ingress))
    for pod in pods:
        env = {e["name"]: e["value"] for e in pod["template"]["spec"]["containers"][0]["env"]}
        assert {k: env[k] for k in expected} == expected


def test_ray_version_is_the_one_the_project_installs() -> None:
    ray = pytest.importorskip("ray")
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["models"]["rayVersion"] == ray.__version__
    assert one(objects("default"), "RayService")["spec"]["rayClusterConfig"]["rayVersion"] == (
        ray.__version__
    )
