"""``axis gateway --config connector.yaml``: serve one exchange account to the workers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from axis.config.backtest import ConfigError
from axis.security.secrets import SecretsError


def gateway(
    config: Annotated[
        Path, typer.Option(help="ExchangeConnector spec (YAML: the bare spec or the resource)")
    ],
    port: Annotated[int | None, typer.Option(help="port (AXIS_PORT, default 8080)")] = None,
) -> None:
    """Run the exchange gateway of one account: the venue API, its event stream, /healthz,
    /readyz, /status and /metrics. Keys come from the environment, Vault or a local profile."""
    from axis.gateway.server import load_config, serve

    settings = load_config(config, port=port)
    try:
        serve(settings)
    except SecretsError as exc:  # no keys, or unreadable ones: a setup problem, exit 2
        raise ConfigError(str(exc)) from None


def register(app: typer.Typer) -> None:
    app.command("gateway")(gateway)
