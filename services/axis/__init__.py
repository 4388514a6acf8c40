"""AXIS: a platform for AI-driven crypto trading strategies (spot and perpetual futures)."""

__version__ = "0.1.0"
