"""Backtest jobs: submit (runs in the background), follow, fetch the result and the report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import ValidationError

from axis.api.auth import Context, CurrentUser
from axis.api.context import ApiContext
from axis.api.errors import ApiError
from axis.api.schemas import API_PREFIX, BacktestOut, BacktestRequest, error_responses
from axis.api.services import Svc
from axis.config import BacktestConfig, ConfigError
from axis.data import DataError
from axis.domain.instrument import InstrumentError
from axis.store.jobs import BacktestRepository
from axis.store.models import BacktestJob

router = APIRouter(prefix=f"{API_PREFIX}/backtests", tags=["backtests"])

BacktestId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def backtest_out(row: BacktestJob) -> BacktestOut:
    return BacktestOut(
        backtest_id=row.id,
        status=row.status,
        config=row.config,
        metrics=row.metrics,
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def _config(body: BacktestRequest) -> BacktestConfig:
    """The core's BacktestConfig, checked the way the CLI checks it before anything runs."""
    from axis.backtest.runner import prepare

    try:
        config = BacktestConfig(**body.model_dump())
        prepare(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "body." + ".".join(str(p) for p in first["loc"])
        raise ApiError(422, f"{field}: {first['msg']}", field=field) from None
    except (ConfigError, DataError, InstrumentError) as exc:
        message = " ".join(str(exc).split())
        raise ApiError(422, f"body: {message}", field="body") from None
    return config


def _owned(ctx: ApiContext, user_id: int, backtest_id: int) -> BacktestJob:
    with ctx.db.session() as session:
        row = BacktestRepository(session).get(backtest_id)
        if row is None:
            raise ApiError(404, "backtest not found")
        if row.user_id != user_id:
            raise ApiError(403, "not your resource")
        return row


@router.post(
    "",
    name="backtests.submit",
    status_code=202,
    response_model=BacktestOut,
    responses=error_responses(401, 422, 429),
)
def submit(
    body: BacktestRequest, request: Request, services: Svc, user: CurrentUser
) -> JSONResponse:
    """Queue a backtest of a built-in strategy on the bundled real data."""
    config = _config(body)
    with services.ctx.db.session() as session:
        job = BacktestRepository(session).create(user.user_id, config.summary())
        out = backtest_out(job)
    services.backtests.submit(out.backtest_id, config)
    request.state.audit = {"backtest_id": out.backtest_id, "strategy": body.strategy}
    return JSONResponse(out.model_dump(mode="json"), status_code=202)


@router.get(
    "", name="backtests.list", response_model=list[BacktestOut], responses=error_responses(401)
)
def list_backtests(ctx: Context, user: CurrentUser) -> list[BacktestOut]:
    with ctx.db.session() as session:
        return [backtest_out(r) for r in BacktestRepository(session).for_user(user.user_id)]


@router.get(
    "/{backtest_id}",
    name="backtests.get",
    response_model=BacktestOut,
    responses=error_responses(401, 403, 404, 422),
)
def get_backtest(backtest_id: BacktestId, ctx: Context, user: CurrentUser) -> BacktestOut:
    return backtest_out(_owned(ctx, user.user_id, backtest_id))


def _finished(row: BacktestJob) -> None:
    if row.status != "succeeded":
        raise ApiError(409, f"backtest is {row.status}", details={"reason": row.error})


@router.get(
    "/{backtest_id}/result",
    name="backtests.result",
    responses=error_responses(401, 403, 404, 409, 422),
)
def get_result(backtest_id: BacktestId, ctx: Context, user: CurrentUser) -> dict[str, Any]:
    """``result.json``: config, metrics, trades, events and the equity curve."""
    row = _owned(ctx, user.user_id, backtest_id)
    _finished(row)
    return row.result or {}


@router.get(
    "/{backtest_id}/report",
    name="backtests.report",
    response_class=Response,
    responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
        **error_responses(401, 403, 404, 409, 422),
    },
)
def get_report(backtest_id: BacktestId, ctx: Context, user: CurrentUser) -> Response:
    """The self-contained HTML report (charts, monthly returns, trades)."""
    row = _owned(ctx, user.user_id, backtest_id)
    _finished(row)
    return HTMLResponse(row.report_html or "")
