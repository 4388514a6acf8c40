"""Recording training jobs: a small protocol the platform's store implements, and a local
JSON-lines implementation for one machine."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol


@dataclass(slots=True)
class TrainingJob:
    """One training job: what was trained, how it went and where MLflow keeps it."""

    kind: str  # rl, forecast, regime, volatility, sentiment
    model_name: str
    params: dict[str, Any]
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    status: str = "running"  # running, succeeded, failed
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    finished_at: str | None = None
    mlflow_run_id: str | None = None
    model_version: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None


class TrainingJobRecorder(Protocol):
    """Where training jobs are recorded (the store's training-jobs table implements this)."""

    def started(self, job: TrainingJob) -> None: ...

    def finished(self, job: TrainingJob) -> None: ...


@contextmanager
def recorded(job: TrainingJob, recorder: TrainingJobRecorder | None) -> Iterator[TrainingJob]:
    """Record ``job`` around a training run: started, then succeeded, or failed with the
    error (which propagates)."""
    if recorder is not None:
        recorder.started(job)
    try:
        yield job
        job.status = "succeeded"
    except Exception as exc:
        job.status, job.error = "failed", str(exc)
        raise
    finally:
        if recorder is not None:
            recorder.finished(job)


class JsonlJobRecorder:
    """Appends each job event as one JSON line; :meth:`jobs` folds them to the latest state."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _append(self, job: TrainingJob) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(job), sort_keys=True) + "\n")

    def started(self, job: TrainingJob) -> None:
        self._append(job)

    def finished(self, job: TrainingJob) -> None:
        job.finished_at = datetime.now(UTC).isoformat()
        self._append(job)

    def jobs(self) -> list[TrainingJob]:
        if not self.path.exists():
            return []
        latest: dict[str, TrainingJob] = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                data = json.loads(line)
                latest[data["job_id"]] = TrainingJob(**data)
        return list(latest.values())
