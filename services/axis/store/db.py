"""Engine, sessions and migrations.

``Database(url)`` opens SQLite (a file; WAL and foreign keys on) or PostgreSQL (psycopg 3,
pooled). :meth:`Database.upgrade` runs the Alembic migrations that ship inside this package,
so an installed wheel migrates a fresh database with no checkout around it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from axis.store.models import User

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def normalise_url(url: str) -> str:
    """PostgreSQL URLs without a driver use psycopg 3 (the driver the project installs)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str, pool_size: int = 10) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


class Database:
    """One database: an engine, a session factory and per-user write serialisation."""

    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, pool_size)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._user_locks: dict[int, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` (all migrations by default)."""
        config = alembic_config(self.url)
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def downgrade(self, revision: str = "base") -> None:
        config = alembic_config(self.url)
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, revision)

    def current_revision(self) -> str | None:
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(alembic_config(self.url)).get_current_head()

    def is_current(self) -> bool:
        return self.current_revision() == self.head_revision()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    @contextmanager
    def locked_session(self, user_id: int) -> Iterator[tuple[Session, User | None]]:
        """A transaction that holds one user's trading lock until it has committed, so a risk
        check's reads and the writes it allows cannot interleave with another of the user's
        orders. PostgreSQL locks the user's row (this works across API replicas); SQLite, a
        file for one process, takes a process lock."""
        if self.dialect == "postgresql":
            with self.session() as session:
                query = select(User).where(User.id == user_id).with_for_update()
                yield session, session.scalars(query).first()
            return
        with self._locks_guard:
            lock = self._user_locks.setdefault(user_id, threading.Lock())
        with lock, self.session() as session:
            yield session, session.get(User, user_id)

    def dispose(self) -> None:
        self.engine.dispose()
