"""The worker's HTTP endpoints (the process contract the operator relies on), over a
:class:`~axis.worker.status.WorkerControl`:

- ``GET /healthz`` — 200 while the worker's process loop is alive (503 once it died);
- ``GET /readyz`` — 200 when ``status().ready``, else 503;
- ``GET /status`` — ``status().to_json()``;
- ``GET /drain`` — ``{"state", "openPositions"}``; ``POST /drain {"flatten": bool}`` → 202;
- ``GET /metrics`` — the Prometheus text of the process registry.

:func:`serve` runs the app with uvicorn inside the worker's own event loop, on 0.0.0.0 and
``AXIS_PORT`` (8080 by default), leaving SIGINT/SIGTERM to the worker: it decides how to drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable, Generator
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StrictBool

from axis.observability.logging import get_logger
from axis.observability.metrics import render
from axis.worker.status import WorkerControl, WorkerStatus

log = get_logger("axis.worker.http")

DEFAULT_PORT = 8080


class DrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flatten: StrictBool = False


def _drain_body(status: WorkerStatus) -> dict[str, Any]:
    return {"state": status.drain.value, "openPositions": len(status.positions)}


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "flatten") → "flatten": the client only sent a body, name what is in it.
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "body"


def create_app(worker: WorkerControl, alive: Callable[[], bool] = lambda: True) -> FastAPI:
    """The endpoints of one worker. ``alive`` says whether its process loop still runs."""
    app = FastAPI(title="axis worker", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field(e.get("loc", ())), "message": str(e.get("msg", "invalid"))}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        return JSONResponse(
            {
                "error": f"{first['field']}: {first['message']}",
                "field": first["field"],
                "errors": errors,
            },
            status_code=422,
        )

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        ok = alive()
        return JSONResponse({"alive": ok}, status_code=200 if ok else 503)

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        status = worker.status()
        return JSONResponse(
            {"ready": status.ready, "phase": status.phase.value},
            status_code=200 if status.ready else 503,
        )

    @app.get("/status")
    async def status() -> dict[str, Any]:
        return worker.status().to_json()

    @app.get("/drain")
    async def drain_state() -> dict[str, Any]:
        return _drain_body(worker.status())

    @app.post("/drain", status_code=202)
    async def drain(request: DrainRequest | None = None) -> dict[str, Any]:
        flatten = request.flatten if request is not None else False
        log.warning("drain_requested", flatten=flatten)
        worker.request_drain(flatten)
        return _drain_body(worker.status())

    @app.get("/metrics")
    async def metrics() -> Response:
        text, content_type = render()
        return Response(text, media_type=content_type)

    return app


def port_from_env() -> int:
    """``AXIS_PORT`` or 8080; a bad value is a configuration error naming the variable."""
    raw = os.environ.get("AXIS_PORT", "").strip()
    if not raw:
        return DEFAULT_PORT
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        raise ValueError(f"AXIS_PORT: expected a port number 0-65535, got {raw!r}")
    return int(raw)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The worker owns SIGINT/SIGTERM (drain first, then stop the server): uvicorn must not.
        yield


class EndpointServer:
    """A uvicorn server running as a task of the current event loop."""

    def __init__(self, server: uvicorn.Server, task: asyncio.Task[None]) -> None:
        self._server = server
        self._task = task

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        sockets = self._server.servers[0].sockets
        return int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def _listen(host: str, port: int) -> socket.socket:
    # Bound here, not by uvicorn: uvicorn turns a bind error into SystemExit, which would tear
    # down the worker's event loop instead of failing this call.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


ALL_INTERFACES = "0.0.0.0"  # the kubelet's probes and Prometheus reach the pod from outside


async def serve(
    app: FastAPI, port: int | None = None, host: str = ALL_INTERFACES
) -> EndpointServer:
    """Start serving ``app`` in this event loop; returns once the socket listens.

    Raises ``OSError`` (naming host and port) when the port cannot be bound."""
    sock = _listen(host, port_from_env() if port is None else port)
    config = uvicorn.Config(
        app,
        log_config=None,  # our structlog setup owns logging
        access_log=False,
        lifespan="off",
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="worker-http")
    while not server.started:
        if task.done():
            task.result()  # surfaces the startup error
            raise OSError("the endpoint server stopped during startup")
        await asyncio.sleep(0.005)
    endpoints = EndpointServer(server, task)
    log.info("worker_endpoints_listening", host=host, port=endpoints.port)
    return endpoints
