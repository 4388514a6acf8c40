"""Suite-wide settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI explores the same examples on every run, so a red build is reproducible; a developer's
# run keeps searching new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI", "").lower() == "true" else "dev")

SHARED_CRD_SCHEMAS = Path(__file__).resolve().parents[1].parent / "shared" / "schemas" / "crds"


@pytest.fixture(scope="session")
def third_party_schemas() -> Path:
    """Istio, KubeRay, Argo CD and Prometheus Operator CRD schemas from ../shared (a checkout
    without them skips locally and fails in CI)."""
    if not SHARED_CRD_SCHEMAS.is_dir():
        message = f"third-party CRD schemas not found at {SHARED_CRD_SCHEMAS}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_CRD_SCHEMAS
