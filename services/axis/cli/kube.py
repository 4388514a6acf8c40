"""``axis crds`` and ``axis operator``: the Kubernetes side of the command line.

The operator package is imported lazily, so the rest of ``axis`` works without the ``k8s``
extra installed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml

from axis.cli import app
from axis.config import ConfigError

operator_app = typer.Typer(help="The Kubernetes operator: run it, or render what it would apply.")


def crds(
    out: Annotated[Path, typer.Option(help="folder to write the CRDs to")] = Path("crds"),
    check: Annotated[
        bool, typer.Option("--check", help="write nothing; exit 1 when the folder is stale")
    ] = False,
) -> None:
    """Generate the TradingStrategy and ExchangeConnector CRDs from the spec models."""
    from axis_operator import crds as generator

    if check:
        stale = generator.stale(out)
        if stale:
            sys.stderr.write(f"stale CRDs in {out}: {', '.join(stale)}; run `axis crds`\n")
            raise typer.Exit(1)
        typer.echo(f"{out} is up to date")
        return
    for path in generator.write(out):
        typer.echo(f"wrote {path}")


@operator_app.command("run")
def operator_run(
    standalone: Annotated[
        bool, typer.Option(help="no peering: for a single replica or a laptop")
    ] = False,
    liveness: Annotated[
        str, typer.Option(help="liveness endpoint kopf serves")
    ] = "http://0.0.0.0:8081/healthz",
) -> None:
    """Run the operator against the current cluster (settings from AXIS_OPERATOR_* env)."""
    try:
        from axis_operator.main import run
        from axis_operator.settings import OperatorSettings
    except ImportError as exc:  # the k8s extra is missing
        raise ConfigError(
            f"the operator needs the k8s extra: pip install 'axis-trading[k8s]' ({exc})"
        ) from None
    run(OperatorSettings.from_env(), standalone=standalone, liveness=liveness)


@operator_app.command("render")
def operator_render(
    resource: Annotated[Path, typer.Argument(help="a TradingStrategy or ExchangeConnector YAML")],
    namespace: Annotated[str, typer.Option(help="namespace when the file names none")] = "default",
) -> None:
    """Print the child manifests the operator would apply for one resource."""
    from axis.config.specs import ExchangeConnectorSpec, TradingStrategySpec, load_spec
    from axis_operator.render import Owner, render_connector, render_strategy
    from axis_operator.settings import OperatorSettings

    try:
        document = yaml.safe_load(resource.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{resource}: no such file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{resource}: not valid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(document, dict) or document.get("kind") not in (
        "TradingStrategy",
        "ExchangeConnector",
    ):
        raise ConfigError(f"{resource}: expected a TradingStrategy or ExchangeConnector resource")
    meta = document.get("metadata") or {}
    if not meta.get("name"):
        raise ConfigError(f"{resource}: metadata.name is required")
    owner = Owner(
        kind=document["kind"],
        name=str(meta["name"]),
        namespace=str(meta.get("namespace") or namespace),
        uid=str(meta.get("uid") or "00000000-0000-0000-0000-000000000000"),
    )
    settings = OperatorSettings.from_env()
    if owner.kind == "TradingStrategy":
        children = render_strategy(owner, load_spec(TradingStrategySpec, resource), settings)
    else:
        children = render_connector(owner, load_spec(ExchangeConnectorSpec, resource), settings)
    typer.echo(yaml.safe_dump_all(children, sort_keys=False), nl=False)


app.command("crds")(crds)
app.add_typer(operator_app, name="operator")
