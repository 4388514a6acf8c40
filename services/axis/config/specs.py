"""The platform's two resource specs: a trading strategy and an exchange connector.

These pydantic models are the schema (DESIGN.md §1.4). The worker (``axis trade --config``)
and the gateway (``axis gateway --config``) read them from YAML, the API validates request
bodies with them, and the CRDs ``TradingStrategy`` and ``ExchangeConnector`` in ``crds/`` are
generated from them. Field names are camelCase on the wire (YAML, JSON, Kubernetes) and
snake_case in Python; both spellings are accepted on input.

Every rule that spans fields is a validator here, so a bad spec is refused with the field at
fault wherever it enters; the CRD generator mirrors each one as a CEL rule.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Self, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from axis.config.backtest import ConfigError
from axis.data.bars import TIMEFRAMES
from axis.domain.enums import Exchange, MarginMode, MarketType
from axis.risk.limits import RiskLimits, RiskProfile, limits_for

# ccxt unified symbols: BASE/QUOTE for spot, BASE/QUOTE:SETTLE for perpetuals.
SYMBOL_PATTERN = r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}(:[A-Z0-9]{1,20})?$"
# A Kubernetes object name (RFC 1123 label): what connectors are called in a cluster.
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
# Kubernetes resource quantities, e.g. 250m, 1, 512Mi, 2Gi.
QUANTITY_PATTERN = r"^([0-9]+(\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$"
HOST_PATTERN = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"
# A container image reference: [registry/]repository[:tag][@digest].
IMAGE_PATTERN = r"^[a-z0-9][a-z0-9._/:-]{0,254}(@sha256:[a-f0-9]{64})?$"


class SpecModel(BaseModel):
    """Base of every spec model: camelCase on the wire, unknown fields refused, immutable."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        use_enum_values=False,
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON/YAML form: camelCase keys, enum values, defaults kept, unset options out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class StrategyMode(StrEnum):
    PAPER = "paper"  # simulated venue on live or replayed data
    LIVE = "live"  # real orders through the connectors


class FailoverPolicy(StrEnum):
    """What a worker does when its current venue's circuit breaker opens."""

    HALT = "halt"  # stop opening risk and alert
    MIRROR = "mirror"  # re-establish the same net exposure on the next venue
    FLATTEN_AND_MOVE = "flatten-and-move"  # close on the failing venue, reopen on the next


class OnDelete(StrEnum):
    """What deleting a TradingStrategy does to its open positions."""

    FLATTEN = "flatten"
    KEEP = "keep"


class DataSource(StrEnum):
    LIVE = "live"  # closed bars from the exchange (websocket or polling)
    REPLAY = "replay"  # a stored history (bundled sample or a file), on an accelerated clock


class ModelRole(StrEnum):
    REGIME = "regime"
    FORECAST = "forecast"
    POLICY = "policy"
    SENTIMENT = "sentiment"


class Resources(SpecModel):
    """Kubernetes container resources of the process that runs the spec."""

    cpu_request: str = Field("100m", pattern=QUANTITY_PATTERN)
    cpu_limit: str = Field("1", pattern=QUANTITY_PATTERN)
    memory_request: str = Field("256Mi", pattern=QUANTITY_PATTERN)
    memory_limit: str = Field("1Gi", pattern=QUANTITY_PATTERN)


class RiskSpec(SpecModel):
    """A named risk profile, optionally tightened or loosened field by field, plus the
    protective orders placed with every entry."""

    profile: RiskProfile = RiskProfile.BALANCED
    max_leverage: float | None = Field(None, gt=0, le=125)
    min_liquidation_distance: float | None = Field(None, ge=0, lt=1)
    max_position_notional: float | None = Field(None, gt=0)
    max_total_notional: float | None = Field(None, gt=0)
    max_open_orders: int | None = Field(None, ge=1)
    daily_loss_limit: float | None = Field(None, gt=0, le=1)
    max_drawdown: float | None = Field(None, gt=0, le=1)
    stop_loss: float | None = Field(
        None, gt=0, lt=1, description="stop-loss distance from the entry, as a fraction"
    )
    take_profit: float | None = Field(
        None, gt=0, le=10, description="take-profit distance from the entry, as a fraction"
    )

    @model_validator(mode="after")
    def _stop_below_target(self) -> Self:
        if (
            self.stop_loss is not None
            and self.take_profit is not None
            and self.stop_loss >= self.take_profit
        ):
            raise ValueError("stopLoss must be below takeProfit")
        return self

    def limits(self) -> RiskLimits:
        """The profile's limits with this spec's overrides applied."""
        overrides = {
            name: value
            for name in RiskLimits.model_fields
            if (value := getattr(self, name, None)) is not None
        }
        return limits_for(self.profile).model_copy(update=overrides)


class ModelRef(SpecModel):
    """A model the strategy uses, by MLflow registered name and alias."""

    name: str = Field(min_length=1, max_length=200)
    alias: str = Field("champion", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    role: ModelRole = ModelRole.REGIME

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@{self.alias}"


class DataSpec(SpecModel):
    """Where a worker's bars come from."""

    source: DataSource = DataSource.LIVE
    path: str | None = Field(None, description="history file to replay; bundled sample if unset")
    speed: float = Field(
        0.0, ge=0, description="replay speed-up over real time; 0 replays as fast as possible"
    )

    @model_validator(mode="after")
    def _path_only_for_replay(self) -> Self:
        if self.path is not None and self.source is not DataSource.REPLAY:
            raise ValueError("path is only used with source: replay")
        return self


class TradingStrategySpec(SpecModel):
    """One strategy running on one worker: what it trades, how, where and within which limits."""

    strategy: str = Field(
        min_length=1, max_length=200, description="built-in name or module:Class import path"
    )
    params: dict[str, Any] = Field(default_factory=dict)
    mode: StrategyMode = StrategyMode.PAPER
    symbols: list[str] = Field(min_length=1, max_length=50)
    timeframe: str = "5m"
    capital: float = Field(10_000.0, gt=0, description="capital in the settle currency")
    leverage: float = Field(1.0, ge=1, le=125)
    margin_mode: MarginMode = MarginMode.ISOLATED
    risk: RiskSpec = Field(default_factory=RiskSpec)
    connectors: list[str] = Field(
        default_factory=list, max_length=8, description="ExchangeConnector names, failover order"
    )
    failover: FailoverPolicy = FailoverPolicy.HALT
    data: DataSpec = Field(default_factory=DataSpec)
    models: list[ModelRef] = Field(default_factory=list, max_length=16)
    paused: bool = False
    on_delete: OnDelete = OnDelete.FLATTEN
    drain_timeout_seconds: int = Field(
        300,
        ge=10,
        le=3600,
        description="how long deletion waits for the worker to stop opening risk (and flatten)",
    )
    image: str | None = Field(
        None, pattern=IMAGE_PATTERN, description="worker image; the operator's image if unset"
    )
    resources: Resources = Field(default_factory=Resources)

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, symbols: list[str]) -> list[str]:
        for symbol in symbols:
            if not re.match(SYMBOL_PATTERN, symbol):
                raise ValueError(f"{symbol!r} is not a ccxt symbol such as BTC/USDT:USDT")
        if len(set(symbols)) != len(symbols):
            raise ValueError("symbols must not repeat")
        return symbols

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, timeframe: str) -> str:
        if timeframe not in TIMEFRAMES:
            raise ValueError(f"unknown timeframe {timeframe!r}; use one of {', '.join(TIMEFRAMES)}")
        return timeframe

    @field_validator("connectors")
    @classmethod
    def _connectors(cls, names: list[str]) -> list[str]:
        for name in names:
            if not re.match(NAME_PATTERN, name):
                raise ValueError(f"{name!r} is not a valid connector name")
        if len(set(names)) != len(names):
            raise ValueError("connectors must not repeat")
        return names

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Self:
        if self.mode is StrategyMode.LIVE and not self.connectors:
            raise ValueError("live mode needs at least one connector")
        if self.mode is StrategyMode.LIVE and self.data.source is DataSource.REPLAY:
            raise ValueError("live mode trades live data; replay is for paper mode")
        max_leverage = self.risk.limits().max_leverage
        if self.leverage > max_leverage:
            raise ValueError(
                f"leverage {self.leverage:g} is above the risk profile's maximum {max_leverage:g}"
            )
        return self

    def limits(self) -> RiskLimits:
        return self.risk.limits()


class VaultAuth(StrEnum):
    AGENT = "agent"  # Vault Agent injector renders the keys into the pod
    KUBERNETES = "kubernetes"  # the gateway logs in with its service account token


class VaultCredentials(SpecModel):
    path: str = Field(
        pattern=r"^[A-Za-z0-9_./-]{1,256}$", description="KV v2 path, e.g. axis/binance-main"
    )
    mount: str = Field("secret", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    auth: VaultAuth = VaultAuth.KUBERNETES
    role: str = Field("axis-gateway", pattern=r"^[A-Za-z0-9_-]{1,64}$")


class SecretRef(SpecModel):
    """A Kubernetes Secret holding the keys."""

    name: str = Field(pattern=NAME_PATTERN)
    api_key_key: str = "apiKey"
    secret_key: str = "secret"
    password_key: str | None = Field(None, description="OKX passphrase key, where one is used")


class FileCredentials(SpecModel):
    """Keys from a local secrets file or the environment (one machine, no cluster)."""

    profile: str = Field("default", pattern=r"^[A-Za-z0-9_-]{1,64}$")


class Credentials(SpecModel):
    """Exactly one source of the account's API keys."""

    vault: VaultCredentials | None = None
    secret_ref: SecretRef | None = None
    local: FileCredentials | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = [s for s in (self.vault, self.secret_ref, self.local) if s is not None]
        if len(given) != 1:
            raise ValueError("credentials need exactly one of vault, secretRef or local")
        return self


class MeshSpec(SpecModel):
    """Istio settings for the connector's egress to the exchange. ``enabled`` unset follows the
    operator's setting."""

    enabled: bool | None = None
    request_timeout_seconds: float = Field(10.0, gt=0, le=120)
    max_connections: int = Field(100, ge=1, le=10_000)
    consecutive_errors: int = Field(5, ge=1, le=100, description="outlier ejection threshold")


class ExchangeConnectorSpec(SpecModel):
    """One exchange account, served by one gateway process."""

    exchange: Exchange
    market_type: MarketType = MarketType.LINEAR_PERPETUAL
    sandbox: bool = Field(False, description="use the exchange's testnet / demo trading")
    credentials: Credentials = Field(
        default_factory=lambda: Credentials(local=FileCredentials()),
    )
    rate_limit_share: float = Field(
        1.0, gt=0, le=1, description="share of the account's request weight this gateway uses"
    )
    alternate_hosts: list[str] = Field(default_factory=list, max_length=8)
    mesh: MeshSpec = Field(default_factory=MeshSpec)
    image: str | None = Field(
        None, pattern=IMAGE_PATTERN, description="gateway image; the operator's image if unset"
    )
    resources: Resources = Field(default_factory=Resources)

    @field_validator("alternate_hosts")
    @classmethod
    def _hosts(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            if not re.match(HOST_PATTERN, host) or "." not in host:
                raise ValueError(f"{host!r} is not a host name such as api1.binance.com")
        return hosts


M = TypeVar("M", bound=SpecModel)


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "spec"
    return f"{where}: {first['msg']}"


def load_spec(model: type[M], path: Path) -> M:
    """Read a spec from a YAML file: either the bare spec or a Kubernetes resource whose
    ``spec`` holds it. Raises :class:`ConfigError` naming the file and the field at fault."""
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping of spec fields")
    if "apiVersion" in document and "spec" in document:
        document = document["spec"]
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_first_error(exc)}") from None
