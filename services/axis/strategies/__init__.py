"""The Strategy API and the built-in strategies."""

from axis.strategies.base import BarView, Signals, Strategy, StrategyParams
from axis.strategies.registry import BUILTIN, StrategyNotFound, resolve_strategy

__all__ = [
    "BUILTIN",
    "BarView",
    "Signals",
    "Strategy",
    "StrategyNotFound",
    "StrategyParams",
    "resolve_strategy",
]
