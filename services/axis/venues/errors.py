"""The venue error taxonomy: what went wrong at an exchange, in terms the worker acts on.

Every venue (ccxt, gateway, failover) raises these and only these. ``classify`` maps ccxt's
exception hierarchy onto them once, so no caller inspects ccxt exceptions:

- :class:`VenueUnavailable` (network, timeout, 5xx, a malformed reply): retry with backoff.
- :class:`RateLimited` (429/418, the exchange's own throttling codes): back off, honouring
  ``retry_after``, then retry.
- :class:`OrderRejected` (insufficient funds, an invalid order, a reduce-only violation): the
  exchange refused the order; the strategy hears ``reason``. Never retried.
- :class:`OrderStateUnknown`: an order was sent and no answer came back; the venue marks it
  in flight and resolves it by client order id, never by sending it again.
- :class:`AuthenticationFailed`, :class:`BadSymbol`, :class:`NotSupported`, :class:`OrderNotFound`
  and :class:`ExchangeFailure` (anything else the exchange refused): not retried.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum

import ccxt


class RejectKind(StrEnum):
    INSUFFICIENT_FUNDS = "insufficient_funds"
    INVALID_ORDER = "invalid_order"
    REDUCE_ONLY = "reduce_only"
    POST_ONLY = "post_only"  # would have taken liquidity
    UNFILLABLE = "unfillable"  # IOC/FOK with nothing to match, or the market is closed
    DUPLICATE = "duplicate_client_order_id"


class VenueError(Exception):
    """Base of every venue error. ``retryable`` says whether the same call may be tried again."""

    retryable: bool = False


class VenueUnavailable(VenueError):
    """The exchange could not be reached or answered nonsense: network, timeout, 5xx, bad JSON."""

    retryable = True

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


class RateLimited(VenueUnavailable):
    """The exchange throttled us. ``retry_after`` is in seconds when the exchange said so."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OrderRejected(VenueError):
    """The exchange refused an order; ``reason`` is what the strategy is told."""

    def __init__(self, message: str, kind: RejectKind) -> None:
        super().__init__(message)
        self.kind = kind

    @property
    def reason(self) -> str:
        return f"{self.kind.value}: {self}"


class OrderStateUnknown(VenueError):
    """An order was sent and its outcome is unknown (the reply was lost)."""

    def __init__(self, message: str, client_order_id: str) -> None:
        super().__init__(message)
        self.client_order_id = client_order_id


class OrderNotFound(VenueError):
    """The exchange has no such order (never placed, or aged out of its history)."""


class AuthenticationFailed(VenueError):
    """Keys missing, wrong, expired, without the permission needed, or the account suspended."""


class BadSymbol(VenueError):
    """The exchange does not list the symbol."""


class NotSupported(VenueError):
    """The exchange (or its ccxt class) cannot do this."""


class PositionModeError(VenueError):
    """The account is in hedge (two-way) position mode; AXIS trades one-way positions only."""


class ExchangeFailure(VenueError):
    """Anything else the exchange refused; not retried."""


_REDUCE_ONLY = re.compile(r"reduce[-_ ]?only", re.IGNORECASE)
# ccxt maps few exchanges' duplicate-client-id codes to DuplicateOrderId; the messages say it
# (binance -4116 "ClientOrderId is duplicated", okx 51016 "Duplicated clOrdId", bybit
# "OrderLinkedID is duplicate").
_DUPLICATE = re.compile(r"duplicat", re.IGNORECASE)


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """The Retry-After header in seconds (only the delta-seconds form exchanges use)."""
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                seconds = float(value)
            except (TypeError, ValueError):
                return None
            return seconds if seconds >= 0 else None
    return None


def _rejection(exc: ccxt.BaseError) -> RejectKind:
    if isinstance(exc, ccxt.InsufficientFunds):
        return RejectKind.INSUFFICIENT_FUNDS
    if _REDUCE_ONLY.search(str(exc)):
        return RejectKind.REDUCE_ONLY
    if isinstance(exc, ccxt.OrderImmediatelyFillable):
        return RejectKind.POST_ONLY
    if isinstance(exc, ccxt.OrderNotFillable | ccxt.MarketClosed):
        return RejectKind.UNFILLABLE
    if isinstance(exc, ccxt.DuplicateOrderId) or _DUPLICATE.search(str(exc)):
        return RejectKind.DUPLICATE
    return RejectKind.INVALID_ORDER


def classify(exc: BaseException, headers: Mapping[str, str] | None = None) -> VenueError:
    """The venue error for an exception raised by ccxt (or by the transport beneath it).

    ``headers`` are the response headers of the failed call, for ``Retry-After``.
    """
    if isinstance(exc, VenueError):
        return exc
    message = str(exc) or type(exc).__name__
    # Most specific first: ccxt's hierarchy nests several of these.
    if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        return RateLimited(message, retry_after_seconds(headers))
    if isinstance(exc, ccxt.RequestTimeout | TimeoutError):
        return VenueUnavailable(message, timeout=True)
    if isinstance(exc, ccxt.NetworkError | ccxt.BadResponse | ccxt.CancelPending):
        return VenueUnavailable(message)
    if isinstance(exc, ccxt.AuthenticationError):
        return AuthenticationFailed(message)
    if isinstance(exc, ccxt.OrderNotFound | ccxt.OrderNotCached):
        return OrderNotFound(message)
    if isinstance(exc, ccxt.InsufficientFunds | ccxt.InvalidOrder | ccxt.MarketClosed):
        return OrderRejected(message, _rejection(exc))
    if isinstance(exc, ccxt.BadSymbol):
        return BadSymbol(message)
    if isinstance(exc, ccxt.NotSupported):
        return NotSupported(message)
    if isinstance(exc, ccxt.ExchangeError):
        if _REDUCE_ONLY.search(message):  # some exchanges report it as a generic error
            return OrderRejected(message, RejectKind.REDUCE_ONLY)
        if _DUPLICATE.search(message):
            return OrderRejected(message, RejectKind.DUPLICATE)
        return ExchangeFailure(message)
    if isinstance(exc, ConnectionError | OSError):
        return VenueUnavailable(message)
    if isinstance(exc, TypeError | KeyError | AttributeError | ValueError | IndexError):
        # ccxt could not parse the reply (malformed or truncated JSON, an HTML error page):
        # the call's outcome is unknown, as with a lost reply.
        return VenueUnavailable(f"malformed reply: {type(exc).__name__}: {message}")
    return ExchangeFailure(message)
