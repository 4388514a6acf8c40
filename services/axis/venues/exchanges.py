"""Per-exchange profiles: everything in which Binance, OKX, Gate.io and Bybit differ.

The venue (:mod:`axis.venues.ccxt_venue`) is written once against ccxt's unified API; what
differs per exchange (the client order id field and its alphabet, the extra parameters leverage
and margin calls need, how an order is found by client order id, rate-limit windows) lives
here, one small subclass per exchange, looked up by :func:`profile_for`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import ccxt

from axis.domain.enums import Exchange, MarginMode, MarketType

JsonDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ExchangeProfile:
    """Defaults shared by the four exchanges; subclasses override what differs."""

    exchange: Exchange
    client_id_param: str  # the exchange's own field for our client order id
    burst_seconds: float = 1.0  # the exchange's rate-limit window: the bucket holds that much

    @property
    def ccxt_id(self) -> str:
        return self.exchange.value

    # -- client order ids ---------------------------------------------------------------------
    def encode_client_id(self, client_order_id: str) -> str:
        """Our id as the exchange accepts it (deterministic: a retry sends the same value)."""
        return client_order_id

    def client_id_params(self, venue_client_id: str) -> JsonDict:
        return {self.client_id_param: venue_client_id}

    def lookup_params(self, venue_client_id: str) -> JsonDict:
        """Params with which fetch_order / cancel_order find an order by client order id."""
        return {"clientOrderId": venue_client_id}

    def order_lookup(self, venue_client_id: str, trigger: bool) -> JsonDict:
        """Lookup params, for a conditional (trigger) order on its own endpoints where the
        exchange keeps them apart."""
        params = self.lookup_params(venue_client_id)
        return {**params, "trigger": True} if trigger else params

    async def find_order(
        self, exchange: Any, symbol: str, venue_client_id: str, trigger: bool = False
    ) -> JsonDict:
        """The exchange's order with this client order id (ccxt raises OrderNotFound)."""
        params = self.order_lookup(venue_client_id, trigger)
        return await exchange.fetch_order(None, symbol, params)

    # -- account configuration ----------------------------------------------------------------
    def ccxt_options(self, market_type: MarketType) -> JsonDict:
        """Exchange options for the ccxt constructor: the default market for account-wide
        calls (positions, balances, open orders without a symbol)."""
        if market_type is MarketType.SPOT:
            return {"defaultType": "spot"}
        return {"defaultType": "swap", "defaultSubType": "linear"}

    def leverage_params(self, margin_mode: MarginMode | None, leverage: float) -> JsonDict:
        return {}

    def margin_mode_params(self, leverage: float | None) -> JsonDict:
        return {}

    def order_params(self, margin_mode: MarginMode | None) -> JsonDict:
        """Extra create_order params for a contract order."""
        return {}

    def is_hedged(self, position: JsonDict) -> bool:
        """Whether a ccxt position is one leg of a hedge-mode (two-way) account."""
        return bool(position.get("hedged"))

    @property
    def margin_mode_through_leverage(self) -> bool:
        """True where the margin mode is set by the leverage call (no margin-mode endpoint)."""
        return False


@dataclass(frozen=True, slots=True)
class BinanceProfile(ExchangeProfile):
    exchange: Exchange = Exchange.BINANCE
    client_id_param: str = "newClientOrderId"  # [.A-Z:/a-z0-9_-]{1,36}
    burst_seconds: float = 60.0  # request weight is counted per minute


@dataclass(frozen=True, slots=True)
class OkxProfile(ExchangeProfile):
    exchange: Exchange = Exchange.OKX
    client_id_param: str = "clOrdId"
    burst_seconds: float = 2.0  # OKX limits per 2 seconds

    def encode_client_id(self, client_order_id: str) -> str:
        # clOrdId takes letters and digits only, up to 32.
        return re.sub(r"[^A-Za-z0-9]", "", client_order_id)[-32:]

    def leverage_params(self, margin_mode: MarginMode | None, leverage: float) -> JsonDict:
        # OKX sets leverage per margin mode (mgnMode is required).
        return {"marginMode": (margin_mode or MarginMode.CROSS).value}

    def margin_mode_params(self, leverage: float | None) -> JsonDict:
        # OKX switches margin mode through the leverage endpoint, which needs the leverage.
        return {"lever": leverage if leverage is not None else 1}

    def order_params(self, margin_mode: MarginMode | None) -> JsonDict:
        return {"marginMode": (margin_mode or MarginMode.CROSS).value}  # tdMode


@dataclass(frozen=True, slots=True)
class GateProfile(ExchangeProfile):
    exchange: Exchange = Exchange.GATE
    client_id_param: str = "text"
    burst_seconds: float = 1.0

    def encode_client_id(self, client_order_id: str) -> str:
        # Gate's ``text`` starts with "t-" and is at most 28 characters; the tail of our id
        # holds the sequence number, so keep that.
        return "t-" + client_order_id[-26:]

    def lookup_params(self, venue_client_id: str) -> JsonDict:
        return {"text": venue_client_id}

    def is_hedged(self, position: JsonDict) -> bool:
        # ccxt leaves ``hedged`` unset for gate; its raw "mode" is "single" or "dual_long/short".
        mode = (position.get("info") or {}).get("mode", "single")
        return bool(position.get("hedged")) or mode != "single"

    @property
    def margin_mode_through_leverage(self) -> bool:
        return True

    def leverage_params(self, margin_mode: MarginMode | None, leverage: float) -> JsonDict:
        # Gate futures: cross margin is leverage 0 with a cross leverage limit.
        if margin_mode is MarginMode.CROSS:
            return {"cross_leverage_limit": f"{leverage:g}"}
        return {}


@dataclass(frozen=True, slots=True)
class BybitProfile(ExchangeProfile):
    exchange: Exchange = Exchange.BYBIT
    client_id_param: str = "orderLinkId"  # up to 36 of [A-Za-z0-9_-]
    burst_seconds: float = 1.0

    def lookup_params(self, venue_client_id: str) -> JsonDict:
        return {"orderLinkId": venue_client_id}

    async def find_order(
        self, exchange: Any, symbol: str, venue_client_id: str, trigger: bool = False
    ) -> JsonDict:
        # Bybit's order endpoints are split: working (and recent) orders, then history.
        params = self.order_lookup(venue_client_id, trigger)
        for fetch in (exchange.fetch_open_orders, exchange.fetch_closed_orders):
            for order in await fetch(symbol, None, None, dict(params)):
                # Bybit filtered by orderLinkId; some replies leave the field empty.
                if order.get("clientOrderId") in (venue_client_id, None, ""):
                    return order
        raise ccxt.OrderNotFound(f"bybit has no order {venue_client_id} on {symbol}")


_PROFILES: dict[Exchange, ExchangeProfile] = {
    Exchange.BINANCE: BinanceProfile(),
    Exchange.OKX: OkxProfile(),
    Exchange.GATE: GateProfile(),
    Exchange.BYBIT: BybitProfile(),
}


def profile_for(exchange: Exchange | str) -> ExchangeProfile:
    try:
        return _PROFILES[Exchange(exchange)]
    except ValueError:
        supported = ", ".join(e.value for e in Exchange)
        raise ValueError(
            f"exchange {exchange!r} is not supported (supported: {supported})"
        ) from None
