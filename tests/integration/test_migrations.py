"""Migrations build both databases from empty, match the models, run backwards, and ship in
the wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import TextClause, inspect, text

from axis.store.db import Database
from axis.store.models import HYPERTABLES, Base

ROOT = Path(__file__).resolve().parents[2]
DESC_INDEXES = {
    index.name
    for table in Base.metadata.tables.values()
    for index in table.indexes
    if any(isinstance(e, TextClause) for e in index.expressions)
}


def _check_schema(db: Database) -> None:
    db.upgrade()
    assert db.is_current()
    tables = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        diff = [
            d
            for d in compare_metadata(context, Base.metadata)
            # expression (DESC) indexes cannot be reflected for comparison: checked by name
            if not (d[0] in ("add_index", "remove_index") and d[1].name in DESC_INDEXES)
        ]
    assert diff == [], diff
    indexes = {i["name"] for t in Base.metadata.tables for i in inspect(db.engine).get_indexes(t)}
    assert {"ix_positions_user_id_status", "uq_positions_open_market"} <= indexes
    assert indexes >= DESC_INDEXES
    db.downgrade("base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    db.upgrade()
    assert db.is_current()


def test_sqlite_from_empty(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'axis.db'}")
    _check_schema(db)
    db.dispose()


def test_postgresql_from_empty(fresh_pg_url: str) -> None:
    db = Database(fresh_pg_url)
    _check_schema(db)
    with db.engine.connect() as connection:
        kinds = dict(
            connection.execute(
                text(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name = 'positions'"
                )
            ).all()
        )
    assert kinds["entry_price"] == "numeric"
    assert kinds["entry_time"] == "timestamp with time zone"
    db.dispose()


def _timescale_available(url: str) -> bool:
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        query = "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
        return conn.execute(query).fetchone() is not None


def test_time_series_tables_follow_the_timescale_extension(fresh_pg_url: str) -> None:
    db = Database(fresh_pg_url)
    db.upgrade()
    with db.engine.connect() as connection:
        has_catalog = connection.execute(
            text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
        ).first()
        if _timescale_available(fresh_pg_url):
            assert has_catalog is not None
            hypertables = set(
                connection.execute(
                    text("SELECT hypertable_name FROM timescaledb_information.hypertables")
                ).scalars()
            )
            assert set(HYPERTABLES) <= hypertables
        else:  # the plain path: ordinary tables, no extension created
            assert has_catalog is None
            for table in HYPERTABLES:
                assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0
    db.dispose()


@pytest.mark.slow
def test_migrations_ship_in_the_wheel_and_run_from_it(tmp_path: Path) -> None:
    """Build the wheel, unpack it somewhere with no checkout, and migrate from there."""
    wheel_dir = tmp_path / "wheel"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheel_dir),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(wheel_dir.glob("axis_trading-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "axis/store/migrations/env.py" in names
    assert "axis/store/migrations/script.py.mako" in names
    assert any(n.startswith("axis/store/migrations/versions/0001_") for n in names)
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    database = tmp_path / "from-wheel.db"
    script = (
        "import axis.store.db as m, sys; "
        "assert m.__file__.startswith(sys.argv[2]), m.__file__; "
        "db = m.Database('sqlite:///' + sys.argv[1]); db.upgrade(); print(db.current_revision())"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(unpacked)
    result = subprocess.run(
        [sys.executable, "-c", script, str(database), str(unpacked)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert result.stdout.strip() == "0002"
