"""Strategies: stored TradingStrategySpecs and their run state (pause, kill switch).

The spec is validated by the same pydantic model the worker and the CRDs use. Changes bump
the strategy's ``generation`` and are announced on ``events:strategies``; the operator or
the worker picks them up. Going live needs the caller's TOTP code.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from axis.api.auth import Context, CurrentUser, verify_totp
from axis.api.context import ApiContext
from axis.api.errors import ApiError
from axis.api.schemas import (
    API_PREFIX,
    KillSwitchRequest,
    StrategyOut,
    StrategyRequest,
    StrategyUpdateRequest,
    error_responses,
)
from axis.config import StrategyMode, TradingStrategySpec
from axis.store.cache import keys
from axis.store.jobs import StrategyRepository
from axis.store.models import Strategy

router = APIRouter(prefix=f"{API_PREFIX}/strategies", tags=["strategies"])

StrategyId = Annotated[int, Path(ge=1, le=2**31 - 1)]
TotpHeader = Annotated[str | None, Header(alias="X-TOTP-Code", pattern=r"^\d{6}$")]


def strategy_out(row: Strategy) -> StrategyOut:
    return StrategyOut(
        strategy_id=row.id,
        name=row.name,
        spec=row.spec,
        mode=row.mode,
        paused=row.paused,
        trading_state=row.trading_state,
        kill_switch_reason=row.kill_switch_reason,
        generation=row.generation,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def validate_spec(spec: dict[str, Any]) -> TradingStrategySpec:
    try:
        return TradingStrategySpec.model_validate(spec)
    except ValidationError as exc:
        errors = [
            {
                "field": ".".join(["body", "spec", *(str(p) for p in e["loc"])]),
                "message": e["msg"],
            }
            for e in exc.errors()
        ]
        first = errors[0]
        raise ApiError(
            422, f"{first['field']}: {first['message']}", field=first["field"], errors=errors
        ) from None


def _owned(ctx: ApiContext, session: Any, user_id: int, strategy_id: int) -> Strategy:
    row = StrategyRepository(session).get(strategy_id)
    if row is None:
        raise ApiError(404, "strategy not found")
    if row.user_id != user_id:
        raise ApiError(403, "not your resource")
    return row


def _announce(ctx: ApiContext, row: Strategy, change: str) -> None:
    ctx.publish(
        keys.STREAM_STRATEGIES,
        {
            "change": change,
            "strategy_id": row.id,
            "user_id": row.user_id,
            "name": row.name,
            "generation": row.generation,
            "paused": row.paused,
            "trading_state": row.trading_state,
        },
    )


@router.get(
    "", name="strategies.list", response_model=list[StrategyOut], responses=error_responses(401)
)
def list_strategies(ctx: Context, user: CurrentUser) -> list[StrategyOut]:
    with ctx.db.session() as session:
        return [strategy_out(r) for r in StrategyRepository(session).for_user(user.user_id)]


@router.post(
    "",
    name="strategies.create",
    status_code=201,
    response_model=StrategyOut,
    responses=error_responses(401, 403, 409, 422, 429),
)
def create_strategy(
    body: StrategyRequest,
    request: Request,
    ctx: Context,
    user: CurrentUser,
    x_totp_code: TotpHeader = None,
) -> StrategyOut:
    """Store a strategy from a TradingStrategySpec. A live-mode spec needs TOTP."""
    spec = validate_spec(body.spec)
    with ctx.db.session() as session:
        if StrategyRepository(session).by_name(user.user_id, body.name) is not None:
            raise ApiError(409, f"a strategy named {body.name!r} exists", field="body.name")
    if spec.mode is StrategyMode.LIVE:
        verify_totp(ctx, user.user_id, x_totp_code)
    try:
        with ctx.db.session() as session:
            row = StrategyRepository(session).create(
                user.user_id, body.name, spec.to_wire(), spec.mode.value
            )
            out = strategy_out(row)
            _announce(ctx, row, "created")
    except IntegrityError:
        raise ApiError(409, f"a strategy named {body.name!r} exists", field="body.name") from None
    request.state.audit = {"strategy_id": out.strategy_id, "mode": out.mode}
    return out


@router.get(
    "/{strategy_id}",
    name="strategies.get",
    response_model=StrategyOut,
    responses=error_responses(401, 403, 404, 422),
)
def get_strategy(strategy_id: StrategyId, ctx: Context, user: CurrentUser) -> StrategyOut:
    with ctx.db.session() as session:
        return strategy_out(_owned(ctx, session, user.user_id, strategy_id))


@router.put(
    "/{strategy_id}",
    name="strategies.update",
    response_model=StrategyOut,
    responses=error_responses(401, 403, 404, 422, 429),
)
def update_strategy(
    strategy_id: StrategyId,
    body: StrategyUpdateRequest,
    request: Request,
    ctx: Context,
    user: CurrentUser,
    x_totp_code: TotpHeader = None,
) -> StrategyOut:
    """Replace the spec. Switching to live mode needs TOTP."""
    spec = validate_spec(body.spec)
    with ctx.db.session() as session:
        row = _owned(ctx, session, user.user_id, strategy_id)
        going_live = spec.mode is StrategyMode.LIVE and row.mode != StrategyMode.LIVE.value
    if going_live:
        verify_totp(ctx, user.user_id, x_totp_code)
    with ctx.db.session() as session:
        row = _owned(ctx, session, user.user_id, strategy_id)
        row.spec, row.mode, row.paused = spec.to_wire(), spec.mode.value, spec.paused
        StrategyRepository(session).bump(row)
        out = strategy_out(row)
        _announce(ctx, row, "updated")
    request.state.audit = {"strategy_id": strategy_id, "mode": out.mode}
    return out


def _set_paused(ctx: ApiContext, user_id: int, strategy_id: int, paused: bool) -> StrategyOut:
    with ctx.db.session() as session:
        row = _owned(ctx, session, user_id, strategy_id)
        if row.paused != paused:
            row.paused = paused
            row.spec = {**row.spec, "paused": paused}
            StrategyRepository(session).bump(row)
            _announce(ctx, row, "paused" if paused else "resumed")
        return strategy_out(row)


@router.post(
    "/{strategy_id}/pause",
    name="strategies.pause",
    response_model=StrategyOut,
    responses=error_responses(401, 403, 404, 422, 429),
)
def pause(strategy_id: StrategyId, ctx: Context, user: CurrentUser) -> StrategyOut:
    """Stop opening new positions (open ones keep their protection)."""
    return _set_paused(ctx, user.user_id, strategy_id, True)


@router.post(
    "/{strategy_id}/resume",
    name="strategies.resume",
    response_model=StrategyOut,
    responses=error_responses(401, 403, 404, 422, 429),
)
def resume(strategy_id: StrategyId, ctx: Context, user: CurrentUser) -> StrategyOut:
    return _set_paused(ctx, user.user_id, strategy_id, False)


@router.post(
    "/{strategy_id}/kill-switch",
    name="strategies.kill_switch_engage",
    response_model=StrategyOut,
    responses=error_responses(401, 403, 404, 422, 429),
)
def engage_kill_switch(
    strategy_id: StrategyId, body: KillSwitchRequest, ctx: Context, user: CurrentUser
) -> StrategyOut:
    """Halt the strategy (only risk-reducing orders pass; ``flatten`` asks the worker to
    close its positions)."""
    with ctx.db.session() as session:
        row = _owned(ctx, session, user.user_id, strategy_id)
        row.trading_state, row.kill_switch_reason = "halted", body.reason
        row.flatten_on_kill = body.flatten
        StrategyRepository(session).bump(row)
        _announce(ctx, row, "killed")
        return strategy_out(row)


@router.delete(
    "/{strategy_id}/kill-switch",
    name="strategies.kill_switch_release",
    response_model=StrategyOut,
    responses=error_responses(401, 403, 404, 422, 429),
)
def release_kill_switch(
    strategy_id: StrategyId, ctx: Context, user: CurrentUser, x_totp_code: TotpHeader = None
) -> StrategyOut:
    """Let the strategy trade again. Needs TOTP."""
    with ctx.db.session() as session:
        _owned(ctx, session, user.user_id, strategy_id)
    verify_totp(ctx, user.user_id, x_totp_code)
    with ctx.db.session() as session:
        row = _owned(ctx, session, user.user_id, strategy_id)
        row.trading_state, row.kill_switch_reason, row.flatten_on_kill = "active", None, False
        StrategyRepository(session).bump(row)
        _announce(ctx, row, "released")
        return strategy_out(row)
