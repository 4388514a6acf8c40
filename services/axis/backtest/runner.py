"""Run a backtest from a :class:`BacktestConfig`: resolve strategy, data and instrument,
check the settings, run the engine (event-driven or vectorised) and assemble the result."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ValidationError

from axis.backtest.metrics import compute_metrics
from axis.backtest.result import BacktestResult
from axis.config import BacktestConfig, ConfigError, EngineChoice
from axis.data import Bars, DataError, FundingRates, load_bars, load_funding, resample
from axis.data.sample import find_sample, sample_bars, sample_funding, spot_proxy
from axis.domain.catalog import instrument_for
from axis.domain.enums import MarketType
from axis.domain.instrument import Instrument, InstrumentError
from axis.engine.engine import Engine
from axis.risk.limits import RiskLimits, limits_for
from axis.strategies import Strategy, StrategyNotFound, resolve_strategy
from axis.venues.simulated import SimulationSettings

DEFAULT_SYMBOL = "BTC/USDT"
DEFAULT_TIMEFRAME = "5m"

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Market:
    """The data one backtest runs on."""

    instrument: Instrument
    bars: Bars
    mark: Bars | None
    funding: FundingRates | None
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Prepared:
    config: BacktestConfig
    strategy_cls: type[Strategy]
    strategy_params: Any
    market: Market
    limits: RiskLimits
    settings: SimulationSettings


def build_strategy(config: BacktestConfig) -> tuple[type[Strategy], Any]:
    try:
        cls = resolve_strategy(config.strategy)
    except StrategyNotFound as exc:
        raise ConfigError(str(exc)) from None
    try:
        params = cls.Params(**config.params)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "params"
        known = ", ".join(cls.Params.model_fields) or "none"
        raise ConfigError(
            f"strategy {cls.name!r} parameter {where}: {first['msg']} (parameters: {known})"
        ) from None
    return cls, params


def _instrument_symbol(symbol: str, strategy_cls: type[Strategy]) -> str:
    """A perpetual strategy given a spot symbol trades that pair's USDT-settled perpetual."""
    if strategy_cls.market_type is MarketType.LINEAR_PERPETUAL and ":" not in symbol:
        quote = symbol.split("/")[1] if "/" in symbol else "USDT"
        return f"{symbol}:{quote}"
    return symbol


def load_market(
    config: BacktestConfig, strategy_cls: type[Strategy], bars: Bars | None = None
) -> Market:
    """The bars (given, from ``config.data`` or a bundled sample), mark, funding, instrument."""
    notes: list[str] = []
    start, end = config.window_ms()
    from_sample = bars is None and config.data is None
    if bars is not None:
        symbol = _instrument_symbol(config.symbol or bars.symbol, strategy_cls)
    elif config.data is not None:
        bars = load_bars(config.data, symbol=config.symbol, timeframe=config.timeframe)
        symbol = _instrument_symbol(config.symbol or bars.symbol, strategy_cls)
    else:
        requested = config.symbol or DEFAULT_SYMBOL
        timeframe = config.timeframe or DEFAULT_TIMEFRAME
        symbol = _instrument_symbol(requested, strategy_cls)
        if find_sample(symbol, timeframe) is not None:
            bars = sample_bars(symbol, timeframe)
        else:
            proxy = spot_proxy(symbol)
            bars = sample_bars(proxy, timeframe)
            if proxy != symbol:
                notes.append(f"{symbol} simulated on the bundled {proxy} spot candles")
    mark = _load_mark(config, symbol, bars, from_sample)
    funding = _load_funding(config, symbol, from_sample)
    bars = bars.between(start, end)
    if len(bars) < 2:
        raise ConfigError("the selected period holds fewer than two bars")
    if mark is not None:
        mark = align_mark(bars, mark)
    if funding is not None:
        funding = funding.between(start, end)
    first_close = float(bars.close[0])
    try:
        instrument = instrument_for(
            symbol, config.exchange, fee_model=config.fee_model, reference_price=first_close
        )
    except InstrumentError as exc:
        raise ConfigError(str(exc)) from None
    return Market(instrument, bars, mark, funding, tuple(notes))


def _load_mark(config: BacktestConfig, symbol: str, bars: Bars, from_sample: bool) -> Bars | None:
    if config.mark_data is not None:
        return load_bars(config.mark_data, symbol=symbol)
    if ":" in symbol and from_sample:
        path = find_sample(symbol, bars.timeframe, "mark")
        if path is not None:
            return sample_bars(symbol, bars.timeframe, "mark")
    return None


def _load_funding(config: BacktestConfig, symbol: str, from_sample: bool) -> FundingRates | None:
    if config.funding_data is not None:
        return load_funding(config.funding_data, symbol=symbol)
    if ":" in symbol and from_sample:
        try:
            return sample_funding(symbol)
        except DataError:
            return None
    return None


def align_mark(bars: Bars, mark: Bars) -> Bars:
    """The mark series on the bars' timestamps: a finer mark series is resampled; bars without
    a mark bar take their own prices. A coarser one cannot say what happened inside a bar."""
    if mark.timeframe_ms > bars.timeframe_ms:
        raise ConfigError(
            f"the mark-price series ({mark.timeframe}) is coarser than the bars "
            f"({bars.timeframe}); give a mark series at {bars.timeframe} or finer"
        )
    if mark.timeframe_ms < bars.timeframe_ms:
        mark = resample(mark, bars.timeframe)
    pos = np.searchsorted(mark.timestamp, bars.timestamp)
    pos = np.minimum(pos, len(mark) - 1)
    found = mark.timestamp[pos] == bars.timestamp
    if not found.any():
        raise ConfigError("the mark-price series does not overlap the bars")

    def pick(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.where(found, theirs[pos], mine))

    return Bars(
        bars.symbol,
        bars.timeframe,
        bars.timestamp,
        pick(bars.open, mark.open),
        pick(bars.high, mark.high),
        pick(bars.low, mark.low),
        pick(bars.close, mark.close),
        np.zeros(len(bars)),
    )


def prepare(config: BacktestConfig, bars: Bars | None = None) -> Prepared:
    """Resolve and check everything before any simulation starts. ``bars`` replaces the
    configured data source (benchmarks and tests build series in memory)."""
    strategy_cls, params = build_strategy(config)
    market = load_market(config, strategy_cls, bars)
    instrument = market.instrument
    limits = limits_for(config.risk_profile)
    if not instrument.is_perpetual and config.leverage != 1:
        raise ConfigError(
            f"leverage {config.leverage:g}x: {instrument.symbol} is spot and trades at 1x; "
            f"use a perpetual symbol such as {instrument.symbol}:{instrument.quote}"
        )
    if instrument.is_perpetual:
        top = instrument.brackets[0].max_leverage
        if config.leverage > top:
            raise ConfigError(
                f"leverage {config.leverage:g}x is above {instrument.exchange.value}'s maximum "
                f"{top:g}x for {instrument.symbol}"
            )
        if config.leverage > limits.max_leverage:
            raise ConfigError(
                f"leverage {config.leverage:g}x is above the {config.risk_profile.value} risk "
                f"profile's {limits.max_leverage:g}x; lower it or choose another --risk-profile"
            )
    settings = SimulationSettings(
        slippage=config.slippage,
        participation_cap=config.participation_cap,
        latency_bars=config.latency_bars,
        latency_ms=config.latency_ms,
        funding_rate=config.funding_rate,
    )
    return Prepared(config, strategy_cls, params, market, limits, settings)


def vectorizable(prepared: Prepared) -> str | None:
    """Why the vectorised kernel cannot run this backtest, or None when it can."""
    strategy = prepared.strategy_cls(prepared.strategy_params)
    if type(strategy).on_bar is not Strategy.on_bar:
        return "the strategy has its own on_bar"
    if type(strategy).signals is Strategy.signals:
        return "the strategy has no vectorised signals"
    if prepared.settings.participation_cap > 0:
        return "a volume participation cap needs the event engine"
    if prepared.settings.latency_ms > 0:
        return "latency in milliseconds needs the event engine"
    return None


def run_backtest(
    config: BacktestConfig, progress: Progress | None = None, bars: Bars | None = None
) -> BacktestResult:
    prepared = prepare(config, bars)
    choice = config.engine
    reason = vectorizable(prepared)
    if choice is EngineChoice.VECTORIZED and reason is not None:
        raise ConfigError(f"--engine vectorized: {reason}")
    if choice is EngineChoice.AUTO:
        choice = EngineChoice.EVENT if reason is not None else EngineChoice.VECTORIZED
    if choice is EngineChoice.VECTORIZED:
        from axis.backtest.vectorized import run_vectorized

        outcome = run_vectorized(prepared)
    else:
        outcome = run_event(prepared, progress)
    return assemble(prepared, outcome, choice)


@dataclass(slots=True)
class Outcome:
    """What either execution path hands back."""

    equity: np.ndarray
    exposure: np.ndarray
    trades: list[Any]
    fees_paid: float
    funding_paid: float
    liquidations: int
    events: list[dict[str, Any]]
    orders: int
    fills: list[tuple[int, int, float, float, float, str]]  # ts, side, qty, price, fee, reason


def run_event(prepared: Prepared, progress: Progress | None = None) -> Outcome:
    market, config = prepared.market, prepared.config
    strategy = prepared.strategy_cls(prepared.strategy_params)
    engine = Engine(
        strategy,
        market.instrument,
        market.bars,
        initial_balance=config.capital,
        leverage=config.leverage,
        limits=prepared.limits,
        margin_mode=config.margin_mode,
        order_prefix=order_prefix(config),
        settings=prepared.settings,
        mark=market.mark,
        funding=market.funding,
    )
    engine.run(progress=progress)
    portfolio = engine.portfolio
    vetoes = [
        {"type": "risk_" + d.action.value, "order": oid, "rule": d.rule, "reason": d.reason}
        for oid, d in engine.oms.decisions
    ]
    return Outcome(
        engine.curve.equity,
        engine.curve.exposure,
        engine.trades.trades,
        portfolio.fees_paid,
        portfolio.funding_paid,
        engine.liquidations,
        engine.events + vetoes,
        len(engine.oms.orders),
        [(f.timestamp, f.side.sign, f.quantity, f.price, f.fee, o.tag) for o, f in engine.fills],
    )


def order_prefix(config: BacktestConfig) -> str:
    """A short, stable client-order-id prefix for a run: strategy and seed."""
    name = config.strategy.replace(":", "-").replace(".", "-")[-16:]
    return f"bt-{name}-{config.seed}"


def assemble(prepared: Prepared, outcome: Outcome, choice: EngineChoice) -> BacktestResult:
    market, config = prepared.market, prepared.config
    bars = market.bars
    metrics = compute_metrics(
        bars.timestamp,
        outcome.equity,
        outcome.trades,
        initial_capital=config.capital,
        fees_paid=outcome.fees_paid,
        funding_paid=outcome.funding_paid,
        liquidations=outcome.liquidations,
        exposure=outcome.exposure,
    )
    summary = config.summary()
    summary.update(
        {
            "strategy": prepared.strategy_cls.name or config.strategy,
            "params": prepared.strategy_params.model_dump(mode="json"),
            "symbol": market.instrument.symbol,
            "timeframe": bars.timeframe,
            "bars": len(bars),
            "start": int(bars.timestamp[0]),
            "end": int(bars.timestamp[-1]),
            "engine": choice.value,
            "maker_fee": market.instrument.maker_fee,
            "taker_fee": market.instrument.taker_fee,
            "notes": list(market.notes),
            "orders": outcome.orders,
        }
    )
    if math.isfinite(outcome.equity[-1]) is False:
        raise RuntimeError("equity curve is not finite")
    return BacktestResult(
        summary,
        metrics,
        outcome.trades,
        bars.timestamp,
        outcome.equity,
        bars.close,
        outcome.events,
    )
