"""classify(): every ccxt exception lands in the venue error taxonomy, with the retry
semantics and rejection reasons the venue and the worker act on."""

from __future__ import annotations

import ccxt
import pytest

from axis.venues.errors import (
    AuthenticationFailed,
    BadSymbol,
    ExchangeFailure,
    NotSupported,
    OrderNotFound,
    OrderRejected,
    RateLimited,
    RejectKind,
    VenueError,
    VenueUnavailable,
    classify,
)


@pytest.mark.parametrize(
    ("exc", "kind", "retryable"),
    [
        (ccxt.RequestTimeout("t"), VenueUnavailable, True),
        (TimeoutError(), VenueUnavailable, True),
        (ccxt.ExchangeNotAvailable("503"), VenueUnavailable, True),
        (ccxt.OnMaintenance("m"), VenueUnavailable, True),
        (ccxt.NetworkError("reset"), VenueUnavailable, True),
        (ccxt.BadResponse("garbage"), VenueUnavailable, True),
        (ccxt.NullResponse("empty"), VenueUnavailable, True),
        (ConnectionResetError("reset"), VenueUnavailable, True),
        (ccxt.RateLimitExceeded("429"), RateLimited, True),
        (ccxt.DDoSProtection("418"), RateLimited, True),
        (ccxt.AuthenticationError("bad key"), AuthenticationFailed, False),
        (ccxt.PermissionDenied("no trading"), AuthenticationFailed, False),
        (ccxt.AccountSuspended("frozen"), AuthenticationFailed, False),
        (ccxt.OrderNotFound("gone"), OrderNotFound, False),
        (ccxt.InsufficientFunds("margin"), OrderRejected, False),
        (ccxt.InvalidOrder("lot"), OrderRejected, False),
        (ccxt.BadSymbol("XYZ"), BadSymbol, False),
        (ccxt.NotSupported("nope"), NotSupported, False),
        (ccxt.ExchangeError("other"), ExchangeFailure, False),
    ],
)
def test_ccxt_exceptions_map_to_the_taxonomy(
    exc: BaseException, kind: type[VenueError], retryable: bool
) -> None:
    error = classify(exc)
    assert type(error) is kind
    assert error.retryable is retryable
    assert str(error)


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (ccxt.InsufficientFunds("Margin is insufficient."), RejectKind.INSUFFICIENT_FUNDS),
        (ccxt.InvalidOrder("ReduceOnly Order is rejected."), RejectKind.REDUCE_ONLY),
        (ccxt.ExchangeError("reduce-only rule not satisfied"), RejectKind.REDUCE_ONLY),
        (ccxt.OrderImmediatelyFillable("would take"), RejectKind.POST_ONLY),
        (ccxt.OrderNotFillable("FOK"), RejectKind.UNFILLABLE),
        (ccxt.InvalidOrder("ClientOrderId is duplicated."), RejectKind.DUPLICATE),
        (ccxt.DuplicateOrderId("dup"), RejectKind.DUPLICATE),
        (ccxt.InvalidOrder("Filter failure: LOT_SIZE"), RejectKind.INVALID_ORDER),
    ],
)
def test_rejections_carry_their_reason(exc: BaseException, reason: RejectKind) -> None:
    error = classify(exc)
    assert isinstance(error, OrderRejected)
    assert error.kind is reason
    assert error.reason.startswith(reason.value)


def test_a_reply_ccxt_could_not_parse_is_a_retryable_outage() -> None:
    error = classify(TypeError("string indices must be integers"))
    assert isinstance(error, VenueUnavailable)
    assert "malformed reply" in str(error)


def test_venue_errors_pass_through_unchanged() -> None:
    original = RateLimited("slow down", retry_after=3)
    assert classify(original) is original
