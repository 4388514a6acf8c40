"""AXIS machine learning: trading environments, models, MLflow registry and Ray Serve apps.

Filled by the ML platform issue; the package exists now so the layout is fixed from the start.
"""
