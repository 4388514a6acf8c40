"""AXIS ML platform: trading environments, models, evaluation, MLflow registry and serving.

Heavy dependencies (torch, gymnasium, stable-baselines3, MLflow, Ray) come with the ``ml`` and
``serve`` extras and are imported by the modules that need them, never at package import: the
core's strategies import :mod:`axis_ml.serving` on an install without those extras.
"""
