"""Harness for running the operator: kmock's Kubernetes API emulator on its own event loop in a
background thread, a small real HTTP server playing the workers and gateways, and the operator
under ``kopf.testing.KopfRunner`` pointed at both."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import kmock
import kopf
import pytest
import requests
from kopf.testing import KopfRunner
from kubernetes import client as k8s

from axis_operator.kube import PLURALS, Kube
from axis_operator.main import build_registry
from axis_operator.settings import OperatorSettings

NAMESPACE = "trading"


class Cluster:
    """kmock's emulator served on 127.0.0.1; the test talks to it over HTTP like kubectl."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.url = ""
        self.emulator: kmock.KubernetesEmulator | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("kmock did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
            self.emulator = emulator
            info = kmock.ResourceInfo
            emulator.resources["apiextensions.k8s.io/v1/customresourcedefinitions"] = info(
                kind="CustomResourceDefinition",
                namespaced=False,
                verbs={"list", "watch", "get"},
            )
            emulator.resources["v1/namespaces"] = info(
                kind="Namespace", namespaced=False, verbs={"list", "watch", "get"}
            )
            for (api_version, kind), plural in PLURALS.items():
                custom = api_version.startswith("trading.axis.io")
                emulator.resources[f"{api_version}/{plural}"] = info(
                    kind=kind,
                    namespaced=True,
                    verbs={"list", "watch", "get", "create", "patch", "update", "delete"},
                    subresources={"status"} if custom else set(),
                )
            self.url = str(server.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()

    def close(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    # --- kubectl-like helpers ------------------------------------------------------------------

    def path(self, api_version: str, kind: str, name: str | None = None) -> str:
        prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        path = f"{self.url}{prefix}/namespaces/{NAMESPACE}/{PLURALS[(api_version, kind)]}"
        return f"{path}/{name}" if name else path

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj = json.loads(json.dumps(obj))
        obj["metadata"].setdefault("namespace", NAMESPACE)
        obj["metadata"].setdefault("uid", f"uid-{obj['metadata']['name']}")
        obj["metadata"].setdefault("generation", 1)
        obj["metadata"].setdefault("resourceVersion", "1")  # kopf patches with a test on it
        response = requests.post(self.path(obj["apiVersion"], obj["kind"]), json=obj, timeout=5)
        response.raise_for_status()
        return dict(response.json())

    def patch(self, api_version: str, kind: str, name: str, body: dict[str, Any]) -> None:
        response = requests.patch(
            self.path(api_version, kind, name),
            json=body,
            timeout=5,
            headers={"Content-Type": "application/merge-patch+json"},
        )
        response.raise_for_status()

    def delete(self, api_version: str, kind: str, name: str) -> None:
        requests.delete(self.path(api_version, kind, name), timeout=5).raise_for_status()

    def get(self, api_version: str, kind: str, name: str) -> dict[str, Any] | None:
        response = requests.get(self.path(api_version, kind, name), timeout=5)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return dict(response.json())

    def list(self, api_version: str, kind: str) -> list[dict[str, Any]]:
        response = requests.get(self.path(api_version, kind), timeout=5)
        response.raise_for_status()
        return list(response.json()["items"])

    def requests_made(self, method: str, path_part: str) -> int:
        assert self.emulator is not None
        return sum(
            1
            for request in list(self.emulator._requests)  # kmock keeps every request it served
            if request.method.value.upper() == method and path_part in str(request.url)
        )


@dataclass
class FakeProcess:
    """What one fake worker or gateway answers."""

    status: dict[str, Any] = field(default_factory=dict)
    ready: bool = True
    drain: str = "idle"
    finish_drain: bool = True  # a POST /drain completes at once, or never
    drain_requests: list[dict[str, Any]] = field(default_factory=list)


class FakeProcesses:
    """A real HTTP server answering ``/<kind>/<namespace>/<name>/{status,readyz,drain}``."""

    def __init__(self) -> None:
        self.processes: dict[str, FakeProcess] = {}
        fakes = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def _reply(self, code: int, body: Any = None) -> None:
                data = json.dumps(body if body is not None else {}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _process(self) -> tuple[FakeProcess | None, str]:
                key, _, endpoint = self.path.rpartition("/")
                return fakes.processes.get(key), endpoint

            def do_GET(self) -> None:
                process, endpoint = self._process()
                if process is None:
                    self._reply(503, {"error": "not running"})
                elif endpoint == "status":
                    self._reply(200, process.status)
                elif endpoint == "readyz":
                    self._reply(200 if process.ready else 503, {"ready": process.ready})
                elif endpoint == "drain":
                    positions = process.status.get("openPositions", 0)
                    self._reply(200, {"state": process.drain, "openPositions": positions})
                else:
                    self._reply(404)

            def do_POST(self) -> None:
                process, endpoint = self._process()
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if process is None or endpoint != "drain":
                    self._reply(404)
                    return
                process.drain_requests.append(body)
                process.drain = "done" if process.finish_drain else "draining"
                if process.finish_drain and body.get("flatten"):
                    process.status["openPositions"] = 0
                self._reply(202, {"state": process.drain})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def worker(self, name: str, **kwargs: Any) -> FakeProcess:
        process = FakeProcess(**kwargs)
        self.processes[f"/workers/{NAMESPACE}/{name}"] = process
        return process

    def gateway(self, name: str, **kwargs: Any) -> FakeProcess:
        process = FakeProcess(**kwargs)
        self.processes[f"/gateways/{NAMESPACE}/{name}"] = process
        return process

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    running = Cluster()
    yield running
    running.close()


@pytest.fixture
def fakes() -> Iterator[FakeProcesses]:
    server = FakeProcesses()
    yield server
    server.close()


@pytest.fixture
def operator_settings(fakes: FakeProcesses) -> OperatorSettings:
    return OperatorSettings(
        worker_url=f"{fakes.url}/workers/{{namespace}}/{{name}}",
        gateway_url=f"{fakes.url}/gateways/{{namespace}}/{{name}}",
        status_interval_seconds=0.3,
        drain_poll_seconds=0.2,
        http_timeout_seconds=2.0,
    )


OperatorFactory = Callable[..., KopfRunner]


@pytest.fixture
def start_operator(cluster: Cluster, operator_settings: OperatorSettings) -> OperatorFactory:
    """A fresh operator (new registry, new kopf settings) each call: a restart is two calls."""

    def start(settings: OperatorSettings | None = None) -> KopfRunner:
        api_client = k8s.ApiClient(k8s.Configuration(host=cluster.url))
        registry = build_registry(
            settings or operator_settings, Kube(api_client), cluster_login=False
        )

        @kopf.on.login(registry=registry)
        def login(**_: Any) -> kopf.ConnectionInfo:
            return kopf.ConnectionInfo(server=cluster.url, insecure=True)

        return KopfRunner(
            ["run", "--standalone", "--all-namespaces"],
            registry=registry,
            settings=kopf.OperatorSettings(),
            timeout=30,
        )

    return start


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    """Poll until ``predicate`` returns something truthy; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or predicate} (last: {last!r})")


@pytest.fixture
def wait() -> Callable[..., Any]:
    return wait_for
