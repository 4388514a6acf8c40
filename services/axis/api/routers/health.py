"""Liveness, readiness and Prometheus metrics (outside /api/v2, no authentication)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from axis.api.auth import Context
from axis.api.schemas import Health
from axis.observability.metrics import render
from axis.store.cache import CacheUnavailable

router = APIRouter(tags=["health"])


@router.get("/healthz", name="healthz", response_model=Health)
def healthz() -> Health:
    """The process answers."""
    return Health(status="ok")


@router.get("/readyz", name="readyz", response_model=Health, responses={503: {"model": Health}})
def readyz(ctx: Context) -> JSONResponse:
    """Ready when the database answers at the current schema. A cache outage degrades (reads
    go to the database) but does not make the API unready."""
    checks: dict[str, str] = {}
    ready = True
    try:
        ctx.db.ping()
        checks["database"] = "ok" if ctx.db.is_current() else "schema not migrated"
        ready = checks["database"] == "ok"
    except Exception as exc:
        checks["database"] = f"unreachable ({type(exc).__name__})"
        ready = False
    try:
        ctx.cache.ping()
        checks["cache"] = f"ok ({ctx.cache.backend})"
    except CacheUnavailable:
        checks["cache"] = "degraded: unreachable, falling back to the database"
    body = Health(status="ready" if ready else "unready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get(
    "/metrics",
    name="metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
def prometheus_metrics() -> Response:
    body, content_type = render()
    return Response(body, media_type=content_type)
