"""The FastAPI application factory.

``create_app(settings)`` builds everything at once (database migrated, cache, security,
services) so the app is usable with or without a lifespan run; the lifespan only configures
logging, recovers interrupted backtest jobs and closes resources at shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from axis import __version__
from axis.api import errors
from axis.api.context import ApiContext, build_context
from axis.api.middleware import RequestMiddleware
from axis.api.routers import (
    auth,
    backtests,
    data,
    decisions,
    health,
    positions,
    strategies,
    trading,
    users,
)
from axis.api.services import Services
from axis.config.settings import AxisSettings
from axis.observability.logging import configure_logging, get_logger

log = get_logger("axis.api")

DESCRIPTION = """\
AXIS REST API: positions through the risk chain, cached market data, the market regime,
portfolios, AI decisions, strategies and backtests. Every route under `/api/v2` except
`/auth/register`, `/auth/login` and `/auth/refresh` needs a Bearer access token and acts on
the caller's own resources only. Errors are `{"success": false, "error": ...}` with the field
at fault (`field`) or the risk rule (`rule`).
"""


def create_app(settings: AxisSettings | None = None, context: ApiContext | None = None) -> FastAPI:
    settings = settings or (context.settings if context else AxisSettings())
    configure_logging(settings.log_level, settings.log_json)
    ctx = context or build_context(settings)
    services = Services.build(ctx)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        interrupted = services.backtests.recover()
        log.info(
            "api_started",
            database=ctx.db.dialect,
            cache=ctx.cache.backend,
            encryption=ctx.security.encryptor.scheme,
            interrupted_backtests=interrupted,
        )
        try:
            yield
        finally:
            services.backtests.shutdown()
            log.info("api_stopped")

    app = FastAPI(
        title="AXIS API",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs",
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.context = ctx
    app.state.services = services
    errors.install(app)
    app.add_middleware(RequestMiddleware)
    app.include_router(health.router)
    for module in (auth, positions, data, users, decisions, trading, strategies, backtests):
        app.include_router(module.router)
    return app
