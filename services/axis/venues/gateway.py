"""GatewayVenue: the worker's side of an exchange gateway (:mod:`axis.gateway`).

It is a :class:`~axis.venues.base.LiveVenue` like the in-process exchange venue: ``submit``
and ``cancel`` return at once and their outcome reaches the listener as order updates and
fills, now from the gateway's event stream; the queries are HTTP calls; a venue error raised
in the gateway is raised here again as the same class (:mod:`axis.gateway.faults`).

- The listener gets the caller's own :class:`Order` objects, brought up to the state each
  event carries, so the engine sees exactly what an in-process venue would show it.
- Placing an order is retried on transport errors with the same client order id; the gateway
  answers a repeat with the order it holds, so a lost reply never doubles an order. When every
  try fails the order stays in flight and the worker's reconciliation resolves it by id.
- The stream reconnects with its cursor and misses nothing the gateway still keeps; when the
  gateway says events are gone (it restarted, or the client was away too long), the orders
  still open here are refreshed from the gateway and their changes delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import aiohttp

from axis.config.backtest import ConfigError
from axis.domain.instrument import Instrument
from axis.domain.orders import Fill, Order, OrderStatus
from axis.gateway import wire
from axis.gateway.faults import GatewayUnavailable, rebuild_error
from axis.observability.logging import get_logger
from axis.venues.base import (
    BalanceReport,
    ClosedBar,
    FundingRate,
    OrderBook,
    PositionReport,
    Ticker,
    VenueListener,
)
from axis.venues.errors import AuthenticationFailed

log = get_logger("axis.venues.gateway")

# The request may not have reached the gateway, or its answer was lost: safe to repeat, since
# every call is idempotent (placing an order included: the gateway dedups by client order id).
_RETRYABLE = (aiohttp.ClientConnectionError, TimeoutError)


class GatewayVenue:
    """A venue served by the gateway at ``base_url`` (``http://<connector>-gateway:8080``)."""

    def __init__(
        self,
        base_url: str,
        *,
        name: str = "gateway",
        token: str | None = None,
        timeout_s: float = 10.0,
        attempts: int = 4,
        backoff_s: float = 0.1,
        reconnect_max_s: float = 5.0,
        heartbeat_s: float = 10.0,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.reconnect_max_s = reconnect_max_s
        # Pings on the stream: a gateway gone without a goodbye (a partition, a killed node)
        # is noticed within about two heartbeats, not at the TCP timeout.
        self.heartbeat_s = heartbeat_s
        self._headers = {"authorization": f"Bearer {token}"} if token else {}
        self._http: aiohttp.ClientSession | None = None
        self._listener: VenueListener | None = None
        self._orders: dict[str, Order] = {}  # every order seen, by client order id
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stream_task: asyncio.Task[None] | None = None
        self._hello = asyncio.Event()
        self._epoch: str | None = None
        self._seq = -1  # last event delivered; -1 = none yet (start from "now")
        self._stream_up = False
        self._ws: aiohttp.ClientWebSocketResponse | None = None  # the live stream, if any
        self._failing = False
        self.last_error: str | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    async def connect(self, listener: VenueListener) -> None:
        """Open the HTTP client and the event stream; returns once the stream is live."""
        self._listener = listener
        self._session()
        self._hello.clear()
        self._stream_task = asyncio.create_task(self._run_stream())
        hello = asyncio.create_task(self._hello.wait())
        done, _ = await asyncio.wait(
            {hello, self._stream_task}, timeout=self.timeout_s, return_when="FIRST_COMPLETED"
        )
        hello.cancel()
        if self._stream_task in done:  # the stream gave up: an unauthorized token, say
            self._stream_task.result()
        if not self._hello.is_set():
            await self.close()
            raise GatewayUnavailable(f"no event stream from the gateway at {self.base_url}")

    async def drain(self) -> None:
        """Wait until every placement and cancel started so far has been answered."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Let placements and cancels in flight finish (a worker cancels its entry orders,
        then closes), then stop the stream and the HTTP session."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=self.timeout_s)
        tasks = [*self._tasks, *([self._stream_task] if self._stream_task else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._stream_task = None
        self._stream_up = False
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _session(self) -> aiohttp.ClientSession:
        """The HTTP session, opened on first use: queries work before ``connect`` (a worker
        reads the instrument and candles before it starts listening)."""
        if self._http is None or self._http.closed:
            # aiohttp rather than httpx: a fraction of the per-call overhead on the order path.
            self._http = aiohttp.ClientSession(
                headers=self._headers, timeout=aiohttp.ClientTimeout(total=self.timeout_s)
            )
        return self._http

    def healthy(self) -> bool:
        return self._stream_up and not self._failing

    # -- the Venue protocol -------------------------------------------------------------------
    def submit(self, order: Order) -> None:
        self._orders[order.client_order_id] = order
        self._spawn(self._submit(order))

    def cancel(self, client_order_id: str) -> None:
        self._spawn(self._cancel(client_order_id))

    def open_orders(self) -> list[Order]:
        return [o for o in self._orders.values() if o.is_open]

    # -- queries ------------------------------------------------------------------------------
    async def instrument(self, symbol: str) -> Instrument:
        data = await self._request("GET", "/v1/instrument", "instrument", params={"symbol": symbol})
        return wire.decode_instrument(data)

    async def fetch_order(self, symbol: str, client_order_id: str) -> Order | None:
        data = await self._request(
            "GET", _order_path(client_order_id), "fetch_order", params={"symbol": symbol}
        )
        return None if data is None else wire.decode_order(data)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]:
        params = {"symbol": symbol} if symbol else None
        data = await self._request("GET", "/v1/orders", "fetch_open_orders", params=params)
        return [wire.decode_order(item) for item in data]

    async def fetch_positions(self) -> list[PositionReport]:
        data = await self._request("GET", "/v1/positions", "fetch_positions")
        return [wire.decode_position(item) for item in data]

    async def fetch_balances(self) -> list[BalanceReport]:
        data = await self._request("GET", "/v1/balances", "fetch_balances")
        return [wire.decode_balance(item) for item in data]

    async def fetch_my_trades(self, symbol: str, since_ms: int | None = None) -> list[Fill]:
        params: dict[str, Any] = {"symbol": symbol}
        if since_ms is not None:
            params["since"] = since_ms
        data = await self._request("GET", "/v1/trades", "fetch_my_trades", params=params)
        return [wire.decode_fill(item) for item in data]

    async def set_leverage(self, symbol: str, leverage: float) -> None:
        body = {"symbol": symbol, "leverage": leverage}
        await self._request("PUT", "/v1/leverage", "set_leverage", body=body)

    async def set_margin_mode(self, symbol: str, mode: str) -> None:
        body = {"symbol": symbol, "mode": str(mode)}
        await self._request("PUT", "/v1/margin-mode", "set_margin_mode", body=body)

    # -- market data ------------------------------------------------------------------------
    async def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: str,
        since_ms: int | None = None,
        limit: int | None = None,
        closed_before_ms: int | None = None,
    ) -> list[ClosedBar]:
        """Closed candles from ``since_ms`` (those closed by ``closed_before_ms``, or by the
        exchange's now)."""
        params = _params(
            symbol=symbol,
            timeframe=timeframe,
            since=since_ms,
            limit=limit,
            closedBefore=closed_before_ms,
        )
        rows = await self._request("GET", "/v1/ohlcv", "fetch_ohlcv", params=params)
        return wire.decode_bars(symbol, timeframe, rows)

    async def fetch_ticker(self, symbol: str) -> Ticker:
        data = await self._request("GET", "/v1/ticker", "fetch_ticker", params={"symbol": symbol})
        return wire.decode_ticker(data)

    async def fetch_order_book(self, symbol: str, limit: int | None = None) -> OrderBook:
        params = _params(symbol=symbol, limit=limit)
        data = await self._request("GET", "/v1/order-book", "fetch_order_book", params=params)
        return wire.decode_order_book(data)

    async def fetch_funding_rate(self, symbol: str) -> FundingRate:
        params = {"symbol": symbol}
        data = await self._request("GET", "/v1/funding-rate", "fetch_funding_rate", params=params)
        return wire.decode_funding_rate(data)

    async def fetch_funding_rate_history(
        self, symbol: str, since_ms: int | None = None, limit: int | None = None
    ) -> list[FundingRate]:
        params = _params(symbol=symbol, since=since_ms, limit=limit)
        rows = await self._request(
            "GET", "/v1/funding-rates", "fetch_funding_rate_history", params=params
        )
        return [wire.decode_funding_rate(row) for row in rows]

    # -- HTTP ---------------------------------------------------------------------------------
    async def _request(
        self,
        verb: str,
        path: str,
        method: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        """One venue call, tried up to ``attempts`` times on transport errors; a venue error
        is raised again as its own class."""
        attempts = self.attempts
        session = self._session()
        content = None if body is None else json.dumps(body)
        headers = {"content-type": "application/json"} if content is not None else None
        url = self.base_url + path
        for attempt in range(attempts):
            try:
                async with session.request(
                    verb, url, params=params, data=content, headers=headers
                ) as response:
                    status, payload = response.status, await response.read()
                break
            except _RETRYABLE as exc:
                if attempt + 1 >= attempts:
                    self._failing = True
                    self.last_error = f"{method}: {type(exc).__name__}"
                    raise GatewayUnavailable(
                        f"{method}: the gateway at {self.base_url} did not answer "
                        f"({type(exc).__name__})",
                        timeout=isinstance(exc, TimeoutError),
                    ) from None
                await asyncio.sleep(self.backoff_s * 2**attempt * (0.5 + random.random()))
        self._failing = False
        if status < 300:
            return json.loads(payload)
        try:
            error = json.loads(payload)
        except ValueError:
            error = None
        if not isinstance(error, dict):
            error = {"kind": "http", "message": f"HTTP {status}"}
        raise rebuild_error(error, status)

    async def _submit(self, order: Order) -> None:
        try:
            await self._request(
                "POST",
                "/v1/orders",
                "submit",
                body=wire.encode_order(order),
            )
        except GatewayUnavailable as exc:
            # Maybe sent, maybe not: the order stays in flight; reconciliation resolves it.
            log.error(
                "order placement unconfirmed", client_order_id=order.client_order_id, error=str(exc)
            )
        except Exception as exc:  # the venue refused it: the strategy hears why
            if order.status is OrderStatus.NEW:
                # Worded as the exchange venue words it (a rejection's reason, else the error
                # class and text), so failover can tell an outage from a bad order.
                order.reject(getattr(exc, "reason", f"{type(exc).__name__}: {exc}"))
                self._deliver_update(order)
                self._forget_if_done(order)

    async def _cancel(self, client_order_id: str) -> None:
        try:
            await self._request("DELETE", _order_path(client_order_id), "cancel")
        except Exception as exc:  # an in-process cancel has no caller to raise to either
            self.last_error = f"cancel {client_order_id}: {exc}"
            log.warning("cancel failed", client_order_id=client_order_id, error=str(exc))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the event stream ---------------------------------------------------------------------
    def _stream_url(self) -> str:
        url = "ws" + self.base_url.removeprefix("http") + "/v1/stream"
        query = f"?after={self._seq}"
        if self._epoch is not None:
            query += f"&epoch={self._epoch}"
        return url + query

    async def _run_stream(self) -> None:
        """Keep the stream open: reconnect with the cursor after any break."""
        delay = self.backoff_s
        while True:
            try:
                async with self._session().ws_connect(
                    self._stream_url(), autoping=True, heartbeat=self.heartbeat_s, max_msg_size=0
                ) as ws:
                    delay = self.backoff_s
                    self._ws = ws
                    await self._consume(ws)
                self.last_error = "stream: connection closed"
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status in (401, 403):
                    raise AuthenticationFailed(
                        f"the gateway at {self.base_url} refused the token (AXIS_GATEWAY_TOKEN)"
                    ) from None
                self.last_error = f"stream: HTTP {exc.status}"
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                self.last_error = f"stream: {type(exc).__name__}"
            self._stream_up = False
            self._ws = None
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, self.reconnect_max_s)

    async def _consume(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            event = json.loads(message.data)
            kind = event["type"]
            if kind == "hello":
                restarted = self._epoch is not None and event["epoch"] != self._epoch
                if self._seq < 0 or restarted:
                    self._seq = 0 if restarted else int(event["seq"])
                self._epoch = event["epoch"]
                self._stream_up = True
                self._hello.set()
                if event["gap"]:
                    self._spawn(self._recover())
                continue
            seq = int(event["seq"])
            if seq <= self._seq:
                continue  # already delivered before a reconnect
            self._seq = seq
            self._dispatch(kind, event)

    def _dispatch(self, kind: str, event: dict[str, Any]) -> None:
        listener = self._listener
        assert listener is not None
        if kind == "order":
            order = self._local(event["order"])
            listener.on_order_update(order)
            self._forget_if_done(order)
        elif kind == "fill":
            order = self._local(event["order"])
            listener.on_fill(order, wire.decode_fill(event["fill"]))
            self._forget_if_done(order)
        elif kind == "funding":
            listener.on_funding(wire.decode_funding(event["funding"]))
        elif kind == "liquidation":
            listener.on_liquidation(wire.decode_liquidation(event["liquidation"]))

    def _local(self, data: dict[str, Any]) -> Order:
        """The caller's own order object brought to the state in ``data`` (a new object
        for an order this client never placed, such as a liquidation)."""
        order = self._orders.get(data["clientOrderId"])
        if order is None:
            order = wire.decode_order(data)
            self._orders[order.client_order_id] = order
        else:
            wire.apply_order_state(order, data)
        return order

    def _forget_if_done(self, order: Order) -> None:
        """A finished order hears nothing more: stop tracking it (a long-running worker
        would otherwise keep every order it ever placed)."""
        if not order.is_open:
            self._orders.pop(order.client_order_id, None)

    def _deliver_update(self, order: Order) -> None:
        if self._listener is not None:
            self._listener.on_order_update(order)

    async def _recover(self) -> None:
        """Events were lost: bring each order still open here to the gateway's state."""
        log.warning("gateway stream gap: refreshing open orders", venue=self.name)
        for order in [o for o in self._orders.values() if o.is_open]:
            try:
                remote = await self.fetch_order(order.symbol, order.client_order_id)
            except Exception as exc:
                log.warning("refresh failed", client_order_id=order.client_order_id, error=str(exc))
                continue
            if remote is not None and (
                remote.status is not order.status or remote.filled_qty != order.filled_qty
            ):
                wire.apply_order_state(order, wire.encode_order(remote))
                self._deliver_update(order)
                self._forget_if_done(order)


GATEWAYS_ENV = "AXIS_GATEWAYS"


def gateway_urls(raw: str, connectors: Sequence[str] = ()) -> dict[str, str]:
    """``AXIS_GATEWAYS`` (a JSON object of connector name → gateway base URL, as the operator
    renders it) for ``connectors`` in their order, the failover order; every connector when
    none are named. Raises :class:`ConfigError` naming the variable and what is wrong."""
    try:
        table = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{GATEWAYS_ENV}: not valid JSON ({exc.msg})") from None
    if not isinstance(table, dict) or not all(
        isinstance(name, str) and isinstance(url, str) and url.startswith(("http://", "https://"))
        for name, url in table.items()
    ):
        raise ConfigError(f'{GATEWAYS_ENV}: expected {{"connector": "http://host:port", ...}}')
    names = list(connectors) or list(table)
    missing = [name for name in names if name not in table]
    if missing:
        raise ConfigError(f"{GATEWAYS_ENV}: no URL for connector(s) {', '.join(missing)}")
    return {name: table[name] for name in names}


def gateway_venues(
    environ: Mapping[str, str] | None = None, connectors: Sequence[str] = ()
) -> list[GatewayVenue]:
    """A worker's gateways from its environment: ``AXIS_GATEWAYS`` (see :func:`gateway_urls`)
    and the optional ``AXIS_GATEWAY_TOKEN``; none when the variable is unset."""
    env = os.environ if environ is None else environ
    raw = env.get(GATEWAYS_ENV, "").strip()
    if not raw:
        return []
    token = env.get("AXIS_GATEWAY_TOKEN") or None
    return [
        GatewayVenue(url, name=name, token=token)
        for name, url in gateway_urls(raw, connectors).items()
    ]


def _params(**values: str | int | None) -> dict[str, str | int]:
    """Query parameters without the unset ones."""
    return {key: value for key, value in values.items() if value is not None}


def _order_path(client_order_id: str) -> str:
    return "/v1/orders/" + quote(client_order_id, safe="")
