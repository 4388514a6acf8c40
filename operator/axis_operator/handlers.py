"""The kopf handlers. Each one is small and idempotent: parse the spec, render the children
with the pure functions, apply them (server-side apply, so a rerun changes nothing), and write
status. Everything they need arrives through :func:`register`, so tests wire them to an API
emulator and a fake worker without touching module state."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf
from pydantic import ValidationError

from axis.config.specs import ExchangeConnectorSpec, OnDelete, TradingStrategySpec
from axis_operator import GROUP, VERSION
from axis_operator.health import ProcessClient, ProcessUnreachable
from axis_operator.kube import Kube
from axis_operator.render import Owner, render_connector, render_strategy, spec_hash
from axis_operator.render.strategy import worker_name
from axis_operator.settings import OperatorSettings
from axis_operator.status import (
    ConnectorHealth,
    WorkerReport,
    condition_status,
    connector_status,
    now_iso,
    set_condition,
    strategy_status,
)

STRATEGIES = (GROUP, VERSION, "tradingstrategies")
CONNECTORS = (GROUP, VERSION, "exchangeconnectors")
FINALIZER = f"{GROUP}/drain"


def _error_text(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return f"spec.{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"


def _owner(kind: str, body: kopf.Body) -> Owner:
    meta = body.get("metadata", {})
    return Owner(
        kind=kind,
        name=meta["name"],
        namespace=meta["namespace"],
        uid=meta["uid"],
        generation=int(meta.get("generation") or 1),
    )


def _invalid(patch: kopf.Patch, status: Any, generation: int, message: str) -> kopf.PermanentError:
    conditions = list((status or {}).get("conditions", []))
    now = now_iso()
    conditions = set_condition(conditions, "Ready", False, "InvalidSpec", message, generation, now)
    conditions = set_condition(
        conditions, "Degraded", True, "InvalidSpec", message, generation, now
    )
    patch.status["conditions"] = conditions
    patch.status["phase"] = "Degraded"
    patch.status["message"] = message
    return kopf.PermanentError(message)


def configure_kopf(kopf_settings: kopf.OperatorSettings, peering: str) -> None:
    """Progress and diff-base in annotations (our status schema has no room for kopf's own
    fields) and our finalizer name. Peering is made mandatory by ``kopf.operator`` when it is
    given a peering name (see :func:`axis_operator.main.run`): a second replica must never
    handle objects while the first does."""
    kopf_settings.persistence.finalizer = FINALIZER
    kopf_settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    kopf_settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    kopf_settings.peering.name = peering
    kopf_settings.posting.level = logging.WARNING  # handler logs stay logs; events are explicit
    kopf_settings.watching.server_timeout = 300


def register(registry: kopf.OperatorRegistry, settings: OperatorSettings, kube: Kube) -> None:
    """Register every handler of both kinds on ``registry``."""

    def worker(name: str, namespace: str) -> ProcessClient:
        return ProcessClient(
            settings.worker_base_url(name, namespace), settings.http_timeout_seconds
        )

    def gateway(name: str, namespace: str) -> ProcessClient:
        return ProcessClient(
            settings.gateway_base_url(name, namespace), settings.http_timeout_seconds
        )

    async def apply_all(children: list[dict[str, Any]]) -> None:
        for child in children:
            await asyncio.to_thread(kube.apply, child)

    async def worker_deployment(name: str, namespace: str) -> dict[str, Any] | None:
        return await asyncio.to_thread(
            kube.get, "apps/v1", "Deployment", namespace, worker_name(name)
        )

    @kopf.on.startup(registry=registry)
    def configure(**kwargs: Any) -> None:
        configure_kopf(kwargs["settings"], settings.peering)

    # --- TradingStrategy ----------------------------------------------------------------------

    async def drain_then(
        name: str, namespace: str, flatten: bool
    ) -> tuple[str, dict[str, Any] | None, str | None]:
        """Ask the worker to stop opening risk (and flatten); returns its drain state."""
        client = worker(name, namespace)
        try:
            state = await client.drain_state()
            if state.get("state") == "idle":
                await client.drain(flatten)
                state = await client.drain_state()
            return str(state.get("state")), state, None
        except ProcessUnreachable as exc:
            return "unreachable", None, str(exc)

    def running(deployment: dict[str, Any] | None) -> bool:
        return bool(deployment and (deployment.get("spec") or {}).get("replicas", 0) > 0)

    @kopf.on.resume(*STRATEGIES, registry=registry)
    @kopf.on.create(*STRATEGIES, registry=registry)
    @kopf.on.update(*STRATEGIES, registry=registry, field="spec")
    async def reconcile_strategy(
        body: kopf.Body,
        spec: kopf.Spec,
        status: kopf.Status,
        patch: kopf.Patch,
        runtime: Any,
        logger: kopf.Logger,
        **_: Any,
    ) -> None:
        owner = _owner("TradingStrategy", body)
        try:
            model = TradingStrategySpec.model_validate(dict(spec))
        except ValidationError as exc:
            raise _invalid(patch, status, owner.generation, _error_text(exc)) from None
        now = now_iso()
        conditions = list(status.get("conditions", []))
        if model.paused and running(await worker_deployment(owner.name, owner.namespace)):
            state, _state, error = await drain_then(owner.name, owner.namespace, flatten=False)
            timed_out = runtime.total_seconds() >= model.drain_timeout_seconds
            if state not in ("done", "unreachable") and not timed_out:
                patch.status["phase"] = "Draining"
                patch.status["message"] = "pausing: waiting for the worker to stop opening risk"
                raise kopf.TemporaryError(
                    "worker still draining", delay=settings.drain_poll_seconds
                )
            if state != "done":
                kopf.warn(
                    body,
                    reason="PauseDrainIncomplete",
                    message=f"scaling to zero without a confirmed drain ({error or state})",
                )
        await apply_all(render_strategy(owner, model, settings))
        phase = "Paused" if model.paused else "Starting"
        conditions = set_condition(
            conditions,
            "Progressing",
            not model.paused,
            "Paused" if model.paused else "Rollout",
            "scaled to zero" if model.paused else "worker rolling out",
            owner.generation,
            now,
        )
        if condition_status(conditions, "Ready") is None or model.paused:
            conditions = set_condition(
                conditions,
                "Ready",
                False,
                "Paused" if model.paused else "WorkerNotReady",
                "paused" if model.paused else "worker starting",
                owner.generation,
                now,
            )
        patch.status.update(
            phase=phase,
            observedGeneration=owner.generation,
            specHash=spec_hash(model),
            conditions=conditions,
            message="paused" if model.paused else "worker rolling out",
        )
        logger.info(f"applied the children of {owner.namespace}/{owner.name}")

    @kopf.on.delete(*STRATEGIES, registry=registry)
    async def drain_strategy(
        body: kopf.Body,
        spec: kopf.Spec,
        status: kopf.Status,
        patch: kopf.Patch,
        runtime: Any,
        logger: kopf.Logger,
        **_: Any,
    ) -> None:
        owner = _owner("TradingStrategy", body)
        try:
            model = TradingStrategySpec.model_validate(dict(spec))
        except ValidationError:
            return  # never ran: nothing to drain
        deployment = await worker_deployment(owner.name, owner.namespace)
        if not running(deployment):
            return
        flatten = model.on_delete is OnDelete.FLATTEN
        state, drain, error = await drain_then(owner.name, owner.namespace, flatten)
        available = ((deployment or {}).get("status") or {}).get("availableReplicas", 0)
        if state == "done":
            kopf.event(
                body,
                type="Normal",
                reason="Drained",
                message=f"worker drained ({'flattened' if flatten else 'positions kept'}; "
                f"{(drain or {}).get('openPositions', 0)} open positions)",
            )
            return
        if state == "unreachable" and not available:
            kopf.event(
                body, type="Normal", reason="WorkerNotRunning", message=f"nothing to drain: {error}"
            )
            return
        if runtime.total_seconds() >= model.drain_timeout_seconds:
            message = (
                f"worker did not confirm the drain within {model.drain_timeout_seconds}s "
                f"({error or state}); deleting anyway — its shutdown keeps protective stops"
            )
            kopf.warn(body, reason="DrainTimeout", message=message)
            conditions = set_condition(
                list(status.get("conditions", [])),
                "Degraded",
                True,
                "DrainTimeout",
                message,
                owner.generation,
                now_iso(),
            )
            patch.status.update(conditions=conditions, phase="Degraded", message=message)
            logger.warning(message)
            return
        patch.status["phase"] = "Draining"
        patch.status["message"] = f"deleting: waiting for the worker to drain ({error or state})"
        raise kopf.TemporaryError("worker still draining", delay=settings.drain_poll_seconds)

    @kopf.timer(
        *STRATEGIES,
        registry=registry,
        interval=settings.status_interval_seconds,
        initial_delay=min(1.0, settings.status_interval_seconds),
    )
    async def refresh_strategy(
        body: kopf.Body, spec: kopf.Spec, status: kopf.Status, patch: kopf.Patch, **_: Any
    ) -> None:
        owner = _owner("TradingStrategy", body)
        if body.get("metadata", {}).get("deletionTimestamp"):
            return
        try:
            model = TradingStrategySpec.model_validate(dict(spec))
        except ValidationError:
            return
        connectors = []
        for name in model.connectors:
            found = await asyncio.to_thread(
                kube.get, "trading.axis.io/v1alpha1", "ExchangeConnector", owner.namespace, name
            )
            if found is None:
                connectors.append(ConnectorHealth(name, False, "no such ExchangeConnector"))
                continue
            found_status = found.get("status") or {}
            ready = condition_status(found_status.get("conditions", []), "Ready") == "True"
            connectors.append(
                ConnectorHealth(name, ready, str(found_status.get("message") or "not ready yet"))
            )
        report = WorkerReport(connectors=connectors)
        if not model.paused:
            client = worker(owner.name, owner.namespace)
            try:
                report = WorkerReport(
                    status=await client.status(), ready=await client.ready(), connectors=connectors
                )
            except ProcessUnreachable as exc:
                report = WorkerReport(error=str(exc), connectors=connectors)
        patch.status.update(
            strategy_status(
                report,
                paused=model.paused,
                generation=owner.generation,
                conditions=list(status.get("conditions", [])),
                now=now_iso(),
            )
        )

    # --- ExchangeConnector --------------------------------------------------------------------

    @kopf.on.resume(*CONNECTORS, registry=registry)
    @kopf.on.create(*CONNECTORS, registry=registry)
    @kopf.on.update(*CONNECTORS, registry=registry, field="spec")
    async def reconcile_connector(
        body: kopf.Body,
        spec: kopf.Spec,
        status: kopf.Status,
        patch: kopf.Patch,
        logger: kopf.Logger,
        **_: Any,
    ) -> None:
        owner = _owner("ExchangeConnector", body)
        try:
            model = ExchangeConnectorSpec.model_validate(dict(spec))
        except ValidationError as exc:
            raise _invalid(patch, status, owner.generation, _error_text(exc)) from None
        await apply_all(render_connector(owner, model, settings))
        now = now_iso()
        conditions = set_condition(
            list(status.get("conditions", [])),
            "Progressing",
            True,
            "Rollout",
            "gateway rolling out",
            owner.generation,
            now,
        )
        if condition_status(conditions, "Ready") is None:
            conditions = set_condition(
                conditions,
                "Ready",
                False,
                "GatewayNotReady",
                "gateway starting",
                owner.generation,
                now,
            )
        patch.status.update(
            phase=status.get("phase") or "Pending",
            observedGeneration=owner.generation,
            specHash=spec_hash(model),
            conditions=conditions,
        )
        logger.info(f"applied the children of {owner.namespace}/{owner.name}")

    @kopf.timer(
        *CONNECTORS,
        registry=registry,
        interval=settings.status_interval_seconds,
        initial_delay=min(1.0, settings.status_interval_seconds),
    )
    async def refresh_connector(
        body: kopf.Body, status: kopf.Status, patch: kopf.Patch, **_: Any
    ) -> None:
        owner = _owner("ExchangeConnector", body)
        if body.get("metadata", {}).get("deletionTimestamp"):
            return
        client = gateway(owner.name, owner.namespace)
        try:
            gateway_status, ready, error = await client.status(), await client.ready(), None
        except ProcessUnreachable as exc:
            gateway_status, ready, error = None, False, str(exc)
        patch.status.update(
            connector_status(
                gateway_status,
                ready,
                error,
                generation=owner.generation,
                conditions=list(status.get("conditions", [])),
                now=now_iso(),
            )
        )
