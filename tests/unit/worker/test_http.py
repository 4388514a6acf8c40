"""The worker endpoints: the process contract, checked over the app and against the operator's
own client on a real socket."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from axis.worker.http import create_app, port_from_env, serve
from axis.worker.status import DrainState, WorkerPhase, WorkerStatus
from axis_operator.health import ProcessClient

if TYPE_CHECKING:
    from conftest import FakeWorker  # the fixture's type (tests/unit/worker/conftest.py)


def test_healthz_follows_the_process_loop(fake_worker: FakeWorker) -> None:
    loop_alive = [True]
    client = TestClient(create_app(fake_worker, alive=lambda: loop_alive[0]))
    assert client.get("/healthz").status_code == 200
    loop_alive[0] = False
    assert client.get("/healthz").status_code == 503


def test_readyz_is_200_only_while_running(
    fake_worker: FakeWorker, status_factory: Callable[..., WorkerStatus]
) -> None:
    client = TestClient(create_app(fake_worker))
    assert client.get("/readyz").status_code == 200
    for phase in (WorkerPhase.STARTING, WorkerPhase.HALTED, WorkerPhase.DRAINING):
        fake_worker.current = status_factory(phase=phase)
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["phase"] == phase.value


def test_status_is_the_contract_json(fake_worker: FakeWorker) -> None:
    body = TestClient(create_app(fake_worker)).get("/status").json()
    assert body == fake_worker.current.to_json()
    assert body["phase"] == "Running"
    assert body["tradingState"] == "active"
    assert body["openPositions"] == 1
    assert body["lastDecisionAt"].startswith("2024-03-01T11:55:01")
    assert body["venues"] == [{"name": "simulated", "healthy": True}]


def test_drain_is_accepted_and_reported(fake_worker: FakeWorker) -> None:
    client = TestClient(create_app(fake_worker))
    assert client.get("/drain").json() == {"state": "idle", "openPositions": 1}
    response = client.post("/drain", json={"flatten": False})
    assert response.status_code == 202
    assert response.json() == {"state": "draining", "openPositions": 1}
    assert client.post("/drain", json={"flatten": True}).status_code == 202
    assert fake_worker.drains == [False, True]
    assert client.get("/drain").json() == {"state": "done", "openPositions": 0}


@pytest.mark.parametrize(
    ("body", "field"),
    [({"flatten": "yes"}, "flatten"), ({"flatten": 1}, "flatten"), ({"flaten": True}, "flaten")],
)
def test_a_bad_drain_body_is_422_naming_the_field_and_drains_nothing(
    fake_worker: FakeWorker, body: dict[str, object], field: str
) -> None:
    response = TestClient(create_app(fake_worker)).post("/drain", json=body)
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert response.json()["error"].startswith(f"{field}: ")
    assert fake_worker.drains == []
    assert fake_worker.current.drain is DrainState.IDLE


def test_metrics_are_prometheus_text(fake_worker: FakeWorker) -> None:
    import axis.worker.scheduler  # noqa: F401  registers the job metrics

    response = TestClient(create_app(fake_worker)).get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE axis_job_runs_total counter" in response.text


def test_axis_port_is_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AXIS_PORT", raising=False)
    assert port_from_env() == 8080
    monkeypatch.setenv("AXIS_PORT", "9191")
    assert port_from_env() == 9191
    monkeypatch.setenv("AXIS_PORT", "http")
    with pytest.raises(ValueError, match="AXIS_PORT"):
        port_from_env()


def test_the_operator_client_agrees_with_the_endpoints(
    fake_worker: FakeWorker, status_factory: Callable[..., WorkerStatus]
) -> None:
    async def main() -> None:
        server = await serve(create_app(fake_worker), port=0, host="127.0.0.1")
        try:
            client = ProcessClient(f"http://127.0.0.1:{server.port}", timeout=5)
            status = await client.status()
            assert status["phase"] == "Running"
            assert status["mode"] == "paper"
            assert status["openPositions"] == 1
            assert await client.ready() is True
            assert await client.drain_state() == {"state": "idle", "openPositions": 1}
            await client.drain(flatten=True)
            assert fake_worker.drains == [True]
            assert await client.drain_state() == {"state": "done", "openPositions": 0}
            assert await client.ready() is False  # draining is not ready
            fake_worker.current = replace(status_factory(), phase=WorkerPhase.STOPPED)
            assert (await client.status())["phase"] == "Stopped"
        finally:
            await server.stop()

    asyncio.run(main())


def test_a_taken_port_is_an_oserror_not_an_exit(fake_worker: FakeWorker) -> None:
    async def main() -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
                await serve(create_app(fake_worker), port=port, host="127.0.0.1")

    asyncio.run(main())
