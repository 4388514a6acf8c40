"""Structured logs: structlog, JSON lines, a request id on every line of a request.

``configure_logging()`` sets structlog (and the standard library's root logger, so uvicorn and
SQLAlchemy lines come out the same way) once per process. Values under keys that look like
credentials are replaced before rendering: a secret never reaches a log line even when a
caller passes one by mistake.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

REDACTED = "***"
_SECRET_KEY = re.compile(
    r"(pass(word)?|secret|token|api_?key|authorization|totp|otp|cookie|private|credential)",
    re.IGNORECASE,
)


def redact_secrets(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    for key in list(event):
        if key != "event" and _SECRET_KEY.search(key):
            event[key] = REDACTED
    return event


_configured: dict[str, Any] = {}


def _stderr_logger(*_args: Any) -> structlog.PrintLogger:
    """A logger on the ``sys.stderr`` of the moment: whoever swaps stderr (a test's capture,
    a daemon's redirect) is followed, never a stream closed since configuration."""
    return structlog.PrintLogger(sys.stderr)


class _StderrHandler(logging.StreamHandler):
    """The standard library's lines to the ``sys.stderr`` of the moment (as above)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        return None


def configure_logging(level: str = "info", json: bool = True) -> None:
    """Idempotent: the last call wins, repeated calls with the same settings do nothing."""
    wanted = {"level": level, "json": json}
    if _configured == wanted:
        return
    numeric = getattr(logging, level.upper(), logging.INFO)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    # Access lines duplicate the request log below; keep uvicorn's off.
    logging.getLogger("uvicorn.access").handlers = []
    logging.getLogger("uvicorn.access").propagate = False
    _configured.clear()
    _configured.update(wanted)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name) if name else structlog.get_logger()


def bind_request(request_id: str, **fields: Any) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id, **fields)


def bind(**fields: Any) -> None:
    structlog.contextvars.bind_contextvars(**fields)


def clear_request() -> None:
    structlog.contextvars.clear_contextvars()
