"""The Serve config of the AXIS model applications: the file ``serve deploy`` reads, the
chart's RayService embeds (``spec.serveConfigV2``) and ``axis ml serve`` runs locally."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class AppSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="models:/NAME@alias, or a registered name (forecast)")
    num_cpus: float = Field(1.0, ge=0)
    num_gpus: float = Field(0.0, ge=0)
    min_replicas: int = Field(1, ge=0)
    max_replicas: int = Field(2, ge=1)
    target_ongoing_requests: float = Field(8.0, gt=0)


class ServeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "0.0.0.0"
    port: int = Field(8000, ge=1, le=65535)
    ingress: Literal["haproxy", "proxy"] = Field(
        "haproxy",
        description="HTTP ingress: Ray Serve's HAProxy ingress (C, low latency) or its Python "
        "proxy",
    )
    throughput_optimized: bool = Field(
        True, description="Ray Serve's throughput optimisations (direct gRPC data plane)"
    )
    regime: AppSettings | None = None
    policy: AppSettings | None = None
    forecast: AppSettings | None = None


_APPS = {
    "regime": ("axis_ml.serving.apps:regime_app", "RegimeService", "model_uri"),
    "policy": ("axis_ml.serving.apps:policy_app", "PolicyService", "model_uri"),
    "forecast": ("axis_ml.serving.apps:forecast_app", "ForecastService", "default_model"),
}


def serve_config(settings: ServeSettings) -> dict[str, Any]:
    """The Serve config document (Ray's ``serve deploy`` schema)."""
    applications = []
    for name, (import_path, deployment, arg) in _APPS.items():
        app: AppSettings | None = getattr(settings, name)
        if app is None:
            continue
        applications.append(
            {
                "name": name,
                "route_prefix": f"/{name}",
                "import_path": import_path,
                "args": {arg: app.model},
                "deployments": [
                    {
                        "name": deployment,
                        "ray_actor_options": {"num_cpus": app.num_cpus, "num_gpus": app.num_gpus},
                        "autoscaling_config": {
                            "min_replicas": app.min_replicas,
                            "max_replicas": app.max_replicas,
                            "target_ongoing_requests": app.target_ongoing_requests,
                        },
                    }
                ],
            }
        )
    return {
        "proxy_location": "EveryNode",
        "http_options": {"host": settings.host, "port": settings.port},
        "applications": applications,
    }


def ray_environment(settings: ServeSettings) -> dict[str, str]:
    """Environment variables the Ray cluster's processes need for these settings (the
    chart's RayService sets them on its head and worker pods; :func:`run_locally` on the
    local Ray it starts). Ray reads them when its processes start."""
    return {
        "RAY_SERVE_ENABLE_HA_PROXY": "1" if settings.ingress == "haproxy" else "0",
        "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1" if settings.throughput_optimized else "0",
    }


def run_locally(settings: ServeSettings) -> list[str]:
    """Start the configured applications on the local Ray (``ray.init(num_cpus=2)`` with
    :func:`ray_environment` if none is running; a Ray already running keeps the ingress it
    was started with) with the same resources and autoscaling as the config file; returns
    their names. ``serve.shutdown()`` stops them."""
    import ray
    from ray import serve

    from axis_ml.serving import apps

    classes: dict[str, Any] = {
        "regime": apps.RegimeService,
        "policy": apps.PolicyService,
        "forecast": apps.ForecastService,
    }
    if not ray.is_initialized():
        os.environ.update(ray_environment(settings))
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": settings.host, "port": settings.port})
    started = []
    for app in serve_config(settings)["applications"]:
        deployment = app["deployments"][0]
        bound = (
            classes[app["name"]]
            .options(
                ray_actor_options=deployment["ray_actor_options"],
                autoscaling_config=deployment["autoscaling_config"],
            )
            .bind(*app["args"].values())
        )
        serve.run(bound, name=app["name"], route_prefix=app["route_prefix"], blocking=False)
        started.append(app["name"])
    return started
