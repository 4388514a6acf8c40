"""Specs: the pydantic models every process reads (CLI, API, worker, CRDs)."""

from axis.config.backtest import BacktestConfig, ConfigError, EngineChoice

__all__ = ["BacktestConfig", "ConfigError", "EngineChoice"]
