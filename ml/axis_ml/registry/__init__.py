"""MLflow tracking and model registry for AXIS models.

Tracking goes to ``MLFLOW_TRACKING_URI`` when set (an MLflow server in the cluster), else to
a local SQLite store under ``AXIS_MLFLOW_DIR`` (default ``./mlruns``) with artifacts beside
it. Every model is logged as an MLflow pyfunc (:class:`AxisModel`) with a signature, an input
example, pinned requirements and AXIS metadata (model kind, environment or feature settings),
registered under a name, and promoted by alias (``@champion``, ``@challenger``).

Training jobs are recorded through :class:`TrainingJobRecorder`; the local default appends
JSON lines next to the tracking store, and the platform's database store implements the same
protocol.
"""

from axis_ml.registry.jobs import (
    JsonlJobRecorder,
    TrainingJob,
    TrainingJobRecorder,
    recorded,
)
from axis_ml.registry.tracking import (
    AxisModel,
    configure,
    load_model,
    log_axis_model,
    model_metadata,
    pinned_requirements,
    promote,
    tracking_uri,
)

__all__ = [
    "AxisModel",
    "JsonlJobRecorder",
    "TrainingJob",
    "TrainingJobRecorder",
    "configure",
    "load_model",
    "log_axis_model",
    "model_metadata",
    "pinned_requirements",
    "promote",
    "recorded",
    "tracking_uri",
]
