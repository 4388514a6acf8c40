"""Serving AXIS models: one :class:`ModelClient` for strategies and the worker (Ray Serve
over HTTP when configured, in-process MLflow inference otherwise), and the Ray Serve
applications (:mod:`axis_ml.serving.apps`, imported only where Ray is installed)."""

from axis_ml.serving.client import FALLBACKS, ModelClient

__all__ = ["FALLBACKS", "ModelClient"]
