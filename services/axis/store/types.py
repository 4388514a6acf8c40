"""Column types that behave the same on PostgreSQL and SQLite.

- :class:`Money`: exact decimals. PostgreSQL stores ``NUMERIC(p, s)``; SQLite has no decimal
  type (it would round through a double), so the exact decimal text is stored there.
- :class:`UTCDateTime`: timezone-aware UTC datetimes in and out, whatever the dialect keeps.
- :data:`JSONType`: ``JSONB`` on PostgreSQL, JSON text elsewhere.
- :data:`BigId`: a 64-bit autoincrement key (SQLite autoincrements only ``INTEGER``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

JSONType = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")


def to_decimal(value: Any) -> Decimal:
    """A Decimal from a float, int, str or Decimal; floats go through their shortest repr so
    68000.5 stays 68000.5 rather than its binary expansion."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


class Money(TypeDecorator[Decimal]):
    """An exact decimal with ``scale`` places (default 10)."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 30, scale: int = 10) -> None:
        super().__init__()
        self.precision = precision
        self.scale = scale
        self._quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(self.precision + 2))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        try:
            number = to_decimal(value)
        except (InvalidOperation, ValueError, TypeError):
            raise ValueError(f"not a decimal number: {value!r}") from None
        if not number.is_finite():
            raise ValueError(f"not a finite number: {value!r}")
        number = number.quantize(self._quantum)
        return format(number, "f") if dialect.name == "sqlite" else number

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value))


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes. A naive value is refused: its zone would be a guess."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            raise ValueError("naive datetime: give a timezone-aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)
