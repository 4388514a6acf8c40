"""Venue errors across the gateway: an exception becomes a JSON body and the client raises the
same class again.

The taxonomy lives in :mod:`axis.venues.errors`; the gateway does not repeat its classes. An
error is sent as its class name, the names of its bases and its plain attributes (such as a
retry-after), and rebuilt on the worker side as an instance of the same class with the same
message and attributes, so ``except RateLimited`` behaves as it would in-process. Exceptions
from outside the taxonomy travel as their class name only: an unexpected error's text may hold
anything, so it stays in the gateway.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
from collections.abc import Callable
from enum import Enum
from types import ModuleType
from typing import Any

from axis.venues.errors import ExchangeFailure, VenueUnavailable

TAXONOMY_MODULE = "axis.venues.errors"
# Built-in errors a venue may raise for bad arguments; rebuilt as themselves.
_BUILTIN_KINDS = frozenset({"ValueError", "KeyError", "LookupError", "TimeoutError"})
_SCALARS = (str, int, float, bool, type(None))

Scrub = Callable[[str], str]


class GatewayError(ExchangeFailure):
    """The gateway answered with an error the taxonomy here has no class for (an unexpected
    failure inside the gateway, say): not retried, like any unexplained exchange refusal."""

    def __init__(self, kind: str, message: str, status: int) -> None:
        super().__init__(f"gateway error {status} ({kind}): {message}")
        self.kind = kind
        self.status = status


class GatewayUnavailable(VenueUnavailable):
    """The gateway itself could not be reached (connection refused, reset, timeout): to the
    worker, the venue is unavailable, and the usual retry and failover rules apply."""


def _taxonomy() -> ModuleType | None:
    try:
        return importlib.import_module(TAXONOMY_MODULE)
    except ModuleNotFoundError:
        return None


def is_venue_error(exc: BaseException) -> bool:
    return type(exc).__module__ == TAXONOMY_MODULE or type(exc).__name__ in _BUILTIN_KINDS


def encode_error(exc: BaseException, scrub: Scrub) -> dict[str, Any]:
    """The JSON body of an error; every string passes through ``scrub`` (keys never leave).
    An attribute holding one of the taxonomy's enums (a rejection's kind) travels as its value
    and the enum's name, so the client rebuilds the enum member."""
    if not is_venue_error(exc):
        return {"kind": "internal", "bases": [], "message": type(exc).__name__, "attrs": {}}
    attrs: dict[str, Any] = {}
    enums: dict[str, str] = {}
    for name, value in vars(exc).items():
        if name.startswith("_") or not isinstance(value, _SCALARS):
            continue
        if isinstance(value, Enum) and type(value).__module__ == TAXONOMY_MODULE:
            enums[name] = type(value).__name__
            value = value.value
        attrs[name] = scrub(value) if isinstance(value, str) else value
    bases = [cls.__name__ for cls in type(exc).__mro__[1:] if cls.__module__ == TAXONOMY_MODULE]
    message = str(exc.args[0]) if len(exc.args) == 1 else str(exc)
    return {
        "kind": type(exc).__name__,
        "bases": bases,
        "message": scrub(message),
        "attrs": attrs,
        "enums": enums,
    }


def error_kind(exc: BaseException) -> str:
    """The label of ``axis_gateway_errors_total``: the class name within the taxonomy."""
    return type(exc).__name__ if is_venue_error(exc) else "internal"


def rebuild_error(body: dict[str, Any], status: int) -> Exception:
    """The exception the gateway's venue raised, as the same class when it is known here."""
    kind = str(body.get("kind", "internal"))
    message = str(body.get("message", ""))
    cls = _resolve(kind, [str(b) for b in body.get("bases", [])])
    if cls is None:
        return GatewayError(kind, message, status)
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    attrs = body.get("attrs") or {}
    enums = body.get("enums") or {}
    module = _taxonomy()
    for name, value in attrs.items():
        enum = getattr(module, str(enums[name]), None) if name in enums else None
        if isinstance(enum, type) and issubclass(enum, Enum):
            # A member this side does not know keeps its plain value.
            with contextlib.suppress(ValueError):
                value = enum(value)
        try:
            setattr(exc, name, value)
        except AttributeError:  # a read-only property of the class: the message carries it
            continue
    return exc


def _resolve(kind: str, bases: list[str]) -> type[Exception] | None:
    """``kind`` in the taxonomy, else its nearest base there, else a whitelisted built-in."""
    module = _taxonomy()
    if module is not None:
        for name in (kind, *bases):
            cls = getattr(module, name, None)
            if isinstance(cls, type) and issubclass(cls, Exception):
                return cls
    if kind in _BUILTIN_KINDS:
        cls = getattr(builtins, kind)
        assert issubclass(cls, Exception)
        return cls
    return None
