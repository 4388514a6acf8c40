"""Find a strategy by its name or by an import path (``package.module:ClassName``)."""

from __future__ import annotations

import importlib

from axis.strategies.base import Strategy
from axis.strategies.ma_crossover import MaCrossover
from axis.strategies.rsi_reversion import RsiReversion
from axis.strategies.trend_futures import TrendFutures

BUILTIN: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (MaCrossover, RsiReversion, TrendFutures)
}


# Built-ins that live in optional extras, registered whenever they import (rl_policy and
# ml_forecast need the ML package; its heavy libraries load only when it runs).
OPTIONAL: dict[str, str] = {
    "rl_policy": "axis_ml.strategies:RlPolicy",
    "ml_forecast": "axis_ml.strategies:MlForecast",
}


def _register_optional() -> None:
    for name, path in OPTIONAL.items():
        if name in BUILTIN:
            continue
        module_name, _, attr = path.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError):  # not installed, or mid-import right now
            continue
        BUILTIN[name] = cls


class StrategyNotFound(LookupError):
    pass


def resolve_strategy(name: str) -> type[Strategy]:
    """A built-in by name, or any Strategy subclass by ``module:Class`` import path."""
    _register_optional()
    if name in BUILTIN:
        return BUILTIN[name]
    if ":" not in name:
        known = ", ".join(sorted(BUILTIN))
        raise StrategyNotFound(f"unknown strategy {name!r}; built-ins: {known}; or module:Class")
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise StrategyNotFound(f"cannot import strategy module {module_name!r}: {exc}") from exc
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise StrategyNotFound(f"{name!r} is not a Strategy subclass")
    return cls


_register_optional()
