"""Ray Serve applications for the regime classifier, the forecaster and the RL policy.

Each loads ``models:/NAME@champion`` (or any MLflow URI) in its replicas. Requests are
batched with ``@serve.batch``; the forecaster multiplexes per-symbol models by model id
(header ``serve_multiplexed_model_id`` = a registered model name, loaded at its alias).
Replica resources (``num_cpus``, ``num_gpus``) and autoscaling come from the Serve config
file (:mod:`axis_ml.serving.config`), which the chart's RayService embeds.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from ray import serve
from starlette.requests import Request


def _configure() -> None:
    from axis_ml.registry.tracking import configure

    configure(os.environ.get("MLFLOW_TRACKING_URI"))


def _price_arrays(body: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(high, low, close) of a regime request: ``{"high": [...], "low": [...], "close":
    [...]}``, or the older ``{"bars": {column: [...]}}``."""
    columns = body.get("bars", body)
    return (
        np.asarray(columns["high"], dtype=np.float64),
        np.asarray(columns["low"], dtype=np.float64),
        np.asarray(columns["close"], dtype=np.float64),
    )


@serve.deployment
class RegimeService:
    """The regime classifier, held in the replica; a request carries the price arrays and
    gets the last bar's regime. No frames on the way: the classifier's array path."""

    def __init__(self, model_uri: str) -> None:
        from axis_ml.registry.tracking import load_predictor

        _configure()
        self.classifier = load_predictor(model_uri)

    # Concurrent requests are classified together; a lone request does not wait.
    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.0)
    async def classify(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self.classifier.classify_arrays(*_price_arrays(b)).to_dict() for b in requests]

    async def __call__(self, request: Request) -> dict[str, Any]:
        return await self.classify(await request.json())


@serve.deployment
class PolicyService:
    def __init__(self, model_uri: str) -> None:
        from axis_ml.registry.tracking import load_predictor, model_metadata

        _configure()
        self.policy = load_predictor(model_uri)
        self.metadata = model_metadata(model_uri)

    # Concurrent requests share one forward pass; a lone request does not wait.
    @serve.batch(max_batch_size=256, batch_wait_timeout_s=0.0)
    async def act(self, rows: list[np.ndarray]) -> list[list[float]]:
        sizes = [len(r) for r in rows]
        actions = np.asarray(self.policy.act(np.vstack(rows)), dtype=float)
        out, k = [], 0
        for size in sizes:
            out.append(actions[k : k + size].tolist())
            k += size
        return out

    async def __call__(self, request: Request) -> dict[str, Any]:
        if request.method == "GET":
            return self.metadata
        body = await request.json()
        rows = np.asarray(body["observations"], dtype=np.float32)
        return {"actions": await self.act(rows)}


@serve.deployment
class ForecastService:
    def __init__(self, default_model: str, alias: str = "champion") -> None:
        _configure()
        self.default_model = default_model
        self.alias = alias

    @serve.multiplexed(max_num_models_per_replica=8)
    async def get_model(self, model_id: str) -> Any:
        from axis_ml.registry.tracking import load_model

        uri = model_id if model_id.startswith("models:/") else f"models:/{model_id}@{self.alias}"
        return load_model(uri)

    async def __call__(self, request: Request) -> dict[str, Any]:
        model_id = serve.get_multiplexed_model_id() or self.default_model
        model = await self.get_model(model_id)
        if request.method == "GET":
            return dict(model.metadata.metadata or {})
        body = await request.json()
        rows = np.asarray(body["features"], dtype=np.float32)
        # The forecaster inside the pyfunc, called on the array (inputs are built here).
        forecaster = model.unwrap_python_model().predictor
        return {"probability_up": np.asarray(forecaster.probability_up(rows)).tolist()}


def regime_app(args: dict[str, Any]) -> Any:
    return RegimeService.bind(  # type: ignore[attr-defined]
        args["model_uri"]
    )


def policy_app(args: dict[str, Any]) -> Any:
    return PolicyService.bind(  # type: ignore[attr-defined]
        args["model_uri"]
    )


def forecast_app(args: dict[str, Any]) -> Any:
    return ForecastService.bind(  # type: ignore[attr-defined]
        args["default_model"], args.get("alias", "champion")
    )
