"""The API hosts of each exchange, taken from ccxt's own URL tables (ccxt is what the gateway
uses, so the mesh allows exactly what it will call)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlparse

import ccxt

from axis.domain.enums import Exchange, MarketType

# The REST endpoint family a market type trades through, by the key ccxt files it under.
_PRIMARY_KEY = {
    (Exchange.BINANCE, MarketType.SPOT): "public",
    (Exchange.BINANCE, MarketType.LINEAR_PERPETUAL): "fapiPublic",
}


def _hosts(urls: Any, hostname: str | None) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str) and node.startswith("http"):
            host = urlparse(node.replace("{hostname}", hostname or "")).hostname
            if host and host not in found:
                found.append(host)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(urls)
    return found


@lru_cache(maxsize=32)
def exchange_hosts(exchange: Exchange, market_type: MarketType, sandbox: bool) -> tuple[str, ...]:
    """REST hosts, the one the market type trades through first."""
    client = getattr(ccxt, exchange.value)()
    urls = client.urls["test" if sandbox else "api"]
    hostname = getattr(client, "hostname", None)
    hosts = _hosts(urls, hostname)
    key = _PRIMARY_KEY.get((exchange, market_type))
    if isinstance(urls, dict) and key in urls:
        primary = _hosts(urls[key], hostname)[0]
        hosts = [primary, *(h for h in hosts if h != primary)]
    return tuple(hosts)
