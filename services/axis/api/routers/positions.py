"""Positions: open (through the full risk chain), close (all or part), list, read."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from axis.api.auth import Context, CurrentUser, OpenLimitedUser, ensure_owner
from axis.api.context import ApiContext, dumps
from axis.api.errors import ApiError
from axis.api.schemas import (
    API_PREFIX,
    ClosePositionRequest,
    ClosePositionResponse,
    OpenPositionRequest,
    OpenPositionResponse,
    PositionOut,
    error_responses,
)
from axis.api.services import Svc
from axis.store.models import Position
from axis.store.trading import PositionRepository

router = APIRouter(prefix=f"{API_PREFIX}/positions", tags=["trading"])

PositionId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def position_out(row: Position) -> PositionOut:
    def f(value: Decimal | None) -> float | None:
        return None if value is None else float(value)

    return PositionOut(
        position_id=row.id,
        user_id=row.user_id,
        exchange=row.exchange,
        symbol=row.symbol,
        side=row.side,
        leverage=float(row.leverage),
        entry_price=float(row.entry_price),
        entry_time=row.entry_time,
        quantity=float(row.quantity),
        notional_value=float(row.notional_value),
        margin=float(row.margin),
        stop_loss_price=f(row.stop_loss_price),
        take_profit_price=f(row.take_profit_price),
        liquidation_price=f(row.liquidation_price),
        exit_price=f(row.exit_price),
        exit_time=row.exit_time,
        realized_pnl=float(row.realized_pnl or 0),
        pnl_pct=f(row.pnl_pct),
        fees_paid=float(row.fees_paid or 0),
        regime=row.regime,
        confidence=f(row.confidence),
        status=row.status,
        close_reason=row.close_reason,
    )


@router.post(
    "/open",
    name="positions.open",
    response_model=OpenPositionResponse,
    responses=error_responses(400, 401, 403, 404, 409, 422, 429),
)
def open_position(
    body: OpenPositionRequest, request: Request, services: Svc, user: OpenLimitedUser
) -> Response:
    """Open (or add to) a linear-perpetual position. The order passes the full risk chain of
    the user's profile; a veto answers 400 with the failing ``rule`` and its ``details``.
    Without a configured venue the order is paper-filled at the current price."""
    ensure_owner(user, body.user_id)
    request.state.audit = {"symbol": body.symbol, "side": body.side.value}
    result = services.trading.open(body)
    request.state.audit["position_id"] = result["position_id"]
    return Response(dumps(result), media_type="application/json")


@router.post(
    "/{position_id}/close",
    name="positions.close",
    response_model=ClosePositionResponse,
    responses=error_responses(400, 401, 403, 404, 409, 422, 429),
)
def close_position(
    position_id: PositionId,
    body: ClosePositionRequest,
    request: Request,
    services: Svc,
    user: CurrentUser,
) -> Response:
    """Close ``close_pct`` of a position (1.0 = all) with a reduce-only market order."""
    ensure_owner(user, body.user_id)
    _owned(services.ctx, user.user_id, position_id)
    request.state.audit = {"position_id": position_id, "close_pct": body.close_pct}
    return Response(dumps(services.trading.close(position_id, body)), media_type="application/json")


def _owned(ctx: ApiContext, user_id: int, position_id: int) -> Position:
    with ctx.db.session() as session:
        row = PositionRepository(session).get(position_id)
        if row is None:
            raise ApiError(404, "position not found")
        if row.user_id != user_id:
            raise ApiError(403, "not your resource")
        return row


@router.get(
    "",
    name="positions.list",
    response_model=list[PositionOut],
    responses=error_responses(401, 422),
)
def list_positions(
    ctx: Context,
    user: CurrentUser,
    status: Annotated[str | None, Query(pattern=r"^(open|closed|liquidated)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[PositionOut]:
    """The caller's positions, newest first."""
    with ctx.db.session() as session:
        rows = PositionRepository(session).for_user(user.user_id, status, limit)
        return [position_out(r) for r in rows]


@router.get(
    "/{position_id}",
    name="positions.get",
    response_model=PositionOut,
    responses=error_responses(401, 403, 404, 422),
)
def get_position(position_id: PositionId, ctx: Context, user: CurrentUser) -> PositionOut:
    return position_out(_owned(ctx, user.user_id, position_id))
