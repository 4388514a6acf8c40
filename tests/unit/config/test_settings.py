"""One settings model: AXIS_ environment variables over an optional YAML file over defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from axis.config.settings import AxisSettings


def test_defaults_are_the_embedded_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AXIS_CONFIG_FILE", raising=False)
    settings = AxisSettings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'axis.db'}"
    assert settings.redis_url is None
    assert settings.market_ttl_s == 360
    assert settings.summary_ttl_s == 2700
    assert settings.open_position_limit_per_minute == 10


def test_environment_beats_yaml_beats_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "axis.yaml"
    config.write_text("redis_url: redis://from-yaml:6379/0\napi_port: 9000\nlog_level: debug\n")
    monkeypatch.setenv("AXIS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AXIS_DATABASE_URL", "postgresql://u:pw@db/axis")
    monkeypatch.setenv("AXIS_API_PORT", "9100")
    settings = AxisSettings()
    assert settings.database_url == "postgresql://u:pw@db/axis"
    assert settings.redis_url == "redis://from-yaml:6379/0"
    assert settings.api_port == 9100
    assert settings.log_level == "debug"
    assert settings.public_dict()["database_url"] == "postgresql://u:***@db/axis"


def test_bad_settings_name_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AXIS_API_PORT", "99999")
    with pytest.raises(ValidationError, match="api_port"):
        AxisSettings(data_dir=tmp_path)
    monkeypatch.delenv("AXIS_API_PORT")
    with pytest.raises(ValidationError, match="vault_token"):
        AxisSettings(data_dir=tmp_path, vault_addr="http://vault:8200")
    monkeypatch.setenv("AXIS_CONFIG_FILE", str(tmp_path / "missing.yaml"))
    with pytest.raises(ValueError, match="no such file"):
        AxisSettings(data_dir=tmp_path)
