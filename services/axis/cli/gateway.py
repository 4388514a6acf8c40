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


def exchange_keys(
    profile: Annotated[str, typer.Option(help="credentials profile, e.g. binance-testnet")],
    passphrase: Annotated[bool, typer.Option(help="also ask for the API passphrase (OKX)")] = False,
) -> None:
    """Store an exchange account's API keys as a local credentials profile (the secrets file,
    mode 0600, or Vault when AXIS_VAULT_ADDR is set). The keys are prompted for, never
    arguments, and never printed."""
    import re

    from axis.config.settings import AxisSettings
    from axis.security import build_secrets

    if not re.match(r"^[A-Za-z0-9_-]{1,64}$", profile):
        raise ConfigError(f"--profile: {profile!r} is not a profile name (letters, digits, _ -)")
    api_key = typer.prompt("API key", hide_input=True).strip()
    secret = typer.prompt("API secret", hide_input=True).strip()
    password = typer.prompt("API passphrase", hide_input=True).strip() if passphrase else ""
    if not api_key or not secret:
        raise ConfigError("the API key and the secret must not be empty")
    keys = {"apiKey": api_key, "secret": secret}
    if password:
        keys["password"] = password
    try:
        provider, _ = build_secrets(AxisSettings())
        provider.put(f"exchange/{profile}", keys)
    except SecretsError as exc:
        raise ConfigError(str(exc)) from None
    typer.echo(f"stored exchange keys as profile {profile!r} (exchange/{profile})")


def register(app: typer.Typer) -> None:
    app.command("gateway")(gateway)
    app.command("exchange-keys")(exchange_keys)
