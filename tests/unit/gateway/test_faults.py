"""Venue errors cross the gateway as the same class, message and attributes (enums included),
with key material scrubbed; anything outside the taxonomy travels as its class name only."""

from __future__ import annotations

import sys
import types
from enum import StrEnum

import pytest

from axis.gateway import faults

FAKE = "axis_test_fake_venue_errors"


def _fake_taxonomy() -> types.ModuleType:
    """A stand-in for axis.venues.errors with the shapes its classes have."""
    module = types.ModuleType(FAKE)

    class Kind(StrEnum):
        FUNDS = "insufficient_funds"

    class VenueError(Exception):
        retryable = False

    class Unavailable(VenueError):
        retryable = True

        def __init__(self, message: str, *, timeout: bool = False) -> None:
            super().__init__(message)
            self.timeout = timeout

    class Throttled(Unavailable):
        def __init__(self, message: str, retry_after: float | None = None) -> None:
            super().__init__(message)
            self.retry_after = retry_after

    class Rejected(VenueError):
        def __init__(self, message: str, kind: Kind) -> None:
            super().__init__(message)
            self.kind = kind

        @property
        def reason(self) -> str:
            return f"{self.kind.value}: {self}"

    for cls in (Kind, VenueError, Unavailable, Throttled, Rejected):
        cls.__module__ = FAKE
        setattr(module, cls.__name__, cls)
    return module


@pytest.fixture
def taxonomy(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = _fake_taxonomy()
    monkeypatch.setitem(sys.modules, FAKE, module)
    monkeypatch.setattr(faults, "TAXONOMY_MODULE", FAKE)
    return module


def crossed(exc: BaseException) -> Exception:
    return faults.rebuild_error(faults.encode_error(exc, lambda t: t.replace("KEY9", "***")), 502)


def test_the_same_class_attributes_and_enum_come_back(taxonomy: types.ModuleType) -> None:
    rejected = crossed(taxonomy.Rejected("margin is short for KEY9", taxonomy.Kind.FUNDS))
    assert type(rejected) is taxonomy.Rejected
    assert rejected.kind is taxonomy.Kind.FUNDS  # type: ignore[attr-defined]
    assert rejected.reason == "insufficient_funds: margin is short for ***"  # type: ignore[attr-defined]
    throttled = crossed(taxonomy.Throttled("slow down", retry_after=2.5))
    assert isinstance(throttled, taxonomy.Unavailable)
    assert throttled.retry_after == 2.5  # type: ignore[attr-defined]
    assert throttled.retryable is True  # type: ignore[attr-defined]
    assert str(throttled) == "slow down"


def test_a_class_this_side_lacks_comes_back_as_its_nearest_base(
    taxonomy: types.ModuleType,
) -> None:
    body = faults.encode_error(taxonomy.Throttled("slow down", 1.0), lambda t: t)
    body["kind"] = "ThrottledHarder"  # a newer gateway with a finer class
    body["bases"] = ["Throttled", "Unavailable", "VenueError"]
    error = faults.rebuild_error(body, 502)
    assert type(error) is taxonomy.Throttled


def test_errors_outside_the_taxonomy_keep_their_text_home(taxonomy: types.ModuleType) -> None:
    error = crossed(RuntimeError("secret detail KEY9"))
    assert isinstance(error, faults.GatewayError)
    assert error.kind == "internal"
    assert "detail" not in str(error)
    value_error = crossed(ValueError("unknown symbol X"))
    assert type(value_error) is ValueError
    assert str(value_error) == "unknown symbol X"
