"""Real local MLflow (SQLite in a temp dir) and one real local Ray + Serve for the session.

Without the ml/serve extras these tests skip on a developer's machine; under CI=true they
fail instead.
"""

from __future__ import annotations

import importlib.util
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

CI = os.environ.get("CI", "").lower() == "true"


def need(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        message = f"needs {', '.join(missing)} (install the ml and serve extras)"
        if CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    need("mlflow", "torch", "stable_baselines3")
    folder = tmp_path_factory.mktemp("mlflow")
    saved = {k: os.environ.get(k) for k in ("AXIS_MLFLOW_DIR", "MLFLOW_TRACKING_URI")}
    os.environ["AXIS_MLFLOW_DIR"] = str(folder)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    from axis_ml.registry import configure

    configure()
    yield folder
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def ray_session(mlflow_store: Path) -> Iterator[int]:
    """One local Ray (2 CPUs) with Serve on a free port, shared by every test that needs it."""
    need("ray")
    import ray
    from ray import serve

    from axis_ml.serving.config import ServeSettings, ray_environment

    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{mlflow_store / 'mlflow.db'}"
    os.environ.update(ray_environment(ServeSettings()))  # the default ingress: HAProxy
    port = _free_port()
    try:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": {"MLFLOW_TRACKING_URI": os.environ["MLFLOW_TRACKING_URI"]}},
        )
        serve.start(http_options={"host": "127.0.0.1", "port": port})
    except Exception as exc:  # no Ray runtime on this machine
        if CI:
            raise
        pytest.skip(f"cannot start a local Ray: {exc}")
    yield port
    serve.shutdown()
    ray.shutdown()
