"""argocd/ (app-of-apps per environment) validated against the Argo CD Application schema, the
strategy folders against our CRDs, and terraform/ parsed with python-hcl2 and checked for wiring
and ``terraform fmt`` layout (no Terraform binary here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from axis_operator.validation import validate_custom, validate_manifest

ROOT = Path(__file__).resolve().parents[2]
ARGOCD = ROOT / "argocd"
TERRAFORM = ROOT / "terraform"
ENVIRONMENTS = ["staging", "prod"]
PLATFORM = {"istio-base", "istiod", "kuberay-operator", "vault", "kube-prometheus-stack"}


def load(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


def applications(env: str) -> dict[str, dict[str, Any]]:
    return {p.stem: load(p) for p in sorted((ARGOCD / env / "apps").glob("*.yaml"))}


def wave(app: dict[str, Any]) -> int:
    return int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_application_validates(env: str, third_party_schemas: Path) -> None:
    found = [load(ARGOCD / env / "root.yaml"), *applications(env).values()]
    for app in found:
        assert (
            validate_manifest(app, third_party_schemas) == "argoproj.io/application_v1alpha1.json"
        )
    names = [app["metadata"]["name"] for app in found]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_app_of_apps_wiring(env: str) -> None:
    root = load(ARGOCD / env / "root.yaml")["spec"]
    assert (ROOT / root["source"]["path"]).is_dir()
    assert root["source"]["path"] == f"argocd/{env}/apps"
    apps = applications(env)
    assert PLATFORM | {"axis", "strategies"} == set(apps)
    for name in PLATFORM:
        source = apps[name]["spec"]["source"]
        assert source["chart"], name
        assert re.match(r"^\d+\.\d+\.\d+$", source["targetRevision"]), f"{name} is not pinned"
    axis = apps["axis"]["spec"]["source"]
    assert axis["path"] == "charts/axis"
    for values_file in axis["helm"]["valueFiles"]:
        assert (ROOT / axis["path"] / values_file).is_file()
    strategies = apps["strategies"]["spec"]["source"]
    assert (ROOT / strategies["path"]).is_dir()
    assert (
        axis["targetRevision"] == strategies["targetRevision"] == root["source"]["targetRevision"]
    )
    # Platform first (CRDs, injector, mesh), then the chart, then the resources it serves.
    assert max(wave(apps[n]) for n in PLATFORM) < wave(apps["axis"]) < wave(apps["strategies"])
    assert apps["strategies"]["spec"]["destination"]["namespace"] == "trading"


def test_prod_is_pinned_and_staging_follows_main() -> None:
    prod = load(ARGOCD / "prod" / "root.yaml")["spec"]["source"]["targetRevision"]
    staging = load(ARGOCD / "staging" / "root.yaml")["spec"]["source"]["targetRevision"]
    assert staging == "main"
    assert re.match(r"^v\d+\.\d+\.\d+$", prod)
    # Deleting a strategy file in prod must not silently flatten a live book.
    strategies = applications("prod")["strategies"]["spec"]["syncPolicy"]["automated"]
    assert strategies["prune"] is False


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_strategy_folders_hold_valid_resources(env: str) -> None:
    resources = [load(p) for p in sorted((ARGOCD / env / "strategies").glob("*.yaml"))]
    connectors = {r["metadata"]["name"] for r in resources if r["kind"] == "ExchangeConnector"}
    strategies = [r for r in resources if r["kind"] == "TradingStrategy"]
    assert strategies
    assert connectors
    for resource in resources:
        validate_custom(resource)
    for strategy in strategies:
        assert set(strategy["spec"].get("connectors", [])) <= connectors
        if env == "staging":
            assert strategy["spec"]["mode"] == "paper"
    for resource in resources:
        if resource["kind"] == "ExchangeConnector":
            assert resource["spec"].get("sandbox", False) is (env == "staging")


# --- terraform ----------------------------------------------------------------------------------


def unquote(value: Any) -> Any:
    if isinstance(value, str):
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if isinstance(value, dict):
        return {unquote(k): unquote(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [unquote(v) for v in value]
    return value


def parsed() -> dict[str, dict[str, Any]]:
    return {path.name: unquote(hcl2.load(path.open())) for path in sorted(TERRAFORM.glob("*.tf"))}


def blocks(kind: str) -> dict[str, Any]:
    """Every block of one kind across the files: {label: body}, resources {type: {name: body}}."""
    found: dict[str, Any] = {}
    for document in parsed().values():
        for block in document.get(kind, []):
            for label, body in block.items():
                if kind == "resource":
                    found.setdefault(label, {}).update(body)
                else:
                    found[label] = body
    return found


def resources(kind: str) -> dict[str, Any]:
    return dict(blocks("resource").get(kind, {}))


def test_every_file_parses_and_every_variable_is_documented_and_used() -> None:
    files = parsed()
    assert set(files) >= {
        "versions.tf",
        "variables.tf",
        "main.tf",
        "vault.tf",
        "argocd.tf",
        "outputs.tf",
        "providers.tf",
    }
    variables = blocks("variable")
    text = "\n".join(p.read_text() for p in TERRAFORM.glob("*.tf") if p.name != "variables.tf")
    for name, spec in variables.items():
        assert spec.get("description"), f"variable {name} has no description"
        assert spec.get("type"), f"variable {name} has no type"
        assert f"var.{name}" in text, f"variable {name} is never used"
    used = set(
        re.findall(r"\bvar\.([a-z_]+)", "\n".join(p.read_text() for p in TERRAFORM.glob("*.tf")))
    )
    assert used <= set(variables), f"undeclared: {used - set(variables)}"
    example = (TERRAFORM / "terraform.tfvars.example").read_text()
    for name, spec in variables.items():
        if "default" not in spec:
            assert re.search(rf"^{name}\s*=", example, re.M), (
                f"{name} is required but not in the example"
            )


def test_providers_are_pinned() -> None:
    (settings,) = parsed()["versions.tf"]["terraform"]
    providers = settings["required_providers"][0]
    assert set(providers) == {"aws", "kubernetes", "helm", "vault"}
    for spec in providers.values():
        assert spec["version"].startswith("~>")
    for module in blocks("module").values():
        assert module["version"].startswith("~>")


def test_cpu_pool_and_tainted_gpu_pool_match_the_chart() -> None:
    groups = blocks("module")["eks"]["eks_managed_node_groups"]
    assert set(groups) == {"cpu", "gpu"}
    gpu = groups["gpu"]
    assert "NVIDIA" in gpu["ami_type"]
    (taint,) = gpu["taints"].values()
    assert taint == {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}
    assert "taints" not in groups["cpu"]
    locals_ = blocks("locals")
    chart = yaml.safe_load((ROOT / "charts" / "axis" / "values.yaml").read_text())["models"]["gpu"]
    assert unquote(locals_["gpu_pool_labels"]) == chart["nodeSelector"]
    assert gpu["labels"] == "${local.gpu_pool_labels}"
    toleration = chart["tolerations"][0]
    assert toleration["key"] == taint["key"]
    assert toleration["effect"] == "NoSchedule"
    assert "nvidia_device_plugin" in resources("helm_release")


def test_vault_configuration() -> None:
    auth = resources("vault_auth_backend")["kubernetes"]
    assert auth["type"] == "kubernetes"
    assert resources("vault_mount")["kv"]["options"] == {"version": "2"}
    assert resources("vault_mount")["transit"]["type"] == "transit"
    key = resources("vault_transit_secret_backend_key")["credentials"]
    assert key["deletion_allowed"] is False
    role = resources("vault_kubernetes_auth_backend_role")["gateway"]
    assert role["for_each"] == "${toset(var.connectors)}"
    # Bound to the service account the operator renders for the connector's gateway.
    assert role["bound_service_account_names"] == ["${each.key}-gateway"]
    assert role["bound_service_account_namespaces"] == ["${var.trading_namespace}"]
    policy = resources("vault_policy")["gateway"]["policy"]
    assert "/data/axis/${each.key}" in policy
    assert '["read"]' in policy
    assert "create" not in policy
    api = resources("vault_policy")["api"]["policy"]
    assert "/encrypt/" in api
    assert "/decrypt/" in api
    assert "kv" not in api


def test_gateway_roles_match_the_gitops_connectors() -> None:
    for env in ENVIRONMENTS:
        for path in (ARGOCD / env / "strategies").glob("*.yaml"):
            resource = load(path)
            vault = resource["spec"].get("credentials", {}).get("vault")
            if resource["kind"] == "ExchangeConnector" and vault:
                assert vault["role"] == f"axis-gateway-{resource['metadata']['name']}"
                assert vault["path"] == f"axis/{resource['metadata']['name']}"


def test_argocd_bootstrap_points_at_the_environment_folder() -> None:
    root = resources("helm_release")["argocd_root"]
    text = root["values"][0]
    assert "argocd/${var.environment}/apps" in text
    assert "targetRevision = var.gitops_revision" in text
    assert "repoURL = var.gitops_repo_url" in text
    validation = blocks("variable")["environment"]["validation"][0]["condition"]
    for env in ENVIRONMENTS:
        assert f'"{env}"' in validation
        assert (ARGOCD / env / "apps").is_dir()
    outputs = blocks("output")
    for needed in (
        "cluster_name",
        "cluster_endpoint",
        "cluster_certificate_authority_data",
        "vault_kubernetes_auth_path",
        "gateway_vault_roles",
        "transit_key_name",
        "argocd_namespace",
        "argocd_root_application",
        "kubeconfig_command",
    ):
        assert needed in outputs
        assert outputs[needed]["description"]


ATTRIBUTE = re.compile(r"^(\s*)([A-Za-z0-9_\"./-]+)(\s*)=(?!=)")
QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def opens_expression(rhs: str) -> bool:
    """hclwrite aligns only attributes whose value ends on the same line; one that opens a
    multi-line expression (more brackets opened than closed) breaks the alignment chain."""
    code = QUOTED.sub('""', rhs.split(" #")[0])
    return sum(code.count(c) for c in "([{") > sum(code.count(c) for c in ")]}")


@pytest.mark.parametrize("path", sorted(TERRAFORM.glob("*.tf")), ids=lambda p: p.name)
def test_terraform_fmt_layout(path: Path) -> None:
    """What ``terraform fmt`` enforces that a reader notices: two-space indents, no tabs or
    trailing blanks, one final newline, and the ``=`` of neighbouring attributes aligned."""
    text = path.read_text()
    assert text.endswith("\n")
    assert not text.endswith("\n\n")
    group: list[tuple[int, int, int]] = []  # (line number, indent, column of "=")
    in_heredoc = False

    def check(group: list[tuple[int, int, int]]) -> None:
        if len(group) > 1:
            columns = {column for _, _, column in group}
            assert len(columns) == 1, f"{path.name}:{group[0][0]}: '=' not aligned"

    for number, line in enumerate(text.splitlines(), 1):
        assert "\t" not in line, f"{path.name}:{number}: tab"
        assert line == line.rstrip(), f"{path.name}:{number}: trailing blank"
        if in_heredoc:
            in_heredoc = not line.strip().startswith("EOT")
            continue
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 2 == 0, f"{path.name}:{number}: odd indent"
        match = ATTRIBUTE.match(line)
        if match and opens_expression(line[match.end() :]):
            match = None
        if match and (not group or (group[-1][0] == number - 1 and group[-1][1] == indent)):
            group.append((number, indent, match.end() - 1))
        else:
            check(group)
            group = [(number, indent, match.end() - 1)] if match else []
        if "<<-EOT" in line or "<<EOT" in line:
            in_heredoc = True
    check(group)
