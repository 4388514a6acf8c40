"""Market data (cached) and the market regime."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from axis.api.auth import Admin, Context, CurrentUser
from axis.api.context import ApiContext, dumps
from axis.api.errors import ApiError
from axis.api.market import API_TIMEFRAMES, NoMarketData
from axis.api.schemas import (
    API_PREFIX,
    MarketDataResponse,
    RegimeResponse,
    RegimeUpdateRequest,
    error_responses,
)
from axis.api.services import Svc
from axis.domain.enums import Exchange
from axis.store.cache import keys, read_through
from axis.store.models import RegimeHistory
from axis.store.records import RegimeRepository
from axis.store.types import to_decimal

router = APIRouter(prefix=API_PREFIX, tags=["data"])

TIMEFRAME_PATTERN = "^(" + "|".join(API_TIMEFRAMES) + ")$"


@router.get(
    "/data/market/{symbol}",
    name="data.market",
    response_model=MarketDataResponse,
    responses=error_responses(401, 404, 422, 429),
)
async def market_data(
    symbol: Annotated[str, Path(pattern=r"^[A-Za-z0-9]{2,30}(-[Ss][Pp][Oo][Tt])?$")],
    services: Svc,
    user: CurrentUser,
    timeframe: Annotated[str, Query(pattern=TIMEFRAME_PATTERN)] = "15m",
    include_indicators: bool = True,
    exchange: Exchange = Exchange.BINANCE,
) -> Response:
    """The latest 200 candles of a perpetual (``BTCUSDT``) and its indicators, served from
    the cache (``cached_at`` says when the cached value was written)."""
    try:
        ccxt = keys.ccxt_symbol(symbol)
    except keys.SymbolError as exc:
        raise ApiError(422, f"path.symbol: {exc}", field="path.symbol") from None
    market = services.market
    body = market.response(exchange.value, ccxt, timeframe, include_indicators, cached_only=True)
    if body is None:  # not cached: load from the database in a worker thread
        try:
            body = await run_in_threadpool(
                market.response, exchange.value, ccxt, timeframe, include_indicators
            )
        except NoMarketData as exc:
            raise ApiError(404, str(exc)) from None
    return Response(body, media_type="application/json")


def _regime_view(ctx: ApiContext, row: RegimeHistory, since: Any) -> dict[str, Any]:
    evidence: dict[str, Any] = dict(row.evidence or {})
    for name in ("adx", "rsi"):
        value = getattr(row, name)
        if value is not None:
            evidence.setdefault(name, float(value))
    if row.price_vs_ma50 is not None:
        evidence.setdefault("price_vs_ma50", f"{float(row.price_vs_ma50):+.1f}%")
    if row.trend_strength is not None:
        evidence.setdefault("trend_strength", row.trend_strength)
    return {
        "regime": row.regime,
        "confidence": float(row.confidence),
        "timestamp": row.timestamp.isoformat(),
        "since": since.isoformat(),
        "evidence": evidence,
    }


def _with_duration(ctx: ApiContext, data: dict[str, Any]) -> dict[str, Any]:
    from datetime import datetime

    since = datetime.fromisoformat(data["since"])
    hours = max((ctx.now() - since).total_seconds() / 3600, 0.0)
    return {
        "regime": data["regime"],
        "confidence": data["confidence"],
        "timestamp": data["timestamp"],
        "duration_hours": round(hours, 2),
        "evidence": data["evidence"],
    }


@router.get(
    "/regime/current",
    name="regime.current",
    response_model=RegimeResponse,
    responses=error_responses(401, 404, 429),
)
def regime_current(ctx: Context, user: CurrentUser) -> dict[str, Any]:
    """The current market regime (cached 1 hour as ``regime:current``)."""

    def from_db() -> bytes | None:
        with ctx.db.session() as session:
            repo = RegimeRepository(session)
            row = repo.latest()
            if row is None:
                return None
            return dumps(_regime_view(ctx, row, repo.run_start(row)))

    raw, _ = read_through(ctx.cache, keys.REGIME_CURRENT, "regime", from_db, keys.SYSTEM_TTL_S)
    if raw is None:
        raise ApiError(404, "no regime recorded yet")
    return _with_duration(ctx, json.loads(raw))


@router.post(
    "/regime/update",
    name="regime.update",
    status_code=201,
    response_model=RegimeResponse,
    responses=error_responses(401, 403, 422, 429),
)
def regime_update(
    body: RegimeUpdateRequest, request: Request, ctx: Context, user: Admin
) -> dict[str, Any]:
    """Record a regime decision (operators and the regime service)."""
    with ctx.db.session() as session:
        repo = RegimeRepository(session)
        row = repo.add(
            RegimeHistory(
                timestamp=body.timestamp or ctx.now(),
                regime=body.regime.value,
                confidence=to_decimal(body.confidence),
                adx=None if body.adx is None else to_decimal(body.adx),
                rsi=None if body.rsi is None else to_decimal(body.rsi),
                price_vs_ma50=None
                if body.price_vs_ma50 is None
                else to_decimal(body.price_vs_ma50),
                trend_strength=body.trend_strength,
                evidence=body.evidence,
                ai_rationale=body.ai_rationale,
            )
        )
        latest = repo.latest() or row
        view = _regime_view(ctx, latest, repo.run_start(latest))
        history = [
            {"regime": r.regime, "confidence": float(r.confidence), "timestamp": r.timestamp}
            for r in repo.since(ctx.now() - timedelta(hours=24))
        ]
    ctx.cache.set(keys.REGIME_CURRENT, dumps(view), keys.SYSTEM_TTL_S)
    ctx.cache.set(keys.REGIME_HISTORY_24H, dumps(history), keys.SYSTEM_TTL_S)
    ctx.publish(keys.STREAM_DECISIONS, {"type": "regime", **view})
    request.state.audit = {"regime": body.regime.value, "regime_id": row.id}
    return _with_duration(ctx, view)
