"""FailoverVenue: one LiveVenue over an ordered list of venues (Binance, then Bybit, ...).

Each venue has a :class:`~axis.venues.breaker.CircuitBreaker`. Calls go to the *active* venue;
a failure or a slow answer is scored on its breaker, and when the active venue's breaker opens,
new risk stops at once (fail closed) and the strategy's :class:`FailoverPolicy` decides:

- ``halt``: stay on the failed venue, refuse new risk, alert; resume when its breaker closes.
- ``mirror``: once the failed venue's positions are confirmed flat, or it is unreachable,
  re-establish the same net exposure on the next venue and trade there. While the failed venue
  still reports open positions, nothing moves (two books would double the exposure). When a
  venue that was left unreachable comes back, whatever it still holds is closed (reconcile).
- ``flatten-and-move``: close the positions on the failed venue if it answers, then open the
  same net exposure on the next venue; leftovers on an unreachable venue are closed when it
  returns.

The exposure moved is the failed venue's as last confirmed (``fetch_positions``) or followed
through its fills since: a position the strategy saw close (its stop filled) is not reopened,
one that vanished unseen (closed at the exchange while the stream was down) is. It moves in base
units (contracts × contract size), so venues with different contract sizes carry the same risk;
quantities are floored to the target's lot, and the margin mode and leverage last set are set
on the target first. After ``mirrored`` or ``moved`` the worker reconciles its book with
``fetch_positions`` (now the new venue's). Failover orders are
market orders tagged ``failover`` with client ids ``<prefix>-<venue>-<n>``; they are written
ahead to the journal when one is given, and their updates reach the listener like any other.

What the worker uses: :attr:`active` / :attr:`active_name`, :attr:`accepting_risk`,
:meth:`venue_health` (``/status`` ``venues``), :meth:`on_failover` (a callback per
:class:`FailoverEvent`) and :meth:`check` (the heartbeat: probes every venue, half-opens and
closes breakers, finishes a waiting mirror, reconciles returning venues). ``connect`` starts
a task that runs ``check`` every ``heartbeat_s`` seconds (None: the caller runs it).
Every breaker transition and failover outcome is logged, handed to the ``recorder`` (the store)
and raised as an alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from axis.config.specs import FailoverPolicy
from axis.domain.enums import OrderSide, OrderType
from axis.domain.instrument import Instrument, floor_step, step_decimals
from axis.domain.orders import Fill, Order, OrderStatus
from axis.engine.oms import OrderJournal
from axis.observability.alerts import raise_alert
from axis.observability.logging import get_logger
from axis.venues.base import (
    BalanceReport,
    ClosedBar,
    FundingEvent,
    LiquidationEvent,
    LiveVenue,
    PositionReport,
    VenueListener,
)
from axis.venues.breaker import (
    BreakerConfig,
    BreakerState,
    BreakerTransition,
    CircuitBreaker,
    Clock,
)
from axis.venues.errors import (
    BadSymbol,
    NotSupported,
    OrderNotFound,
    OrderRejected,
    PositionModeError,
    VenueError,
    VenueUnavailable,
    classify,
)

log = get_logger("axis.venues.failover")

T = TypeVar("T")

# Reject reasons that mean the venue, not the order, failed. The ccxt venue puts the error
# class name in the reason; these are ccxt's names for network-side trouble.
_OUTAGE_WORDS = (
    "networkerror",
    "requesttimeout",
    "exchangenotavailable",
    "onmaintenance",
    "ddosprotection",
    "timeout",
    "unavailable",
    "unreachable",
)
_FLAT = 1e-12
_PREFIX = re.compile(r"[A-Za-z0-9_-]{1,12}")

# The request's fault, not the venue's: a refused order, an unknown order or symbol, an
# unsupported call, a hedge-mode account. The venue answered; its breaker is not charged.
_REQUEST_FAULTS = (OrderRejected, OrderNotFound, BadSymbol, NotSupported, PositionModeError)


def counts_against_venue(error: BaseException) -> bool:
    """Does this error say the venue is failing (unreachable, timing out, throttling us, keys
    refused, anything unknown), rather than that the request was wrong?"""
    return not isinstance(error, _REQUEST_FAULTS)


def reject_is_outage(reason: str) -> bool:
    """Does an order's reject reason say the venue was unreachable (rather than the order bad)?"""
    text = reason.lower()
    return any(word in text for word in _OUTAGE_WORDS)


class FailoverOutcome(StrEnum):
    HALTED = "halted"  # halt policy: no new risk while the venue is failing
    WAITING = "waiting"  # mirror: the failed venue still holds positions; nothing moved
    MIRRORED = "mirrored"  # mirror: exposure re-established on the next venue
    MOVED = "moved"  # flatten-and-move: closed on the failed venue, reopened on the next
    NO_VENUE = "no_venue"  # nowhere to go, or the move failed: no new risk
    RESUMED = "resumed"  # the venue halted on is back: new risk allowed again
    RECONCILED = "reconciled"  # a returning former venue: what it still held was closed


@dataclass(frozen=True, slots=True)
class FailoverEvent:
    outcome: FailoverOutcome
    policy: FailoverPolicy
    from_venue: str
    active_venue: str  # the venue trading goes to after the event
    reason: str
    exposure: Mapping[str, float] = field(default_factory=dict)  # base units, signed
    orders: tuple[str, ...] = ()  # client order ids the policy placed
    time: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class VenueTransition:
    """One stored row: a breaker moving, or a failover outcome."""

    venue: str
    kind: str  # "breaker" | "failover"
    from_state: str
    to_state: str
    reason: str
    policy: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))


TransitionRecorder = Callable[[VenueTransition], None]


@dataclass(slots=True)
class _Pending:
    """A mirror waiting for the failed venue to be flat or unreachable."""

    from_venue: str
    reason: str


class _Relay:
    """The listener one venue reports to: keeps that venue's exposure, scores outage rejects,
    and passes everything on to the worker's listener."""

    def __init__(self, owner: FailoverVenue, venue: str) -> None:
        self.owner = owner
        self.venue = venue

    def on_order_update(self, order: Order) -> None:
        if order.status is OrderStatus.REJECTED and self.owner.is_outage(order.reject_reason):
            self.owner._score_failure(self.venue, f"order rejected: {order.reject_reason}")
        if self.owner._listener is not None:
            self.owner._listener.on_order_update(order)

    def on_fill(self, order: Order, fill: Fill) -> None:
        book = self.owner._exposure.setdefault(self.venue, {})
        book[fill.symbol] = book.get(fill.symbol, 0.0) + fill.side.sign * fill.quantity
        if self.owner._listener is not None:
            self.owner._listener.on_fill(order, fill)

    def on_funding(self, event: FundingEvent) -> None:
        if self.owner._listener is not None:
            self.owner._listener.on_funding(event)

    def on_liquidation(self, event: LiquidationEvent) -> None:
        book = self.owner._exposure.setdefault(self.venue, {})
        book[event.symbol] = 0.0
        if self.owner._listener is not None:
            self.owner._listener.on_liquidation(event)


class FailoverVenue:
    """A LiveVenue that trades on the first healthy venue of an ordered list."""

    name = "failover"

    def __init__(
        self,
        venues: Sequence[LiveVenue],
        policy: FailoverPolicy,
        *,
        breaker: BreakerConfig | None = None,
        clock: Clock = time.monotonic,
        call_timeout_s: float = 10.0,
        recorder: TransitionRecorder | None = None,
        journal: OrderJournal | None = None,
        order_prefix: str = "axfo",
        is_outage: Callable[[str], bool] = reject_is_outage,
        heartbeat_s: float | None = 5.0,
        flat_polls: int = 5,
        flat_poll_delay_s: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        names = [v.name for v in venues]
        if not venues:
            raise ValueError("FailoverVenue needs at least one venue")
        if len(set(names)) != len(names):
            raise ValueError(f"venue names must be unique, got {names}")
        if not _PREFIX.fullmatch(order_prefix):
            # with "-<venue, 16 at most>-<6 digits>" it stays within the 36 characters and the
            # alphabet every exchange accepts for a client order id
            raise ValueError("order_prefix: 1 to 12 of A-Z a-z 0-9 _ -")
        self.policy = FailoverPolicy(policy)
        self.call_timeout_s = call_timeout_s
        self.is_outage = is_outage
        self._venues: dict[str, LiveVenue] = {v.name: v for v in venues}
        self._clock = clock
        self._recorder = recorder
        self._journal = journal
        self._prefix = order_prefix
        self._breakers = {
            n: CircuitBreaker(n, breaker, clock=clock, on_transition=self._on_breaker)
            for n in names
        }
        self._active = names[0]
        self._halt_reason: str | None = None
        self._pending: _Pending | None = None
        self._stale: set[str] = set()  # former venues that may still hold positions
        self._exposure: dict[str, dict[str, float]] = {n: {} for n in names}  # contracts
        self._order_venue: dict[str, str] = {}
        self._instruments: dict[tuple[str, str], Instrument] = {}
        # margin mode and leverage per symbol as last set: a move sets them on the target first
        self._account: dict[str, dict[str, Any]] = {}
        self._listener: VenueListener | None = None
        self._subscribers: list[Callable[[FailoverEvent], None]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._sequence = 0
        self._last_no_venue: tuple[str, str] | None = None
        self._handled: str | None = None  # the failed active venue the policy already ran for
        self._flat_polls = max(flat_polls, 1)
        self._flat_poll_delay_s = flat_poll_delay_s
        self._sleep = sleep
        self.heartbeat_s = heartbeat_s
        self._heartbeat: asyncio.Task[None] | None = None
        self._closing = False

    # -- what the worker reads ----------------------------------------------------------------
    @property
    def active_name(self) -> str:
        return self._active

    @property
    def active(self) -> LiveVenue:
        return self._venues[self._active]

    @property
    def accepting_risk(self) -> bool:
        """False while a failover is pending or the policy halted new risk."""
        return self._halt_reason is None

    @property
    def halt_reason(self) -> str | None:
        return self._halt_reason

    def breaker(self, venue: str) -> CircuitBreaker:
        return self._breakers[venue]

    def venue_health(self) -> list[dict[str, Any]]:
        """``/status`` ``venues``: each venue in failover order with its breaker state."""
        return [
            {
                "name": name,
                "healthy": self._breakers[name].is_closed and venue.healthy(),
                "breaker": self._breakers[name].state.value,
                "active": name == self._active,
            }
            for name, venue in self._venues.items()
        ]

    def healthy(self) -> bool:
        return self._breakers[self._active].is_closed and self.active.healthy()

    def on_failover(self, callback: Callable[[FailoverEvent], None]) -> None:
        """``callback(event)`` after every failover outcome (sync; keep it short)."""
        self._subscribers.append(callback)

    # -- lifecycle ----------------------------------------------------------------------------
    async def connect(self, listener: VenueListener) -> None:
        """Connect every venue; one that fails to connect starts with a failure scored. If the
        first venue is down from the start, the policy runs as for any failure."""
        self._listener = listener
        for name, venue in self._venues.items():
            try:
                await asyncio.wait_for(venue.connect(_Relay(self, name)), self.call_timeout_s)
            except Exception as exc:
                self._breakers[name].trip(f"connect failed: {_describe(exc)}")
        await self._react(self._active)
        self._closing = False
        if self.heartbeat_s is not None and self._heartbeat is None:
            self._heartbeat = asyncio.create_task(self._beat(self.heartbeat_s), name="failover")

    async def _beat(self, period_s: float) -> None:
        # The flag, not only the cancel, ends it: on Python 3.11 a cancel that lands as a
        # wait_for's inner call completes is swallowed, and the loop would go round again.
        while not self._closing:
            await self._sleep(period_s)
            try:
                await self.check()
            except Exception as exc:  # the heartbeat must outlive any one bad round
                log.error("failover_check_failed", error=_describe(exc))

    async def close(self) -> None:
        self._closing = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for venue in self._venues.values():
            with contextlib.suppress(Exception):
                await venue.close()

    async def settle(self) -> None:
        """Wait for failover work started from synchronous paths (order rejects, connect)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- the Venue protocol -------------------------------------------------------------------
    def submit(self, order: Order) -> None:
        """To the active venue. While new risk is stopped, only reduce-only orders pass; the
        rest are rejected here with the reason."""
        if not order.reduce_only and self._halt_reason is not None:
            order.reject(f"failover: new risk stopped ({self._halt_reason})")
            if self._listener is not None:
                self._listener.on_order_update(order)
            return
        self._order_venue[order.client_order_id] = self._active
        if (self._active, order.symbol) not in self._instruments:
            # learn the contract size while the venue answers: a move needs it later
            self._spawn(self._learn(self._active, order.symbol))
        self.active.submit(order)

    def cancel(self, client_order_id: str) -> None:
        venue = self._order_venue.get(client_order_id, self._active)
        self._venues[venue].cancel(client_order_id)

    def open_orders(self) -> list[Order]:
        return [order for venue in self._venues.values() for order in venue.open_orders()]

    # -- queries: the active venue, through its breaker ---------------------------------------
    async def instrument(self, symbol: str) -> Instrument:
        return await self._instrument(self._active, symbol)

    async def fetch_order(self, symbol: str, client_order_id: str) -> Order | None:
        venue = self._order_venue.get(client_order_id, self._active)
        return await self._call(venue, self._venues[venue].fetch_order(symbol, client_order_id))

    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]:
        return await self._call(self._active, self.active.fetch_open_orders(symbol))

    async def fetch_positions(self) -> list[PositionReport]:
        name = self._active
        reports = await self._call(name, self._venues[name].fetch_positions())
        self._exposure[name] = {r.symbol: r.quantity for r in reports if abs(r.quantity) > _FLAT}
        return reports

    async def fetch_balances(self) -> list[BalanceReport]:
        return await self._call(self._active, self.active.fetch_balances())

    async def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: str,
        since_ms: int | None = None,
        limit: int | None = None,
        closed_before_ms: int | None = None,
    ) -> list[ClosedBar]:
        """Candles from the active venue (the prices trading happens at)."""
        source = getattr(self.active, "fetch_ohlcv", None)
        if source is None:
            raise NotSupported(f"{self._active} serves no candles")
        call = source(symbol, timeframe, since_ms, limit, closed_before_ms)
        bars: list[ClosedBar] = await self._call(self._active, call)
        return bars

    async def fetch_my_trades(self, symbol: str, since_ms: int | None = None) -> list[Fill]:
        return await self._call(self._active, self.active.fetch_my_trades(symbol, since_ms))

    async def set_leverage(self, symbol: str, leverage: float) -> None:
        await self._call(self._active, self.active.set_leverage(symbol, leverage))
        self._account.setdefault(symbol, {})["leverage"] = leverage

    async def set_margin_mode(self, symbol: str, mode: str) -> None:
        await self._call(self._active, self.active.set_margin_mode(symbol, mode))
        self._account.setdefault(symbol, {})["margin_mode"] = mode

    # -- the heartbeat ------------------------------------------------------------------------
    async def check(self) -> None:
        """Probe every venue whose breaker lets a call through, then act on what changed:
        fail over from a failed active venue, finish a waiting mirror, resume a halt whose
        venue is back, reconcile former venues that returned."""
        for name, venue in self._venues.items():
            breaker = self._breakers[name]
            if breaker.is_closed and not venue.healthy():
                breaker.record_failure("the venue reports itself unhealthy")
            elif breaker.allow():
                with contextlib.suppress(Exception):  # scored by _call
                    await self._call(name, venue.fetch_balances(), react=False)
        await self._react(self._active)
        async with self._lock:
            pending = self._pending
            if pending is not None and self._breakers[pending.from_venue].is_closed:
                self._pending = None  # the venue recovered before it went flat: stay there
            elif pending is not None:
                await self._try_mirror(pending)
            if (
                self._halt_reason is not None
                and self._pending is None
                and self._breakers[self._active].is_closed
                and self.active.healthy()
            ):
                self._halt_reason = None
                self._handled = None
                self._emit(FailoverOutcome.RESUMED, self._active, "venue answers again")
            for name in sorted(self._stale):
                if name != self._active and self._breakers[name].is_closed:
                    await self._reconcile(name)

    # -- scoring ------------------------------------------------------------------------------
    async def _call(self, name: str, call: Awaitable[T], *, react: bool = True) -> T:
        breaker = self._breakers[name]
        if breaker.state is BreakerState.OPEN:
            _discard(call)
            raise VenueUnavailable(f"{name}: circuit breaker open ({breaker.last_failure})")
        started = self._clock()
        try:
            result = await asyncio.wait_for(call, self.call_timeout_s)
        except Exception as exc:
            error = _as_venue_error(name, exc)
            if not counts_against_venue(error):
                breaker.record_success(self._clock() - started)  # it answered: with a "no"
            else:
                self._score_failure(name, _describe(error), react=False)
                if react:
                    await self._react(name)
            if error is exc:
                raise
            raise error from exc
        breaker.record_success(self._clock() - started)
        if react and not breaker.is_closed:
            await self._react(name)  # a slow answer opened it
        return result

    def _score_failure(self, name: str, reason: str, *, react: bool = True) -> None:
        self._breakers[name].record_failure(reason)
        if react and name == self._active and not self._breakers[name].is_closed:
            self._spawn(self._react(name))

    async def _react(self, name: str) -> None:
        """Run the policy for a failed active venue, once; again only when a venue to move to
        has appeared since (a move that found nowhere to go)."""
        async with self._lock:
            breaker = self._breakers[name]
            if name != self._active or breaker.is_closed or self._pending is not None:
                return
            retry = self.policy is not FailoverPolicy.HALT and self._next_venue(name) is not None
            if self._handled != name or retry:
                self._handled = name
                await self._fail_over_locked(name, breaker.last_failure)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            task = asyncio.get_running_loop().create_task(work)
        except RuntimeError:  # no loop (a synchronous caller): check() picks it up
            work.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_breaker(self, change: BreakerTransition) -> None:
        if change.new is BreakerState.OPEN and change.venue == self._active:
            self._stop_risk(f"{change.venue} breaker open: {change.reason}")
        active = change.venue == self._active
        severity = "critical" if change.new is BreakerState.OPEN and active else "warning"
        self._record(
            VenueTransition(
                change.venue, "breaker", change.old.value, change.new.value, change.reason
            ),
            alert_kind="venue_breaker",
            message=f"{change.venue} circuit breaker {change.old.value} -> {change.new.value}",
            severity=severity,
        )

    def _stop_risk(self, reason: str) -> None:
        if self._halt_reason is None:
            self._halt_reason = reason

    # -- policies -----------------------------------------------------------------------------
    async def _fail_over_locked(self, failed: str, reason: str) -> None:
        self._stop_risk(f"{failed} failing: {reason}")
        target = self._next_venue(failed)
        if target is not None and self.policy is not FailoverPolicy.HALT:
            self._handled = None  # a move either succeeds (new active) or may be retried
        if self.policy is FailoverPolicy.HALT:
            self._emit(FailoverOutcome.HALTED, failed, reason)
        elif target is None:
            self._emit(FailoverOutcome.NO_VENUE, failed, f"{reason}; no healthy venue to move to")
        elif self.policy is FailoverPolicy.MIRROR:
            await self._try_mirror(_Pending(failed, reason))
        else:
            await self._flatten_and_move(failed, target, reason)

    def _next_venue(self, failed: str) -> str | None:
        names = list(self._venues)
        start = names.index(failed)
        for name in names[start + 1 :] + names[:start]:
            if self._breakers[name].is_closed and self._venues[name].healthy():
                return name
        return None

    async def _try_mirror(self, pending: _Pending) -> None:
        positions = await self._query_positions(pending.from_venue)
        if positions:  # reachable and still holding: moving now would double the exposure
            self._exposure[pending.from_venue] = positions
            first = self._pending is None
            self._pending = pending
            if first:
                self._emit(
                    FailoverOutcome.WAITING,
                    pending.from_venue,
                    f"{pending.reason}; {pending.from_venue} still holds positions",
                    exposure=await self._base_or_contracts(pending.from_venue, positions),
                )
            return
        self._pending = None
        if positions is None:
            self._stale.add(pending.from_venue)  # unreachable: may still hold them
        target = self._next_venue(pending.from_venue)  # the first choice may have failed since
        if target is None:
            self._handled = pending.from_venue  # retried when a venue to move to appears
            self._emit(
                FailoverOutcome.NO_VENUE,
                pending.from_venue,
                f"{pending.reason}; no healthy venue to mirror to",
            )
            return
        held = dict(self._exposure.get(pending.from_venue, {}))
        await self._move(
            FailoverOutcome.MIRRORED, pending.from_venue, target, held, pending.reason, []
        )

    async def _flatten_and_move(self, failed: str, target: str, reason: str) -> None:
        positions = await self._query_positions(failed)
        closing: list[str] = []
        if positions is None:
            held = dict(self._exposure.get(failed, {}))
            self._stale.add(failed)
        else:
            held = positions
            closing = self._close_all(failed, positions)
            if closing and not await self._confirmed_flat(failed):
                self._stale.add(failed)  # not confirmed flat: reconcile when it answers
        await self._move(FailoverOutcome.MOVED, failed, target, held, reason, closing)

    async def _move(
        self,
        outcome: FailoverOutcome,
        failed: str,
        target: str,
        held: Mapping[str, float],
        reason: str,
        placed: list[str],
    ) -> None:
        """Open ``held`` (contracts on ``failed``) on ``target`` and trade there."""
        try:
            exposure = await self._to_base(failed, held)
            current = await self._call(target, self._venues[target].fetch_positions(), react=False)
            have = {r.symbol: r.quantity for r in current}
            for symbol, base in exposure.items():
                await self._apply_account(target, symbol)
                instrument = await self._instrument(target, symbol)
                want = base / instrument.contract_size
                delta = want - have.get(symbol, 0.0)
                quantity = floor_step(
                    abs(delta), instrument.lot_size, step_decimals(instrument.lot_size)
                )
                if quantity > 0:
                    side = OrderSide.BUY if delta > 0 else OrderSide.SELL
                    placed.append(self._place(target, symbol, side, quantity, reduce_only=False))
        except Exception as exc:
            self._emit(
                FailoverOutcome.NO_VENUE,
                failed,
                f"{reason}; opening on {target} failed: {_describe(exc)}",
                orders=tuple(placed),
            )
            return
        self._active = target
        self._halt_reason = None
        self._emit(outcome, failed, reason, exposure=exposure, orders=tuple(placed))

    async def _reconcile(self, name: str) -> None:
        positions = await self._query_positions(name)
        if positions is None:
            return
        closing = self._close_all(name, positions) if positions else []
        if not closing or await self._confirmed_flat(name):
            self._stale.discard(name)
        if closing:
            self._emit(
                FailoverOutcome.RECONCILED,
                name,
                f"{name} returned holding positions; closed them (trading stays on {self._active})",
                exposure=await self._base_or_contracts(name, positions),
                orders=tuple(closing),
            )

    # -- helpers ------------------------------------------------------------------------------
    async def _query_positions(self, name: str) -> dict[str, float] | None:
        """Signed contracts per symbol on ``name``, or None when it does not answer. Goes
        around the breaker on purpose: this is the confirmation the policies depend on."""
        try:
            reports = await asyncio.wait_for(
                self._venues[name].fetch_positions(), self.call_timeout_s
            )
        except Exception as exc:
            log.warning("venue_positions_unconfirmed", venue=name, error=_describe(exc))
            return None
        return {r.symbol: r.quantity for r in reports if abs(r.quantity) > _FLAT}

    async def _confirmed_flat(self, name: str) -> bool:
        """Poll until ``name`` reports no positions (closing orders take a moment to fill)."""
        for attempt in range(self._flat_polls):
            if await self._query_positions(name) == {}:
                return True
            if attempt + 1 < self._flat_polls:
                await self._sleep(self._flat_poll_delay_s)
        return False

    async def _base_or_contracts(
        self, name: str, contracts: Mapping[str, float]
    ) -> dict[str, float]:
        """For events only: base units when the contract sizes are known, else contracts."""
        try:
            return await self._to_base(name, contracts)
        except VenueUnavailable:
            return dict(contracts)

    def _close_all(self, name: str, positions: Mapping[str, float]) -> list[str]:
        return [
            self._place(name, symbol, OrderSide.SELL if qty > 0 else OrderSide.BUY, abs(qty), True)
            for symbol, qty in positions.items()
            if abs(qty) > _FLAT
        ]

    def _place(
        self, name: str, symbol: str, side: OrderSide, quantity: float, reduce_only: bool
    ) -> str:
        self._sequence += 1
        order = Order(
            f"{self._prefix}-{name[:16]}-{self._sequence:06d}",
            symbol,
            side,
            OrderType.MARKET,
            quantity,
            reduce_only=reduce_only,
            tag="failover",
            created_at=int(time.time() * 1000),
        )
        if self._journal is not None:
            self._journal.write_ahead(order)
        self._order_venue[order.client_order_id] = name
        self._venues[name].submit(order)
        return order.client_order_id

    async def _instrument(self, name: str, symbol: str) -> Instrument:
        key = (name, symbol)
        if key not in self._instruments:
            self._instruments[key] = await self._call(
                name, self._venues[name].instrument(symbol), react=name == self._active
            )
        return self._instruments[key]

    async def _apply_account(self, name: str, symbol: str) -> None:
        settings = self._account.get(symbol, {})
        venue = self._venues[name]
        if "margin_mode" in settings:
            await self._call(
                name, venue.set_margin_mode(symbol, settings["margin_mode"]), react=False
            )
        if "leverage" in settings:
            await self._call(name, venue.set_leverage(symbol, settings["leverage"]), react=False)

    async def _learn(self, name: str, symbol: str) -> None:
        with contextlib.suppress(Exception):  # scored by _call; a move asks again
            await self._instrument(name, symbol)

    async def _to_base(self, name: str, contracts: Mapping[str, float]) -> dict[str, float]:
        base: dict[str, float] = {}
        for symbol, qty in contracts.items():
            if abs(qty) <= _FLAT:
                continue
            key = (name, symbol)
            if key not in self._instruments:  # the failed venue may not answer: ask directly
                try:
                    self._instruments[key] = await asyncio.wait_for(
                        self._venues[name].instrument(symbol), self.call_timeout_s
                    )
                except Exception as exc:
                    raise VenueUnavailable(
                        f"{name}: contract size of {symbol} unknown ({_describe(exc)})"
                    ) from exc
            base[symbol] = qty * self._instruments[key].contract_size
        return base

    def _emit(
        self,
        outcome: FailoverOutcome,
        failed: str,
        reason: str,
        *,
        exposure: Mapping[str, float] | None = None,
        orders: tuple[str, ...] = (),
    ) -> None:
        if outcome is FailoverOutcome.NO_VENUE:  # a retried move that fails the same way
            if self._last_no_venue == (failed, reason):
                log.info("failover_still_blocked", venue=failed, reason=reason)
                return
            self._last_no_venue = (failed, reason)
        else:
            self._last_no_venue = None
        event = FailoverEvent(
            outcome, self.policy, failed, self._active, reason, dict(exposure or {}), orders
        )
        quiet = outcome in (FailoverOutcome.RESUMED, FailoverOutcome.RECONCILED)
        self._record(
            VenueTransition(
                failed,
                "failover",
                failed,
                self._active,
                reason,
                policy=self.policy.value,
                details={
                    "outcome": outcome.value,
                    "exposure": event.exposure,
                    "orders": list(orders),
                    "accepting_risk": self.accepting_risk,
                },
                time=event.time,
            ),
            alert_kind="venue_failover",
            message=f"{self.policy.value}: {outcome.value} ({failed} -> {self._active})",
            severity="warning" if quiet else "critical",
        )
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception as exc:  # a broken subscriber must not stop the failover
                log.error("failover_subscriber_failed", error=_describe(exc))

    def _record(
        self, transition: VenueTransition, *, alert_kind: str, message: str, severity: str
    ) -> None:
        log.warning(
            "venue_transition",
            venue=transition.venue,
            transition_kind=transition.kind,
            from_state=transition.from_state,
            to_state=transition.to_state,
            reason=transition.reason,
            policy=transition.policy,
            **{k: v for k, v in transition.details.items() if k in ("outcome", "orders")},
        )
        if self._recorder is not None:
            try:
                self._recorder(transition)
            except Exception as exc:  # the store being down must not stop the failover
                log.error("venue_transition_not_stored", error=_describe(exc))
        raise_alert(
            alert_kind,
            message,
            severity=severity,
            venue=transition.venue,
            reason=transition.reason,
            policy=self.policy.value,
        )


def _as_venue_error(venue: str, exc: BaseException) -> VenueError:
    """The taxonomy's error for what a call raised (every venue raises only those)."""
    if isinstance(exc, TimeoutError):  # our own deadline on the call
        return VenueUnavailable(f"{venue}: no answer in time", timeout=True)
    return classify(exc)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _discard(call: Awaitable[Any]) -> None:
    """Close a coroutine that will not be awaited (no 'never awaited' warning)."""
    if asyncio.iscoroutine(call):
        call.close()
