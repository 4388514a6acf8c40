"""Structured logs: JSON lines, request ids, secrets never rendered."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from axis.observability.logging import bind_request, clear_request, configure_logging, get_logger


def test_json_lines_carry_the_request_id_and_hide_secrets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", json=True)
    bind_request("req-123", path="/x")
    get_logger("t").info(
        "position_opened", user_id=1, password="hunter2", api_key="AK", totp_code="123456"
    )
    clear_request()
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["event"] == "position_opened"
    assert record["request_id"] == "req-123"
    assert record["user_id"] == 1
    assert record["password"] == record["api_key"] == record["totp_code"] == "***"
    assert "hunter2" not in line


def test_lines_follow_a_swapped_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stream swapped in after configuration (a test's capture, a redirect) gets the lines;
    one swapped out and closed is never written to again."""
    configure_logging("info", json=True)
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    get_logger("t").info("to_first")
    first.close()
    monkeypatch.setattr(sys, "stderr", second)
    get_logger("t").info("to_second")
    logging.getLogger("stdlib.lib").warning("stdlib_line")
    assert "to_second" in second.getvalue()
    assert "stdlib_line" in second.getvalue()
