"""Trigger a trading cycle for a user: one at a time, handed to the workers on the bus."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from axis.api.auth import Context, CurrentUser, ensure_owner
from axis.api.errors import ApiError
from axis.api.schemas import API_PREFIX, TriggerRequest, TriggerResponse, error_responses
from axis.store.cache import keys

router = APIRouter(prefix=f"{API_PREFIX}/trading", tags=["trading"])


@router.post(
    "/trigger",
    name="trading.trigger",
    status_code=202,
    response_model=TriggerResponse,
    responses=error_responses(401, 403, 409, 422, 429),
)
def trigger(
    body: TriggerRequest, request: Request, ctx: Context, user: CurrentUser
) -> JSONResponse:
    """Queue one trading cycle (seed §5.2). The user's lock ``trading:lock:user:{id}`` is held
    for the cycle (10 minutes at most); a second trigger meanwhile answers 409 with the
    running execution id. The worker consuming ``events:trading_triggers`` releases it."""
    ensure_owner(user, body.user_id)
    if user.trading_state == "halted":
        raise ApiError(409, "trading is halted (kill switch); release it first")
    execution_id = uuid.uuid4().hex
    lock = keys.trading_lock(body.user_id)
    if not ctx.cache.acquire_lock(lock, execution_id, keys.LOCK_TTL_S):
        running = ctx.cache.lock_owner(lock)
        raise ApiError(409, "a trading cycle is already running", execution_id=running)
    now = ctx.now()
    stream_id = None
    try:
        stream_id = ctx.cache.publish(
            keys.STREAM_TRIGGERS,
            {
                "user_id": str(body.user_id),
                "execution_id": execution_id,
                "reason": body.reason,
                "time": now.isoformat(),
            },
        )
    except Exception:
        ctx.cache.release_lock(lock, execution_id)
        raise
    ctx.cache.set(keys.QUICKFILTER_LAST_ANALYSIS, f"{now.timestamp():.3f}")
    ctx.cache.set(keys.QUICKFILTER_LAST_REASON, body.reason, keys.QUICKFILTER_TTL_S)
    request.state.audit = {"execution_id": execution_id, "reason": body.reason}
    out = TriggerResponse(status="queued", execution_id=execution_id, stream_id=stream_id)
    return JSONResponse(out.model_dump(), status_code=202)
