"""The portfolio summary (seed §4.3): allocations, PnL and risk metrics at current prices.

Served from the cache: the open positions under ``user:{id}:positions`` (1 minute), the
account under ``user:{id}:account`` and the last prices under ``market:...:mark``; each is
dropped when the user's book changes. When the positions are (re)loaded from the database the
seed's summary keys ``user:{id}:margin_ratio``, ``total_value`` and ``has_open_position`` are
written for the quick filter and the monitor, and the ``open_positions`` and
``liquidation_distance`` gauges are set.
"""

from __future__ import annotations

import json
import math
from typing import Any

from axis.api.auth import Principal
from axis.api.book import OpenPosition, value_book
from axis.api.context import ApiContext, dumps
from axis.api.errors import ApiError
from axis.api.market import MarketService, NoMarketData
from axis.observability import metrics
from axis.observability.metrics import cache_requests_total
from axis.store.cache import MISS, keys, read_through
from axis.store.trading import PositionRepository


class PortfolioService:
    def __init__(self, ctx: ApiContext, market: MarketService) -> None:
        self.ctx = ctx
        self.market = market

    def positions(self, user_id: int) -> tuple[list[OpenPosition], bool]:
        """Open positions and whether they came from the database this time."""

        def from_db() -> bytes:
            with self.ctx.db.session() as session:
                rows = PositionRepository(session).open_for_user(user_id)
                return dumps([OpenPosition.of(r).to_json() for r in rows])

        raw, result = read_through(
            self.ctx.cache, keys.user_positions(user_id), "user_positions", from_db, keys.USER_TTL_S
        )
        data = json.loads(raw) if raw is not None else []
        return [OpenPosition.from_json(p) for p in data], result != "hit"

    def _cached(self, user_id: int) -> tuple[list[OpenPosition], dict[tuple[str, str], float]]:
        """Positions and marks when every one of them is cached, else LookupError."""
        raw, result = self.ctx.cache.lookup(keys.user_positions(user_id))
        if raw is None:
            raise LookupError(result)
        positions = [OpenPosition.from_json(p) for p in json.loads(raw)]
        pairs = list(dict.fromkeys((p.exchange, p.symbol) for p in positions))
        values = self.ctx.cache.get_many([keys.market_mark(e, s) for e, s in pairs])
        if any(v is None for v in values):
            raise LookupError("mark")
        cache_requests_total.labels(kind="user_positions", result="hit").inc()
        if pairs:
            cache_requests_total.labels(kind="market_mark", result="hit").inc(len(pairs))
        marks = {pair: float(json.loads(v or b"{}")["price"]) for pair, v in zip(pairs, values)}
        return positions, marks

    def summary(self, principal: Principal, cached_only: bool = False) -> dict[str, Any] | None:
        """The caller's portfolio; the account facts come with the authenticated principal
        (read from the same cache key a moment ago). ``cached_only``: None unless every input
        is in the cache (the event loop answers those; the rest go to a worker thread)."""
        user_id = principal.user_id
        try:
            positions, marks = self._cached(user_id)
            reloaded = False
        except LookupError:
            if cached_only:
                return None
            positions, reloaded = self.positions(user_id)
            try:
                quotes = self.market.quotes([(p.exchange, p.symbol) for p in positions])
            except NoMarketData as exc:
                raise ApiError(503, str(exc)) from None
            marks = {pair: q.price for pair, q in quotes.items()}
        book = value_book(principal.wallet, positions, marks)
        total = book.equity
        allocations: dict[str, dict[str, Any]] = {}
        committed = 0.0
        for holding in book.holdings:
            p = holding.position
            value = p.margin + holding.unrealized_pnl
            committed += value
            asset = p.symbol.split("/")[0]
            allocations[asset] = {
                "pct": round(value / total * 100, 4) if total > 0 else 0.0,
                "value_usdt": round(value, 2),
                "position_side": "LONG" if p.sign > 0 else "SHORT",
                "leverage": p.leverage,
                "pnl": round(holding.unrealized_pnl, 2),
            }
        cash = total - committed
        allocations["USDT"] = {
            "pct": round(cash / total * 100, 4) if total > 0 else 0.0,
            "value_usdt": round(cash, 2),
            "position_side": "HOLD",
            "leverage": 1.0,
            "pnl": 0.0,
        }
        wallet = book.wallet
        closest = book.closest_liquidation_distance
        margin_ratio = book.margin_ratio
        leverage = book.total_leverage
        if reloaded:
            self._publish_summary(user_id, total, margin_ratio, len(positions), closest)
        return {
            "user_id": user_id,
            "timestamp": self.ctx.now().isoformat().replace("+00:00", "Z"),
            "total_value_usdt": round(total, 2),
            "wallet_balance": round(wallet, 2),
            "unrealized_pnl": round(book.unrealized_pnl, 2),
            "unrealized_pnl_pct": round(book.unrealized_pnl / wallet * 100, 4) if wallet else 0.0,
            "allocations": allocations,
            "risk_metrics": {
                "total_leverage": round(leverage, 4) if math.isfinite(leverage) else 1e9,
                "margin_ratio": round(margin_ratio, 6) if math.isfinite(margin_ratio) else 1e9,
                "closest_liquidation_distance": round(closest, 6) if closest is not None else None,
            },
            "trading_state": principal.trading_state,
        }

    def _publish_summary(
        self,
        user_id: int,
        total: float,
        margin_ratio: float,
        count: int,
        closest: float | None,
    ) -> None:
        cache, ttl = self.ctx.cache, keys.USER_TTL_S
        cache.set(keys.user_total_value(user_id), f"{total:.8f}", ttl)
        cache.set(keys.user_margin_ratio(user_id), f"{margin_ratio:.8f}", ttl)
        cache.set(keys.user_has_open_position(user_id), "true" if count else "false", ttl)
        label = str(user_id)
        metrics.open_positions.labels(user_id=label).set(count)
        metrics.liquidation_distance.labels(user_id=label).set(
            closest if closest is not None else math.inf
        )


__all__ = ["MISS", "PortfolioService"]
