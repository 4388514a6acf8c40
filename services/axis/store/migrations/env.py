"""Alembic environment of the AXIS store (run by :meth:`axis.store.db.Database.upgrade`)."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine

from axis.store.models import Base
from axis.store.types import Money, UTCDateTime

config = context.config
target_metadata = Base.metadata


def render_item(kind: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render our column types with their arguments (autogenerate drops them)."""
    if kind == "type" and isinstance(obj, Money):
        autogen_context.imports.add("from axis.store.types import Money")
        return f"Money({obj.precision}, {obj.scale})"
    if kind == "type" and isinstance(obj, UTCDateTime):
        autogen_context.imports.add("from axis.store.types import UTCDateTime")
        return "UTCDateTime()"
    return False


OPTIONS: dict[str, Any] = {"render_as_batch": True, "render_item": render_item}


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        **OPTIONS,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(str(config.get_main_option("sqlalchemy.url")))
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
