"""Start the operator: load the cluster credentials, register the handlers, run kopf."""

from __future__ import annotations

import asyncio
import random
import threading

import kopf
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from axis_operator.handlers import register
from axis_operator.kube import Kube
from axis_operator.settings import OperatorSettings


def cluster_api_client() -> k8s.ApiClient:
    """In-cluster service-account credentials, else the local kubeconfig."""
    try:
        k8s_config.load_incluster_config()
    except k8s_config.ConfigException:
        k8s_config.load_kube_config()
    return k8s.ApiClient()


def build_registry(
    settings: OperatorSettings, kube: Kube, *, cluster_login: bool = True
) -> kopf.OperatorRegistry:
    """The handlers, plus (unless the caller brings its own) kopf's login through the official
    client's configuration: the same credentials the children are applied with."""
    registry = kopf.OperatorRegistry()
    register(registry, settings, kube)
    if cluster_login:
        kopf.on.login(registry=registry)(kopf.login_via_client)
    return registry


def run(
    settings: OperatorSettings,
    *,
    standalone: bool = False,
    liveness: str | None = "http://0.0.0.0:8081/healthz",
    stop_flag: threading.Event | None = None,
) -> None:
    """Block running the operator until it is stopped (SIGTERM/SIGINT or ``stop_flag``)."""
    registry = build_registry(settings, Kube(cluster_api_client()))
    asyncio.run(
        kopf.operator(
            registry=registry,
            standalone=standalone,
            clusterwide=not settings.namespaces,
            namespaces=list(settings.namespaces),
            peering_name=None if standalone else settings.peering,
            # An HA pair: the replica with the higher priority works, the other stands by.
            priority=random.randint(1, 1_000_000),
            liveness_endpoint=liveness,
            stop_flag=stop_flag,
        )
    )
