"""Settings of every AXIS process: one pydantic-settings model.

Sources, strongest first: keyword arguments (tests, the CLI), ``AXIS_*`` environment
variables (``AXIS_DATABASE_URL``, ``AXIS_REDIS_URL``, ``AXIS_VAULT_ADDR`` ...), the YAML file
named by ``AXIS_CONFIG_FILE`` (keys are the field names), then the defaults below. The defaults
are the embedded platform of DESIGN.md §5: a SQLite file in the user's data folder, the
in-process cache and bus, a local secrets file, Fernet at rest.

Secrets do not live here: the JWT signing key, the Fernet keys and exchange keys come from the
secrets provider (:mod:`axis.security.secrets`). The credentials accepted as settings are the
Vault token that reaches that provider and the alert channels (Slack/webhook URLs, the Telegram
bot token, ``AXIS_NOTIFY_*``); they are kept as ``SecretStr`` (never printed).
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

CONFIG_FILE_ENV = "AXIS_CONFIG_FILE"


class VaultAuthMethod(StrEnum):
    TOKEN = "token"  # AXIS_VAULT_TOKEN
    KUBERNETES = "kubernetes"  # service-account token + role


class EncryptionBackend(StrEnum):
    AUTO = "auto"  # Vault transit when Vault is configured, else Fernet
    FERNET = "fernet"
    VAULT_TRANSIT = "vault-transit"


def default_data_dir() -> Path:
    return Path(user_data_dir("axis", appauthor=False))


class AxisSettings(BaseSettings):
    """Everything a process needs to find its database, cache, secrets and peers."""

    model_config = SettingsConfigDict(
        env_prefix="AXIS_",
        extra="ignore",
        frozen=True,
        validate_default=True,
        hide_input_in_errors=True,  # an invalid secret must not be echoed in the error
    )

    # -- where things live -------------------------------------------------------------------
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; a SQLite file in data_dir when unset"
    )
    database_pool_size: int = Field(10, ge=1, le=200)
    redis_url: str | None = Field(None, description="redis://...; in-process cache when unset")
    cache_prefix: str = Field("", max_length=64, description="prefix of every cache/bus key")
    stream_maxlen: int = Field(100_000, ge=100, description="approximate length cap per stream")

    # -- secrets and encryption ---------------------------------------------------------------
    secrets_file: Path | None = Field(None, description="local secrets file (JSON, mode 0600)")
    vault_addr: str | None = None
    vault_token: SecretStr | None = None
    vault_auth: VaultAuthMethod = VaultAuthMethod.TOKEN
    vault_role: str = "axis-api"
    vault_auth_path: str = Field("kubernetes", description="mount path of the Kubernetes auth")
    vault_kubernetes_token_path: Path = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
    vault_kv_mount: str = "secret"
    vault_kv_prefix: str = "axis"
    vault_transit_mount: str = "transit"
    vault_transit_key: str = "axis-exchange-keys"
    encryption: EncryptionBackend = EncryptionBackend.AUTO

    # -- authentication -----------------------------------------------------------------------
    access_token_ttl_s: int = Field(900, ge=30, le=86_400)
    refresh_token_ttl_s: int = Field(14 * 86_400, ge=300)
    jwt_issuer: str = "axis"
    password_time_cost: int = Field(3, ge=1, le=20)
    password_memory_kib: int = Field(65_536, ge=1024)
    password_parallelism: int = Field(4, ge=1, le=16)
    totp_issuer: str = "AXIS"
    allow_registration: bool = True

    # -- limits -------------------------------------------------------------------------------
    open_position_limit_per_minute: int = Field(10, ge=1, description="per user (seed §8.2)")
    requests_per_minute_per_ip: int = Field(1200, ge=1, description="global per-IP limit")
    trusted_proxies: list[str] = Field(
        default_factory=list, description="peers whose X-Forwarded-For is believed"
    )

    # -- market data and execution ------------------------------------------------------------
    default_exchange: str = "binance"
    market_collect_period_s: int = Field(300, ge=1, description="collection period (seed: 5m)")
    summary_collect_period_s: int = Field(1800, ge=1, description="summaries (seed: 30m)")
    max_price_age_s: int = Field(900, ge=1, description="older stored prices refuse new risk")
    paper_bundled_prices: bool = Field(
        True, description="paper-fill on the bundled sample's last price when nothing newer"
    )
    paper_slippage: float = Field(0.0005, ge=0, lt=0.1)
    paper_initial_balance: float = Field(10_000.0, gt=0)
    backtest_workers: int = Field(1, ge=1, le=16)

    # -- alert notifications (axis.notify) ---------------------------------------------------
    # The webhook URLs and the bot token are credentials: whoever has them can post as AXIS.
    notify_slack_webhook_url: SecretStr | None = Field(None, description="Slack incoming webhook")
    notify_telegram_bot_token: SecretStr | None = None
    notify_telegram_chat_id: str | None = Field(None, max_length=64)
    notify_telegram_api_url: str = "https://api.telegram.org"
    notify_webhook_url: SecretStr | None = Field(None, description="generic JSON webhook")
    notify_min_severity: str = Field("warning", description="warning or critical")
    notify_timeout_s: float = Field(5.0, gt=0, le=60)
    notify_attempts: int = Field(3, ge=1, le=10)
    notify_max_wait_s: float = Field(10.0, ge=0, le=300, description="cap on a retry wait")
    notify_dedup_window_s: float = Field(300.0, ge=0, description="repeats held back this long")
    notify_max_per_minute: int = Field(20, ge=1, le=1000)

    # -- serving ------------------------------------------------------------------------------
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65_535)
    log_level: str = "info"
    log_json: bool = True

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.lower()
        if level not in ("debug", "info", "warning", "error", "critical"):
            raise ValueError("log_level must be debug, info, warning, error or critical")
        return level

    @field_validator("database_url", "redis_url", "vault_addr", "notify_telegram_chat_id")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("notify_slack_webhook_url", "notify_telegram_bot_token", "notify_webhook_url")
    @classmethod
    def _blank_secret_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value() else None

    @field_validator("notify_slack_webhook_url", "notify_webhook_url")
    @classmethod
    def _http_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")  # the value itself is not echoed
        return value

    @field_validator("notify_min_severity")
    @classmethod
    def _severity(cls, value: str) -> str:
        if value not in ("warning", "critical"):
            raise ValueError("notify_min_severity must be warning or critical")
        return value

    @model_validator(mode="after")
    def _vault_needs_credentials(self) -> AxisSettings:
        if self.vault_addr and self.vault_auth is VaultAuthMethod.TOKEN and not self.vault_token:
            raise ValueError("vault_addr is set with token auth but vault_token is missing")
        if self.encryption is EncryptionBackend.VAULT_TRANSIT and not self.vault_addr:
            raise ValueError("encryption vault-transit needs vault_addr")
        if (self.notify_telegram_bot_token is None) != (self.notify_telegram_chat_id is None):
            raise ValueError("notify_telegram_bot_token and notify_telegram_chat_id go together")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise ValueError(f"{CONFIG_FILE_ENV}={config_file}: no such file")
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)

    # -- derived ------------------------------------------------------------------------------
    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'axis.db'}"

    @property
    def resolved_secrets_file(self) -> Path:
        return self.secrets_file or self.data_dir / "secrets.json"

    @property
    def market_ttl_s(self) -> int:
        """Seed §3.3: real-time data lives collection period × 1.2."""
        return int(self.market_collect_period_s * 1.2)

    @property
    def summary_ttl_s(self) -> int:
        """Seed §3.3: summaries live collection period × 1.5."""
        return int(self.summary_collect_period_s * 1.5)

    def public_dict(self) -> dict[str, Any]:
        """The settings without credentials, for logs and ``axis api --show-settings``."""
        data = self.model_dump(mode="json")
        for key in (
            "vault_token",
            "notify_slack_webhook_url",
            "notify_telegram_bot_token",
            "notify_webhook_url",
        ):
            data[key] = "***" if getattr(self, key) else None
        for key in ("database_url", "redis_url"):
            data[key] = _mask_url_password(data[key])
        return data


def _mask_url_password(url: str | None) -> str | None:
    if not url or "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url


def load_settings(**overrides: Any) -> AxisSettings:
    return AxisSettings(**overrides)
