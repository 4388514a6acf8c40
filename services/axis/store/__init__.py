"""Persistence: SQLAlchemy models and repositories, Alembic migrations, cache and event bus.

``Database(url).upgrade()`` builds the schema from empty (SQLite or PostgreSQL; TimescaleDB
hypertables where the extension exists); repositories wrap a session per concern; the cache
and bus live in :mod:`axis.store.cache`.
"""

from axis.store.accounts import CredentialRepository, RefreshTokenRepository, UserRepository
from axis.store.audit import AuditRepository
from axis.store.db import Database, normalise_url
from axis.store.jobs import BacktestRepository, StrategyRepository
from axis.store.records import (
    DecisionRepository,
    FundingRepository,
    MarketDataRepository,
    MetricsRepository,
    ModelRepository,
    RegimeRepository,
    SnapshotRepository,
    TrainingJobRepository,
)
from axis.store.trading import (
    OrderRepository,
    PositionRepository,
    SqlOrderJournal,
    TradeRepository,
)
from axis.store.venues import VenueEventRecorder, VenueEventRepository

__all__ = [
    "AuditRepository",
    "BacktestRepository",
    "CredentialRepository",
    "Database",
    "DecisionRepository",
    "FundingRepository",
    "MarketDataRepository",
    "MetricsRepository",
    "ModelRepository",
    "OrderRepository",
    "PositionRepository",
    "RefreshTokenRepository",
    "RegimeRepository",
    "SnapshotRepository",
    "SqlOrderJournal",
    "StrategyRepository",
    "TradeRepository",
    "TrainingJobRepository",
    "UserRepository",
    "VenueEventRecorder",
    "VenueEventRepository",
    "normalise_url",
]
