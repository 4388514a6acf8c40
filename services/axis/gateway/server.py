"""Running a gateway process: ``axis gateway --config connector.yaml``.

The connector spec says which exchange and market; the keys come from the credentials chain
(:mod:`axis.gateway.credentials`); a venue factory builds the exchange venue from both (tests
and other venues plug in here); uvicorn serves the app on ``AXIS_PORT`` (8080).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from fastapi import FastAPI

from axis.config.backtest import ConfigError
from axis.config.specs import NAME_PATTERN, ExchangeConnectorSpec, load_spec
from axis.gateway.app import create_gateway_app
from axis.gateway.credentials import ExchangeKeys, load_exchange_keys
from axis.venues.base import LiveVenue

DEFAULT_PORT = 8080
CCXT_VENUE_MODULE = "axis.venues.ccxt_venue"

# (spec, keys, connector name) -> the account's venue, not yet connected.
VenueFactory = Callable[[ExchangeConnectorSpec, ExchangeKeys, str], LiveVenue]


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Everything a gateway process is started with."""

    spec: ExchangeConnectorSpec
    connector: str
    host: str
    port: int
    token: str | None


def connector_name(path: Path, spec: ExchangeConnectorSpec, environ: Mapping[str, str]) -> str:
    """``AXIS_CONNECTOR_NAME``, else the resource's ``metadata.name``, else the exchange."""
    name = environ.get("AXIS_CONNECTOR_NAME")
    if not name:
        document = yaml.safe_load(path.read_text())
        metadata = document.get("metadata") if isinstance(document, dict) else None
        name = metadata.get("name") if isinstance(metadata, dict) else None
    name = str(name or spec.exchange.value)
    if not re.match(NAME_PATTERN, name):
        raise ConfigError(f"AXIS_CONNECTOR_NAME: {name!r} is not a valid connector name")
    return name


def load_config(
    path: Path, environ: Mapping[str, str] | None = None, port: int | None = None
) -> GatewayConfig:
    env = os.environ if environ is None else environ
    spec = load_spec(ExchangeConnectorSpec, path)
    raw_port = port if port is not None else env.get("AXIS_PORT", str(DEFAULT_PORT))
    try:
        resolved_port = int(raw_port)
    except ValueError:
        raise ConfigError(f"AXIS_PORT: {raw_port!r} is not a port number") from None
    if not 0 < resolved_port < 65536:
        raise ConfigError(f"AXIS_PORT: {resolved_port} is not a port number")
    return GatewayConfig(
        spec=spec,
        connector=connector_name(path, spec, env),
        host=env.get("AXIS_HOST", "0.0.0.0"),
        port=resolved_port,
        token=env.get("AXIS_GATEWAY_TOKEN") or None,
    )


def ccxt_venue(spec: ExchangeConnectorSpec, keys: ExchangeKeys, name: str) -> LiveVenue:
    """The exchange venue over ccxt, for the spec's exchange, market type, sandbox flag and
    share of the account's request weight."""
    try:
        module = importlib.import_module(CCXT_VENUE_MODULE)
    except ModuleNotFoundError:
        raise ConfigError(
            f"this build has no exchange venue ({CCXT_VENUE_MODULE}); cannot serve "
            f"{spec.exchange.value}"
        ) from None
    revealed = keys.reveal()
    venue: LiveVenue = module.CcxtVenue.create(
        spec.exchange,
        market_type=spec.market_type,
        api_key=revealed["apiKey"],
        secret=revealed["secret"],
        password=revealed.get("password"),
        sandbox=spec.sandbox,
        rate_limit_share=spec.rate_limit_share,
        name=name,
    )
    return venue


def build_app(
    config: GatewayConfig,
    *,
    factory: VenueFactory = ccxt_venue,
    keys: ExchangeKeys | None = None,
    environ: Mapping[str, str] | None = None,
) -> FastAPI:
    """The gateway app of a config: keys loaded, venue built (not yet connected)."""
    keys = keys or load_exchange_keys(config.spec, environ)
    venue = factory(config.spec, keys, config.connector)
    return create_gateway_app(
        venue,
        connector=config.connector,
        exchange=config.spec.exchange.value,
        token=config.token,
        scrub=keys.scrub,
    )


def serve(config: GatewayConfig, *, factory: VenueFactory = ccxt_venue) -> None:
    import uvicorn

    from axis.observability.logging import configure_logging

    configure_logging()
    app = build_app(config, factory=factory)
    uvicorn.run(app, host=config.host, port=config.port, log_config=None, access_log=False)


class InProcessServer:
    """A gateway app served by uvicorn inside the caller's event loop, on a loopback port the
    system picks: for tests and benchmarks that drive a gateway and its client in one process."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1") -> None:
        import socket

        import uvicorn

        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.host = host
        self.port: int = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, access_log=False, ws_ping_interval=None)
        self.server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self, timeout_s: float = 10.0) -> None:
        """Serve, and return once the app has started (its venue connected)."""
        self._task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        async with asyncio.timeout(timeout_s):
            while not self.server.started:
                if self._task.done():  # startup failed: surface why
                    self._task.result()
                    raise RuntimeError("the gateway stopped during startup")
                await asyncio.sleep(0.005)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            await self._task
            self._task = None
