"""CcxtVenue: a LiveVenue on one exchange account through ccxt's async classes.

What the venue guarantees on top of ccxt:

- Every REST call passes the account's shared, weight-aware rate limiter (ccxt's per-endpoint
  cost is the weight) and is retried on :class:`VenueUnavailable` / :class:`RateLimited` with
  exponential backoff and jitter; a rate limit also closes the limiter for ``retry_after``.
- An order carries our client order id in the exchange's own field; a retry sends the same id.
  When an order's reply is lost (timeout, connection reset, 5xx, garbage) the order is marked in
  flight and resolved by querying the exchange by client order id; it is never sent again.
- Outcomes reach the :class:`VenueListener` as order updates and fills, whichever way they are
  learnt (the create reply, a query, a cancel, the order stream in :mod:`axis.venues.feeds`).

Per-exchange differences come from :mod:`axis.venues.exchanges`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import ccxt
import ccxt.async_support as ccxt_async

from axis.domain.enums import (
    Exchange,
    LiquiditySide,
    MarginMode,
    MarketType,
    OrderSide,
    OrderType,
    TimeInForce,
)
from axis.domain.instrument import Instrument, LeverageBracket, brackets_from_tiers
from axis.domain.orders import Fill, Order, OrderStateError, OrderStatus
from axis.venues.base import (
    BalanceReport,
    ClosedBar,
    FundingRate,
    OrderBook,
    PositionReport,
    Ticker,
    VenueListener,
)
from axis.venues.errors import (
    NotSupported,
    OrderNotFound,
    OrderRejected,
    OrderStateUnknown,
    PositionModeError,
    RateLimited,
    RejectKind,
    VenueError,
    VenueUnavailable,
    classify,
)
from axis.venues.exchanges import ExchangeProfile, JsonDict, profile_for
from axis.venues.ratelimit import RateLimiter, limiter_for

log = logging.getLogger(__name__)

T = TypeVar("T")

_DUST = 1e-12
# Finished orders the venue keeps for late reports (a fill after a cancel, a repeated stream
# update); older ones are dropped so a long-running gateway does not grow without bound.
_RETAINED_FINISHED = 2000
# Above this many consecutive failed calls the venue reports itself unhealthy.
_UNHEALTHY_AFTER = 3


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with equal jitter: attempt n waits between d/2 and d, where
    d = min(max_delay, base_delay * 2**n)."""

    attempts: int = 4  # tries in all, the first included
    base_delay: float = 0.25
    max_delay: float = 8.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.max_delay, self.base_delay * 2**attempt)
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def _timeframe_ms(timeframe: str) -> int:
    return int(ccxt.Exchange.parse_timeframe(timeframe) * 1000)


def _float(value: Any, default: float = 0.0) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _optional(value: Any) -> float | None:
    number = _float(value, math.nan)
    return None if math.isnan(number) else number


class CcxtVenue:
    """One exchange account (spot and linear perpetuals) through a ccxt async exchange."""

    def __init__(
        self,
        exchange: Any,
        *,
        profile: ExchangeProfile | None = None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy = RetryPolicy(),
        resolve_attempts: int = 5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        name: str | None = None,
    ) -> None:
        self.exchange = exchange
        self.profile = profile or profile_for(exchange.id)
        self.name = name or self.profile.ccxt_id
        self.retry = retry
        self.resolve_attempts = resolve_attempts
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.limiter = limiter or limiter_for(
            self.profile.ccxt_id,
            account_label(exchange),
            rate=1000.0 / max(float(exchange.rateLimit), 1.0),
            capacity=1000.0 / max(float(exchange.rateLimit), 1.0) * self.profile.burst_seconds,
        )
        # ccxt computes each endpoint's cost and awaits ``throttle``: that is our weight.
        exchange.enableRateLimit = True
        exchange.throttle = self.limiter.acquire
        self.listener: VenueListener | None = None
        self.orders: dict[str, Order] = {}  # every order this venue sent or learnt, by our id
        self.in_flight: dict[str, Order] = {}  # sent, outcome unknown
        self._by_venue_id: dict[str, str] = {}  # venue client id -> our client order id
        self._instruments: dict[str, Instrument] = {}
        self._margin_modes: dict[str, MarginMode] = {}
        self._leverage: dict[str, float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._finished: deque[str] = deque()
        self._failures = 0
        self._closed = False
        self.last_error: str | None = None

    @classmethod
    def create(
        cls,
        exchange: Exchange | str,
        *,
        market_type: MarketType = MarketType.LINEAR_PERPETUAL,
        api_key: str | None = None,
        secret: str | None = None,
        password: str | None = None,
        sandbox: bool = False,
        rate_limit_share: float = 1.0,
        websocket: bool = True,
        name: str | None = None,
    ) -> CcxtVenue:
        """A venue on a new ccxt exchange instance (ccxt pro's class when ``websocket``, which
        also has every REST method)."""
        profile = profile_for(exchange)
        config: JsonDict = {"options": profile.ccxt_options(market_type)}
        config["options"]["warnOnFetchOpenOrdersWithoutSymbol"] = False
        for key, value in (("apiKey", api_key), ("secret", secret), ("password", password)):
            if value:
                config[key] = value
        module: Any = ccxt_async
        if websocket:
            import ccxt.pro as ccxt_pro

            module = ccxt_pro
        instance = getattr(module, profile.ccxt_id)(config)
        if sandbox:
            instance.set_sandbox_mode(True)
        rate = 1000.0 / max(float(instance.rateLimit), 1.0) * rate_limit_share
        limiter = limiter_for(
            profile.ccxt_id,
            account_label(instance),
            rate=rate,
            capacity=rate * profile.burst_seconds,
        )
        return cls(instance, profile=profile, limiter=limiter, name=name)

    # -- calls: rate limit, retries, error classification -------------------------------------
    def _classify(self, exc: BaseException) -> VenueError:
        headers = getattr(self.exchange, "last_response_headers", None)
        error = classify(exc, headers if isinstance(headers, dict) else None)
        self.last_error = f"{type(error).__name__}: {error}"
        if isinstance(error, VenueUnavailable):
            self._failures += 1
        return error

    async def _backoff(self, error: VenueError, attempt: int) -> None:
        delay = self.retry.delay(attempt, self._rng)
        if isinstance(error, RateLimited):
            # The account's limiter holds every caller for the penalty, this retry included.
            self.limiter.penalize(error.retry_after if error.retry_after is not None else delay)
            return
        await self._sleep(delay)

    async def _call(self, method: str, *args: Any) -> Any:
        """A ccxt method, retried while the error is retryable and attempts remain."""
        attempt = 0
        while True:
            try:
                result = await getattr(self.exchange, method)(*args)
            except Exception as exc:
                error = self._classify(exc)
                attempt += 1
                if not error.retryable or attempt >= self.retry.attempts:
                    raise error from exc
                await self._backoff(error, attempt)
                continue
            self._failures = 0
            return result

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every submit/cancel started so far to finish (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- lifecycle ----------------------------------------------------------------------------
    async def connect(self, listener: VenueListener) -> None:
        """Load markets; with keys on a contract account, refuse a hedge-mode account."""
        self.listener = listener
        self._closed = False
        if not self.exchange.markets:
            await self._call("load_markets")
        if self.exchange.apiKey and self.exchange.options.get("defaultType") != "spot":
            await self.ensure_one_way()

    async def close(self) -> None:
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.exchange.close()

    def healthy(self) -> bool:
        return not self._closed and self._failures < _UNHEALTHY_AFTER

    async def clock_skew_ms(self) -> int:
        """Exchange time minus local time, from the exchange's time endpoint (half the round
        trip is credited to the request, as NTP does)."""
        sent = self.exchange.milliseconds()
        server = int(await self._call("fetch_time"))
        received = self.exchange.milliseconds()
        return server - (sent + received) // 2

    async def ensure_one_way(self, symbol: str | None = None) -> None:
        """Raise PositionModeError when the account holds hedge-mode (two-way) positions."""
        if self.exchange.has.get("fetchPositionMode"):
            mode = await self._call("fetch_position_mode", symbol)
            hedged = bool(mode.get("hedged"))
        else:
            # No mode endpoint: positions say whether they are hedge-mode legs.
            positions = await self._call("fetch_positions", [symbol] if symbol else None)
            hedged = any(self.profile.is_hedged(p) for p in positions)
        if hedged:
            raise PositionModeError(
                f"{self.name}: the account is in hedge (two-way) position mode; "
                "switch it to one-way mode"
            )

    # -- instruments --------------------------------------------------------------------------
    async def instrument(self, symbol: str) -> Instrument:
        cached = self._instruments.get(symbol)
        if cached is not None:
            return cached
        if not self.exchange.markets:
            await self._call("load_markets")
        try:
            market = self.exchange.market(symbol)
        except Exception as exc:
            raise classify(exc) from exc
        brackets: tuple[LeverageBracket, ...] = ()
        if market.get("swap") and market.get("linear"):
            brackets = await self._brackets(market)
        instrument = market_to_instrument(
            market, self.profile.exchange, brackets, self.exchange.precisionMode
        )
        self._instruments[symbol] = instrument
        return instrument

    async def _brackets(self, market: JsonDict) -> tuple[LeverageBracket, ...]:
        """Leverage brackets from the exchange's leverage tiers; one bracket at the market's
        maximum leverage when the tiers cannot be read (no keys, or no endpoint)."""
        symbol = market["symbol"]
        try:
            if self.exchange.has.get("fetchMarketLeverageTiers"):
                tiers = await self._call("fetch_market_leverage_tiers", symbol)
            else:
                tiers = (await self._call("fetch_leverage_tiers", [symbol])).get(symbol, [])
        except VenueError as error:
            log.warning("leverage tiers of %s unavailable (%s): one bracket", symbol, error)
            tiers = []
        return brackets_from_ccxt_tiers(tiers, market)

    # -- market data --------------------------------------------------------------------------
    async def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: str,
        since_ms: int | None = None,
        limit: int | None = None,
        closed_before_ms: int | None = None,
    ) -> list[ClosedBar]:
        """Candles from ``since_ms``; only those closed by ``closed_before_ms`` (now)."""
        rows = await self._call("fetch_ohlcv", symbol, timeframe, since_ms, limit)
        now = self.exchange.milliseconds() if closed_before_ms is None else closed_before_ms
        return closed_bars(symbol, timeframe, rows, now)

    async def fetch_ticker(self, symbol: str) -> Ticker:
        return ticker_from_ccxt(await self._call("fetch_ticker", symbol))

    async def fetch_tickers(self, symbols: list[str]) -> dict[str, Ticker]:
        raw = await self._call("fetch_tickers", symbols)
        return {symbol: ticker_from_ccxt(t) for symbol, t in raw.items()}

    async def fetch_order_book(self, symbol: str, limit: int | None = None) -> OrderBook:
        raw = await self._call("fetch_order_book", symbol, limit)
        return OrderBook(
            symbol=raw.get("symbol") or symbol,
            timestamp=raw.get("timestamp"),
            bids=tuple((float(p), float(q)) for p, q, *_ in raw.get("bids", [])),
            asks=tuple((float(p), float(q)) for p, q, *_ in raw.get("asks", [])),
        )

    async def fetch_funding_rate(self, symbol: str) -> FundingRate:
        if self.exchange.has.get("fetchFundingRate"):
            raw = await self._call("fetch_funding_rate", symbol)
        else:
            raw = (await self._call("fetch_funding_rates", [symbol]))[symbol]
        return FundingRate(
            symbol=raw.get("symbol") or symbol,
            timestamp=int(raw.get("fundingTimestamp") or raw.get("timestamp") or 0),
            rate=_float(raw.get("fundingRate")),
            mark_price=_optional(raw.get("markPrice")),
            next_timestamp=raw.get("nextFundingTimestamp"),
        )

    async def fetch_funding_rate_history(
        self, symbol: str, since_ms: int | None = None, limit: int | None = None
    ) -> list[FundingRate]:
        rows = await self._call("fetch_funding_rate_history", symbol, since_ms, limit)
        return [
            FundingRate(
                symbol=r.get("symbol") or symbol,
                timestamp=int(r["timestamp"]),
                rate=_float(r.get("fundingRate")),
            )
            for r in rows
            if r.get("timestamp") is not None
        ]

    # -- account ------------------------------------------------------------------------------
    async def fetch_balances(self) -> list[BalanceReport]:
        raw = await self._call("fetch_balance")
        reports = []
        for currency, total in (raw.get("total") or {}).items():
            if total is None:
                continue
            reports.append(
                BalanceReport(
                    currency=currency,
                    total=_float(total),
                    free=_float((raw.get("free") or {}).get(currency)),
                    used=_float((raw.get("used") or {}).get(currency)),
                )
            )
        return reports

    async def fetch_positions(self) -> list[PositionReport]:
        raw = await self._call("fetch_positions")
        return [report for p in raw if (report := position_from_ccxt(p)) is not None]

    async def set_leverage(self, symbol: str, leverage: float) -> None:
        if not leverage > 0:
            raise ValueError(f"leverage must be positive, got {leverage}")
        params = self.profile.leverage_params(self._margin_modes.get(symbol), leverage)
        await self._call("set_leverage", leverage, symbol, params)
        self._leverage[symbol] = leverage

    async def set_margin_mode(self, symbol: str, mode: str) -> None:
        margin_mode = MarginMode(mode)
        self._margin_modes[symbol] = margin_mode
        if self.profile.margin_mode_through_leverage:
            # The mode is applied by the leverage call (now, if the leverage is known).
            if symbol in self._leverage:
                await self.set_leverage(symbol, self._leverage[symbol])
            return
        params = self.profile.margin_mode_params(self._leverage.get(symbol))
        try:
            await self._call("set_margin_mode", margin_mode.value, symbol, params)
        except VenueError as error:
            if isinstance(error.__cause__, ccxt.NoChange):  # already in that mode
                return
            raise

    # -- orders: queries ----------------------------------------------------------------------
    def _our_id(self, venue_client_id: str | None) -> str | None:
        if not venue_client_id:
            return None
        return self._by_venue_id.get(venue_client_id, venue_client_id)

    def _venue_id(self, client_order_id: str) -> str:
        venue_id = self.profile.encode_client_id(client_order_id)
        self._by_venue_id[venue_id] = client_order_id
        return venue_id

    async def fetch_order(self, symbol: str, client_order_id: str) -> Order | None:
        """The exchange's view of our order; None when the exchange has no such order."""
        raw = await self._find(symbol, client_order_id)
        if raw is None:
            return None
        known = self.orders.get(client_order_id)
        if known is not None:
            self.apply_exchange_order(raw)
            return known
        return order_from_ccxt(raw, client_order_id)

    def _is_trigger(self, client_order_id: str) -> bool:
        known = self.orders.get(client_order_id)
        return known is not None and known.is_stop

    async def _find(self, symbol: str, client_order_id: str) -> JsonDict | None:
        venue_id = self._venue_id(client_order_id)
        trigger = self._is_trigger(client_order_id)
        attempt = 0
        while True:
            try:
                return await self.profile.find_order(self.exchange, symbol, venue_id, trigger)
            except Exception as exc:
                error = self._classify(exc)
                if isinstance(error, OrderNotFound):
                    return None
                attempt += 1
                if not error.retryable or attempt >= self.retry.attempts:
                    raise error from exc
                await self._backoff(error, attempt)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]:
        raw = await self._call("fetch_open_orders", symbol)
        orders = []
        for item in raw:
            our_id = self._our_id(item.get("clientOrderId")) or f"exchange:{item.get('id')}"
            if our_id in self.orders:
                self.apply_exchange_order(item)
                orders.append(self.orders[our_id])
            elif (order := order_from_ccxt(item, our_id)) is not None:
                orders.append(order)
        return orders

    async def fetch_my_trades(
        self, symbol: str, since_ms: int | None = None, limit: int | None = None
    ) -> list[Fill]:
        raw = await self._call("fetch_my_trades", symbol, since_ms, limit)
        by_exchange_id = {o.exchange_order_id: o.client_order_id for o in self.orders.values()}
        return [fill_from_ccxt(t, by_exchange_id) for t in raw]

    # -- orders: the Venue protocol -----------------------------------------------------------
    def submit(self, order: Order) -> None:
        """Send the order in the background; the outcome reaches the listener."""
        self.orders[order.client_order_id] = order
        self._spawn(self._submit_quietly(order))

    async def _submit_quietly(self, order: Order) -> None:
        try:
            await self.place(order)
        except OrderStateUnknown as error:
            log.warning("order %s in flight: %s", order.client_order_id, error)

    def cancel(self, client_order_id: str) -> None:
        order = self.orders.get(client_order_id)
        if order is not None and order.is_open:
            self._spawn(self._cancel_quietly(order))

    async def _cancel_quietly(self, order: Order) -> None:
        try:
            await self.cancel_order(order)
        except VenueError as error:
            log.warning("cancel of %s failed: %s", order.client_order_id, error)

    def open_orders(self) -> list[Order]:
        return [o for o in self.orders.values() if o.is_open]

    async def place(self, order: Order) -> Order:
        """Send an order and apply the outcome. A rate limit is retried with the same client
        order id; a lost reply is resolved by client order id (never re-sent); a refusal
        rejects the order. Raises OrderStateUnknown when the outcome cannot be learnt."""
        self.orders[order.client_order_id] = order
        instrument = await self.instrument(order.symbol)
        venue_id = self._venue_id(order.client_order_id)
        args = self._create_args(order, instrument, venue_id)
        attempt = 0
        while True:
            try:
                raw = await self.exchange.create_order(*args)
            except Exception as exc:
                error = self._classify(exc)
                if isinstance(error, RateLimited) and attempt + 1 < self.retry.attempts:
                    attempt += 1  # refused before it was placed: same id, after the penalty
                    await self._backoff(error, attempt)
                    continue
                if isinstance(error, VenueUnavailable) and not isinstance(error, RateLimited):
                    return await self._resolve(order, error)
                if isinstance(error, OrderRejected) and error.kind is RejectKind.DUPLICATE:
                    return await self._resolve(order, error)  # an earlier try did land
                self._reject(order, getattr(error, "reason", f"{type(error).__name__}: {error}"))
                return order
            self._failures = 0
            self.apply_exchange_order(raw, order)
            return order

    def _create_args(self, order: Order, instrument: Instrument, venue_id: str) -> tuple[Any, ...]:
        params: JsonDict = self.profile.client_id_params(venue_id)
        kind = "limit" if order.type in (OrderType.LIMIT, OrderType.STOP_LIMIT) else "market"
        if order.type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT):
            params["stopLossPrice"] = order.trigger_price
        elif order.type is OrderType.TAKE_PROFIT:
            params["takeProfitPrice"] = order.trigger_price
        if order.time_in_force is TimeInForce.POST_ONLY:
            params["postOnly"] = True
        elif order.time_in_force is not TimeInForce.GTC and kind == "limit":
            params["timeInForce"] = order.time_in_force.value.upper()
        if instrument.market_type is MarketType.LINEAR_PERPETUAL:
            params.update(self.profile.order_params(self._margin_modes.get(order.symbol)))
            if order.reduce_only:
                params["reduceOnly"] = True
        price = order.price if kind == "limit" else None
        return (order.symbol, kind, order.side.value, order.quantity, price, params)

    async def _resolve(self, order: Order, cause: VenueError) -> Order:
        """The create reply was lost: find the order by client order id, never re-send it."""
        self.in_flight[order.client_order_id] = order
        for attempt in range(self.resolve_attempts):
            if order.client_order_id not in self.in_flight:
                return order  # the order stream reported it meanwhile
            try:
                raw = await self.profile.find_order(
                    self.exchange,
                    order.symbol,
                    self._venue_id(order.client_order_id),
                    order.is_stop,
                )
            except Exception as exc:
                error = self._classify(exc)
                if isinstance(error, OrderNotFound):
                    # The exchange answered and has no such order: the send never arrived.
                    if attempt + 1 >= self.resolve_attempts:
                        self.in_flight.pop(order.client_order_id, None)
                        self._reject(order, f"not received by the exchange ({cause})")
                        return order
                elif not error.retryable:
                    break
                await self._backoff(error, attempt + 1)
                continue
            self.apply_exchange_order(raw, order)  # also ends its in-flight state
            return order
        raise OrderStateUnknown(
            f"order {order.client_order_id}: outcome unknown after a lost reply ({cause})",
            order.client_order_id,
        )

    async def resolve_in_flight(self) -> None:
        """Retry resolving every in-flight order (the worker's reconciliation calls this)."""
        for order in list(self.in_flight.values()):
            try:
                await self._resolve(order, VenueUnavailable("still in flight"))
            except OrderStateUnknown as error:
                log.warning("%s", error)

    async def cancel_order(self, order: Order) -> Order:
        """Cancel at the exchange and apply the outcome; an order that is already gone is
        looked up so a fill that beat the cancel is not lost."""
        venue_id = self._venue_id(order.client_order_id)
        exchange_id = order.exchange_order_id or None
        params = self.profile.order_lookup(venue_id, order.is_stop)
        if exchange_id:  # the exchange's id finds it; only the trigger flag still matters
            params = {"trigger": True} if order.is_stop else {}
        try:
            raw = await self._call("cancel_order", exchange_id, order.symbol, params)
        except OrderNotFound:
            found = await self._find(order.symbol, order.client_order_id)
            if found is not None:
                self.apply_exchange_order(found, order)
            return order
        if raw.get("status") in (None, "open"):  # many cancel replies carry no final state
            raw = dict(raw, status="canceled")
        self.apply_exchange_order(raw, order)
        return order

    # -- applying the exchange's view ---------------------------------------------------------
    def _emit_update(self, order: Order) -> None:
        if self.listener is not None:
            self.listener.on_order_update(order)

    def _reject(self, order: Order, reason: str) -> None:
        if order.status in (OrderStatus.NEW, OrderStatus.SUBMITTED):
            order.reject(reason)
            self._emit_update(order)
            self._retire_if_done(order)

    def apply_exchange_order(self, raw: JsonDict, order: Order | None = None) -> Order | None:
        """Bring our order up to the exchange's view of it and tell the listener what changed
        (acknowledgement, fills, final state). Returns None for an order that is not ours."""
        if order is None:
            our_id = self._our_id(raw.get("clientOrderId"))
            order = self.orders.get(our_id) if our_id else None
            if order is None:
                return None
        was_open = order.is_open
        self.in_flight.pop(order.client_order_id, None)  # the exchange has it: resolved
        if raw.get("id"):
            order.exchange_order_id = str(raw["id"])
        status = raw.get("status")
        if status == "rejected":
            self._reject(order, f"rejected by {self.name}")
            return order
        if order.status is OrderStatus.NEW:
            order.submit()
            self._emit_update(order)
        self._apply_fills(order, raw)
        try:
            if status == "canceled" and order.is_open:
                order.cancel()
                self._emit_update(order)
            elif status == "expired" and order.is_open:
                order.expire()
                self._emit_update(order)
            elif status == "closed" and order.is_open:  # closed short of full: rest cancelled
                order.cancel()
                self._emit_update(order)
        except OrderStateError as error:
            log.error("exchange state of %s not applicable: %s", order.client_order_id, error)
        if was_open:
            self._retire_if_done(order)
        return order

    def _retire_if_done(self, order: Order) -> None:
        """Count an order that just finished towards the retained history."""
        if order.is_open or order.client_order_id in self.in_flight:
            return
        self._finished.append(order.client_order_id)
        while len(self._finished) > _RETAINED_FINISHED:
            dropped = self._finished.popleft()
            finished = self.orders.get(dropped)
            if finished is not None and not finished.is_open:
                del self.orders[dropped]
                self._by_venue_id.pop(self.profile.encode_client_id(dropped), None)

    def _apply_fills(self, order: Order, raw: JsonDict) -> None:
        filled = _float(raw.get("filled"))
        delta = filled - order.filled_qty
        if delta <= max(_DUST, order.quantity * 1e-9):
            return
        average = _float(raw.get("average")) or _float(raw.get("price"))
        price = (average * filled - order.avg_fill_price * order.filled_qty) / delta
        if not price > 0:
            price = average
        fee = max(fee_in_quote(raw.get("fee"), order.symbol, average) - order.fees, 0.0)
        try:
            order.apply_fill(delta, price, fee)
        except OrderStateError as error:
            log.error("fill of %s not applicable: %s", order.client_order_id, error)
            return
        liquidity = LiquiditySide.MAKER if raw.get("type") == "limit" else LiquiditySide.TAKER
        fill = Fill(
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            quantity=delta,
            price=price,
            fee=fee,
            liquidity=liquidity,
            timestamp=int(raw.get("lastTradeTimestamp") or raw.get("timestamp") or 0),
            trade_id=f"{order.exchange_order_id}:{filled:g}",
        )
        if self.listener is not None:
            self.listener.on_fill(order, fill)


# -- conversions (pure) ------------------------------------------------------------------------


def fee_in_quote(fee: JsonDict | None, symbol: str, price: float) -> float:
    """A ccxt fee in the symbol's quote (settle) currency, as our Fill keeps it: a fee charged
    in the base currency (spot buys) is converted at the fill price. A fee in a third currency
    (a BNB discount) cannot be converted without its price and counts as 0 here."""
    if not fee:
        return 0.0
    cost = _float(fee.get("cost"))
    currency = fee.get("currency")
    base, _, rest = symbol.partition("/")
    quote, _, settle = rest.partition(":")
    if currency in (None, quote, settle or quote):
        return cost
    if currency == base:
        return cost * price
    log.debug("fee of %s %s on %s not in its quote currency", cost, currency, symbol)
    return 0.0


def account_label(exchange: Any) -> str:
    """A label for the account behind an exchange instance: a fingerprint of its API key
    (never the key), or "public" without one."""
    key = getattr(exchange, "apiKey", "") or ""
    if not key:
        return "public"
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _step(value: Any, precision_mode: int) -> float | None:
    number = _optional(value)
    if number is None:
        return None
    if precision_mode == ccxt.DECIMAL_PLACES:
        return float(10.0**-number)
    return number


def brackets_from_ccxt_tiers(tiers: object, market: JsonDict) -> tuple[LeverageBracket, ...]:
    """Our brackets from ccxt leverage tiers (maxNotional, maxLeverage, maintenanceMarginRate);
    one unbounded bracket at the market's maximum leverage when there are no usable tiers (a
    reply of another shape counts as none rather than failing the instrument)."""
    usable = [t for t in tiers if isinstance(t, dict)] if isinstance(tiers, list) else []
    rows = []
    for tier in sorted(usable, key=lambda t: _float(t.get("minNotional"))):
        cap = _optional(tier.get("maxNotional"))
        rows.append(
            (
                cap if cap is not None else math.inf,
                _float(tier.get("maxLeverage"), 1.0),
                _float(tier.get("maintenanceMarginRate")),
            )
        )
    if rows:
        return brackets_from_tiers(rows)
    max_leverage = _optional((market.get("limits") or {}).get("leverage", {}).get("max")) or 1.0
    # Without tiers the maintenance rate is unknown: half the initial margin at max leverage,
    # the ratio the first tier has on all four exchanges.
    return (LeverageBracket(0.0, math.inf, max_leverage, 0.5 / max_leverage, 0.0),)


def market_to_instrument(
    market: JsonDict,
    exchange: Exchange,
    brackets: tuple[LeverageBracket, ...],
    precision_mode: int = ccxt.TICK_SIZE,
) -> Instrument:
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    contract = bool(market.get("swap")) and bool(market.get("linear"))
    if not contract and market.get("type") != "spot":
        raise NotSupported(f"{market['symbol']}: only spot and linear perpetuals are traded")
    tick = _step(precision.get("price"), precision_mode)
    lot = _step(precision.get("amount"), precision_mode)
    if tick is None or lot is None:
        raise NotSupported(f"{market['symbol']}: the exchange gives no price/amount precision")
    return Instrument(
        symbol=market["symbol"],
        exchange=exchange,
        market_type=MarketType.LINEAR_PERPETUAL if contract else MarketType.SPOT,
        tick_size=tick,
        lot_size=lot,
        min_qty=_float((limits.get("amount") or {}).get("min")),
        min_notional=_float((limits.get("cost") or {}).get("min")),
        contract_size=_float(market.get("contractSize"), 1.0) or 1.0,
        maker_fee=_float(market.get("maker")),
        taker_fee=_float(market.get("taker")),
        brackets=brackets if contract else (),
    )


def closed_bars(symbol: str, timeframe: str, rows: list[list[Any]], now_ms: int) -> list[ClosedBar]:
    """The closed candles among ccxt OHLCV rows, in time order without duplicates. A candle is
    closed once its period is over or a later candle exists."""
    period = _timeframe_ms(timeframe)
    ordered = sorted({int(r[0]): r for r in rows if r and r[0] is not None}.items())
    latest = ordered[-1][0] if ordered else None
    return [
        ClosedBar(
            symbol,
            timeframe,
            ts,
            _float(r[1]),
            _float(r[2]),
            _float(r[3]),
            _float(r[4]),
            _float(r[5]),
        )
        for ts, r in ordered
        if ts + period <= now_ms or (latest is not None and ts < latest)
    ]


def ticker_from_ccxt(raw: JsonDict) -> Ticker:
    return Ticker(
        symbol=raw["symbol"],
        timestamp=int(raw.get("timestamp") or 0),
        bid=_optional(raw.get("bid")),
        ask=_optional(raw.get("ask")),
        last=_optional(raw.get("last")),
        mark_price=_optional(raw.get("markPrice")),
        index_price=_optional(raw.get("indexPrice")),
        quote_volume=_optional(raw.get("quoteVolume")),
    )


def position_from_ccxt(raw: JsonDict) -> PositionReport | None:
    contracts = _float(raw.get("contracts"))
    if abs(contracts) <= _DUST:
        return None
    side = raw.get("side")
    sign = -1.0 if side == "short" or (side is None and contracts < 0) else 1.0
    return PositionReport(
        symbol=raw["symbol"],
        quantity=sign * abs(contracts),
        entry_price=_float(raw.get("entryPrice")),
        leverage=_float(raw.get("leverage"), 1.0) or 1.0,
        margin_mode=raw.get("marginMode") or MarginMode.CROSS.value,
        liquidation_price=_optional(raw.get("liquidationPrice")),
        unrealized_pnl=_float(raw.get("unrealizedPnl")),
        mark_price=_optional(raw.get("markPrice")),
    )


_STOP_TYPES = ("stop", "trigger", "conditional")


def _order_type(raw: JsonDict) -> OrderType:
    kind = str(raw.get("type") or "market").lower()
    triggered = raw.get("triggerPrice") is not None or raw.get("stopPrice") is not None
    if (
        "take_profit" in kind
        or "takeprofit" in kind
        or (
            raw.get("takeProfitPrice") is not None
            and raw.get("stopLossPrice") is None
            and triggered
        )
    ):
        return OrderType.TAKE_PROFIT
    if triggered or any(t in kind for t in _STOP_TYPES):
        # Binance's plain "STOP" is its stop-limit: a priced stop that is not a market one.
        priced = raw.get("price") is not None and "market" not in kind
        return OrderType.STOP_LIMIT if "limit" in kind or priced else OrderType.STOP_MARKET
    return OrderType.LIMIT if "limit" in kind else OrderType.MARKET


_STATUS = {
    "open": OrderStatus.SUBMITTED,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}


def order_from_ccxt(raw: JsonDict, client_order_id: str) -> Order | None:
    """An Order from a ccxt order structure (an order this process did not send)."""
    filled = _float(raw.get("filled"))
    quantity = _float(raw.get("amount")) or filled
    if not quantity > 0:
        return None
    kind = _order_type(raw)
    price = _optional(raw.get("price"))
    trigger = _optional(raw.get("triggerPrice")) or _optional(raw.get("stopPrice"))
    tif = str(raw.get("timeInForce") or "GTC").upper()
    time_in_force = (
        TimeInForce.POST_ONLY
        if raw.get("postOnly")
        else {"IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}.get(tif, TimeInForce.GTC)
    )
    order = Order(
        client_order_id=client_order_id,
        symbol=raw["symbol"],
        side=OrderSide(raw["side"]),
        type=kind,
        quantity=quantity,
        price=price if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None,
        trigger_price=trigger if kind not in (OrderType.LIMIT, OrderType.MARKET) else None,
        time_in_force=time_in_force,
        reduce_only=bool(raw.get("reduceOnly")),
        created_at=int(raw.get("timestamp") or 0),
        exchange_order_id=str(raw.get("id") or ""),
    )
    status = _STATUS.get(str(raw.get("status")), OrderStatus.SUBMITTED)
    if status is OrderStatus.SUBMITTED and 0 < filled < quantity:
        status = OrderStatus.PARTIALLY_FILLED
    elif status is OrderStatus.FILLED and filled < quantity * (1 - 1e-9):
        status = OrderStatus.CANCELLED  # closed short of full: the rest was cancelled
    order.status = status
    order.filled_qty = filled
    order.avg_fill_price = _float(raw.get("average"))
    order.fees = _float((raw.get("fee") or {}).get("cost"))
    return order


def fill_from_ccxt(raw: JsonDict, client_ids: dict[str, str]) -> Fill:
    """A Fill from a ccxt trade; the client order id from our orders' exchange ids (the
    exchange's order id, prefixed, for an order this process does not know)."""
    exchange_order_id = str(raw.get("order") or "")
    liquidity = LiquiditySide.MAKER if raw.get("takerOrMaker") == "maker" else LiquiditySide.TAKER
    return Fill(
        client_order_id=client_ids.get(exchange_order_id, f"exchange:{exchange_order_id}"),
        symbol=raw["symbol"],
        side=OrderSide(raw["side"]),
        quantity=_float(raw.get("amount")),
        price=_float(raw.get("price")),
        fee=fee_in_quote(raw.get("fee"), raw["symbol"], _float(raw.get("price"))),
        liquidity=liquidity,
        timestamp=int(raw.get("timestamp") or 0),
        trade_id=str(raw.get("id") or ""),
    )
