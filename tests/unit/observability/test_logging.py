"""Structured logs: JSON lines, request ids, secrets never rendered."""

from __future__ import annotations

import json

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
