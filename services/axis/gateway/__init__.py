"""The exchange gateway: one process per exchange account that holds its keys, rate limiter and
exchange connection, and serves the venue operations to workers over HTTP plus an event stream
(:mod:`axis.gateway.app`). Workers reach it through :class:`axis.venues.gateway.GatewayVenue`."""

from axis.gateway.app import create_gateway_app
from axis.gateway.credentials import ExchangeKeys, load_exchange_keys

__all__ = ["ExchangeKeys", "create_gateway_app", "load_exchange_keys"]
