"""A user's portfolio, kill switch and exchange keys (every route: the caller's own only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import IntegrityError

from axis.api.auth import Context, CurrentUser, ensure_owner, verify_totp
from axis.api.context import dumps
from axis.api.errors import ApiError
from axis.api.schemas import (
    API_PREFIX,
    ClosePositionRequest,
    CloseReason,
    ExchangeKeysOut,
    ExchangeKeysRequest,
    KillSwitchRequest,
    PortfolioResponse,
    TradingStateResponse,
    error_responses,
)
from axis.api.services import Svc
from axis.store.accounts import CredentialRepository, UserRepository
from axis.store.audit import AuditRepository
from axis.store.cache import keys
from axis.store.models import ExchangeCredential
from axis.store.trading import PositionRepository
from axis.store.types import utcnow

router = APIRouter(prefix=API_PREFIX + "/users/{user_id}", tags=["users"])

UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]
TotpHeader = Annotated[str | None, Header(alias="X-TOTP-Code", pattern=r"^\d{6}$")]


@router.get(
    "/portfolio",
    name="users.portfolio",
    response_model=PortfolioResponse,
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
async def portfolio(user_id: UserId, services: Svc, user: CurrentUser) -> Response:
    """Allocations, PnL and risk metrics (total leverage, margin ratio, closest liquidation
    distance) at current prices."""
    ensure_owner(user, user_id)
    summary = services.portfolio.summary(user, cached_only=True)
    if summary is None:  # something is not cached: the database, in a worker thread
        summary = await run_in_threadpool(services.portfolio.summary, user)
    return Response(dumps(summary), media_type="application/json")


@router.post(
    "/kill-switch",
    name="users.kill_switch_engage",
    response_model=TradingStateResponse,
    responses=error_responses(401, 403, 422, 429),
)
def engage_kill_switch(
    user_id: UserId, body: KillSwitchRequest, request: Request, services: Svc, user: CurrentUser
) -> TradingStateResponse:
    """Halt the account: every new order is vetoed by the risk chain (reducing orders still
    pass); with ``flatten`` every open position is closed now. No second factor needed to stop."""
    ensure_owner(user, user_id)
    ctx = services.ctx
    with ctx.db.session() as session:
        row = UserRepository(session).get(user_id)
        if row is None:
            raise ApiError(404, "user not found")
        row.trading_state = "halted"
        row.kill_switch_reason = body.reason
        with_positions = [p.id for p in PositionRepository(session).open_for_user(user_id)]
    ctx.forget_user(user_id)
    closed: list[int] = []
    if body.flatten:
        for position_id in with_positions:
            services.trading.close(
                position_id, ClosePositionRequest(user_id=user_id, reason=CloseReason.EMERGENCY)
            )
            closed.append(position_id)
    ctx.publish(
        keys.STREAM_ALERTS, {"kind": "kill_switch", "user_id": user_id, "reason": body.reason}
    )
    request.state.audit = {"reason": body.reason, "flattened": closed}
    return TradingStateResponse(trading_state="halted", reason=body.reason)


@router.delete(
    "/kill-switch",
    name="users.kill_switch_release",
    response_model=TradingStateResponse,
    responses=error_responses(401, 403, 422, 429),
)
def release_kill_switch(
    user_id: UserId, ctx: Context, user: CurrentUser, x_totp_code: TotpHeader = None
) -> TradingStateResponse:
    """Resume trading. Needs the caller's TOTP code (``X-TOTP-Code``)."""
    ensure_owner(user, user_id)
    verify_totp(ctx, user_id, x_totp_code)
    with ctx.db.session() as session:
        row = UserRepository(session).get(user_id)
        if row is None:
            raise ApiError(404, "user not found")
        row.trading_state = "active"
        row.kill_switch_reason = None
    ctx.forget_user(user_id)
    return TradingStateResponse(trading_state="active")


def keys_out(row: ExchangeCredential) -> ExchangeKeysOut:
    return ExchangeKeysOut(
        credential_id=row.id,
        exchange=row.exchange,
        label=row.label,
        key_version=row.key_version,
        created_at=row.created_at,
        rotated_at=row.rotated_at,
    )


@router.get(
    "/exchange-keys",
    name="users.exchange_keys_list",
    response_model=list[ExchangeKeysOut],
    responses=error_responses(401, 403, 422),
)
def list_exchange_keys(user_id: UserId, ctx: Context, user: CurrentUser) -> list[ExchangeKeysOut]:
    """Which exchange accounts have keys stored (never the keys)."""
    ensure_owner(user, user_id)
    with ctx.db.session() as session:
        return [keys_out(r) for r in CredentialRepository(session).for_user(user_id)]


@router.post(
    "/exchange-keys",
    name="users.exchange_keys_put",
    status_code=201,
    response_model=ExchangeKeysOut,
    responses=error_responses(401, 403, 409, 422, 429),
)
def put_exchange_keys(
    user_id: UserId,
    body: ExchangeKeysRequest,
    request: Request,
    ctx: Context,
    user: CurrentUser,
    x_totp_code: TotpHeader = None,
) -> ExchangeKeysOut:
    """Add an exchange account's keys, or rotate them (same exchange and label). Needs TOTP.
    The keys are encrypted before they are stored and are never returned or logged."""
    ensure_owner(user, user_id)
    verify_totp(ctx, user_id, x_totp_code)
    encryptor = ctx.security.encryptor
    api_key = encryptor.encrypt(body.api_key)
    secret = encryptor.encrypt(body.secret)
    password = encryptor.encrypt(body.password) if body.password else None
    version = encryptor.version_of(api_key)
    try:
        with ctx.db.session() as session:
            repo = CredentialRepository(session)
            row = repo.find(user_id, body.exchange.value, body.label)
            if row is None:
                row = repo.add(
                    user_id, body.exchange.value, body.label, api_key, secret, password, version
                )
            else:
                row.api_key_encrypted, row.secret_encrypted = api_key, secret
                row.password_encrypted, row.key_version = password, version
                row.rotated_at = utcnow()
            out = keys_out(row)
    except IntegrityError:
        raise ApiError(409, "keys for this exchange and label were stored concurrently") from None
    request.state.audit = {"exchange": body.exchange.value, "label": body.label}
    return out


@router.delete(
    "/exchange-keys/{credential_id}",
    name="users.exchange_keys_delete",
    status_code=204,
    responses=error_responses(401, 403, 404, 422, 429),
)
def delete_exchange_keys(
    user_id: UserId,
    credential_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    ctx: Context,
    user: CurrentUser,
    x_totp_code: TotpHeader = None,
) -> Response:
    """Remove stored keys. Needs TOTP."""
    ensure_owner(user, user_id)
    with ctx.db.session() as session:
        row = CredentialRepository(session).get(credential_id)
        if row is None:
            raise ApiError(404, "exchange keys not found")
        if row.user_id != user_id:
            raise ApiError(403, "not your resource")
    verify_totp(ctx, user_id, x_totp_code)
    with ctx.db.session() as session:
        repo = CredentialRepository(session)
        row = repo.get(credential_id)
        if row is not None:
            repo.delete(row)
    return Response(status_code=204)


@router.get(
    "/audit",
    name="users.audit",
    responses=error_responses(401, 403, 422),
)
def audit_log(
    user_id: UserId,
    ctx: Context,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """What this account did, newest first."""
    ensure_owner(user, user_id)
    with ctx.db.session() as session:
        rows = AuditRepository(session).list(actor_user_id=user_id, limit=limit)
        return [
            {
                "time": r.time.isoformat(),
                "action": r.action,
                "resource": r.resource,
                "method": r.method,
                "status_code": r.status_code,
                "outcome": r.outcome,
                "ip": r.ip,
                "request_id": r.request_id,
                "details": r.details,
            }
            for r in rows
        ]
