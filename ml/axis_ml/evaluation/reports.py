"""Plots and reports of evaluations, written to disk and logged to the active MLflow run."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def new_figure(width: float, height: float) -> tuple[Any, Any]:
    """A (figure, axes) pair on the non-interactive backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def save_figure(fig: Any, path: Path) -> Path:
    """Lay out, write as PNG and close ``fig``."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def equity_figure(curves: dict[str, np.ndarray], path: Path, title: str) -> Path:
    fig, ax = new_figure(9, 4)
    for name, curve in curves.items():
        ax.plot(np.asarray(curve), label=name, linewidth=1.0)
    ax.set_title(title)
    ax.set_xlabel("bar")
    ax.set_ylabel("equity")
    ax.legend(loc="best")
    return save_figure(fig, path)


def log_equity_plot(curves: dict[str, np.ndarray], name: str, title: str) -> None:
    """Save an equity chart and log it to the active MLflow run."""
    import mlflow

    with tempfile.TemporaryDirectory() as folder:
        mlflow.log_artifact(str(equity_figure(curves, Path(folder) / name, title)))


def write_report(report: dict[str, Any], curves: dict[str, np.ndarray], out: Path) -> Path:
    """``report.json`` and ``equity.png`` in ``out``; also logged when a run is active."""
    import mlflow

    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True, default=float))
    equity_figure(curves, out / "equity.png", "out-of-sample equity")
    if mlflow.active_run() is not None:
        mlflow.log_artifacts(str(out), "evaluation")
    return out / "report.json"
