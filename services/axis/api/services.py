"""The request-scoped handles routers depend on (resolved from the app's state)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from axis.api.backtests import BacktestRunner
from axis.api.context import ApiContext
from axis.api.execution import TradingService
from axis.api.market import MarketService
from axis.api.portfolio import PortfolioService


@dataclass(frozen=True, slots=True)
class Services:
    ctx: ApiContext
    market: MarketService
    trading: TradingService
    portfolio: PortfolioService
    backtests: BacktestRunner

    @classmethod
    def build(cls, ctx: ApiContext) -> Services:
        market = MarketService(ctx)
        return cls(
            ctx,
            market,
            TradingService(ctx, market),
            PortfolioService(ctx, market),
            BacktestRunner(ctx, ctx.settings.backtest_workers),
        )


async def get_services(request: Request) -> Services:
    return request.app.state.services


Svc = Annotated[Services, Depends(get_services)]
