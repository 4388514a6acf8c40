"""The gateway's HTTP API: one exchange account's venue operations, its event stream, and the
process endpoints every AXIS process has (``/healthz``, ``/readyz``, ``/status``, ``/metrics``).

Venue calls live under ``/v1`` and, when the gateway has a token (``AXIS_GATEWAY_TOKEN``),
need ``Authorization: Bearer <token>``; the process endpoints stay open to the kubelet and the
operator and carry nothing secret. Orders are identified by our client order id, and placing
one is idempotent: a retried ``POST /v1/orders`` with an id the gateway already holds answers
with that order's state and sends nothing to the exchange, so a lost reply never doubles it.

``WS /v1/stream?epoch=E&after=N`` pushes every order update, fill, funding and liquidation
after event ``N`` of gateway run ``E`` (see :mod:`axis.gateway.events`), after a ``hello``
message that says whether some of them are no longer kept (``gap``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from axis.domain.enums import MarginMode
from axis.domain.orders import Order
from axis.gateway import metrics, wire
from axis.gateway.events import EventLog
from axis.gateway.faults import Scrub, encode_error, error_kind
from axis.gateway.health import ExchangeHealth, health_source
from axis.observability.logging import get_logger
from axis.observability.metrics import render
from axis.venues.base import LiveVenue
from axis.venues.errors import NotSupported, VenueUnavailable

log = get_logger("axis.gateway")

JSON = "application/json"
WS_UNAUTHORIZED = 4401  # application close code: the stream's 401
SUBMITTED_KEPT = 100_000


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type=JSON)


def _bad_request(message: str) -> Response:
    return _json({"kind": "bad_request", "message": message}, 400)


class BadRequest(ValueError):
    """A request the gateway refuses before calling the venue; the message names the field."""


class Gateway:
    """The state behind the API: the venue, its event log, health and submitted orders."""

    def __init__(
        self,
        venue: LiveVenue,
        *,
        connector: str,
        exchange: str,
        token: str | None,
        scrub: Scrub,
        window: int | None = None,
    ) -> None:
        self.venue = venue
        self.connector = connector
        self.token = token
        self.scrub = scrub
        self.events = EventLog(scrub, window) if window else EventLog(scrub)
        self.health = ExchangeHealth(
            exchange=exchange, connector=connector, source=health_source(venue)
        )
        # Orders placed through this gateway, by client order id, oldest first: a repeated
        # placement is answered from here. Bounded; far more than any worker has in flight.
        self.submitted: OrderedDict[str, Order] = OrderedDict()
        self.connected = asyncio.Event()

    async def keep_connected(self, retry_s: float, probe_interval_s: float) -> None:
        """Connect the venue (retrying with backoff while the exchange is unreachable), then
        probe its health every ``probe_interval_s``."""
        delay = retry_s
        while True:
            try:
                await self.venue.connect(self.events)
                break
            except Exception as exc:  # whatever the exchange says, /status shows it and we retry
                self.health.reachable = False
                self.health.record_error(exc, self.scrub)
                log.warning("exchange connection failed", error=self.health.last_error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
        self.health.connected = True
        await self.health.probe(self.venue, self.scrub)
        self.connected.set()
        await asyncio.sleep(probe_interval_s)
        await self.health.run(self.venue, self.scrub, probe_interval_s)

    def authorized(self, header: str | None) -> bool:
        if not self.token:
            return True
        expected = f"Bearer {self.token}"
        return header is not None and hmac.compare_digest(header.encode(), expected.encode())

    def respond(self, body: Any, status: int = 200) -> Response:
        """A JSON response with any key material scrubbed (an exchange's reject reason may
        echo what was sent)."""
        return Response(self.scrub(json.dumps(body)), status_code=status, media_type=JSON)

    async def call(self, method: str, run: Callable[[], Awaitable[Any]]) -> Response:
        """Run one venue call, timed and counted; a venue error becomes its JSON body."""
        started = time.perf_counter()
        try:
            if not self.health.connected:
                raise VenueUnavailable("the gateway is not connected to the exchange yet")
            result = await run()
        except BadRequest as exc:
            return _bad_request(str(exc))
        except Exception as exc:
            self.health.record_error(exc, self.scrub)
            kind = error_kind(exc)
            log.warning("venue call failed", method=method, kind=kind, error=self.health.last_error)
            return self.respond(encode_error(exc, self.scrub), 500 if kind == "internal" else 502)
        finally:
            elapsed = time.perf_counter() - started
            metrics.request_duration.labels(self.connector, method).observe(elapsed)
        if isinstance(result, Response):
            return result
        return self.respond(result)


class TokenGuard:
    """Plain ASGI middleware (no per-request task, unlike ``@app.middleware``): venue calls
    under ``/v1/`` need the gateway's token when it has one."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
            if not self.gateway.authorized(None if header is None else header.decode("latin-1")):
                body = {"kind": "unauthorized", "message": "missing or wrong gateway token"}
                await _json(body, 401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("body: not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("body: expected a JSON object")
    return data


def _int(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name}: expected an integer") from None


def _market_data(venue: object, method: str) -> Callable[..., Awaitable[Any]]:
    """A market-data method of the venue; NotSupported (the taxonomy's) when it has none."""
    call = getattr(venue, method, None)
    if not callable(call):
        raise NotSupported(f"this venue does not serve {method}")
    return cast(Callable[..., Awaitable[Any]], call)


def _symbol(request: Request) -> str:
    symbol = request.query_params.get("symbol")
    if not symbol:
        raise BadRequest("symbol: query parameter required")
    return symbol


def create_gateway_app(
    venue: LiveVenue,
    *,
    connector: str,
    exchange: str,
    token: str | None = None,
    scrub: Scrub = lambda text: text,
    probe_interval_s: float = 15.0,
    window: int | None = None,
    connect_wait_s: float = 5.0,
) -> FastAPI:
    """The gateway of one account around ``venue`` (connected on startup, closed on
    shutdown). ``scrub`` removes key material from any text the gateway sends or logs.
    Startup waits up to ``connect_wait_s`` for the exchange; after that the gateway serves
    (not ready) and keeps connecting in the background."""
    gw = Gateway(
        venue,
        connector=connector,
        exchange=exchange,
        token=token or None,
        scrub=scrub,
        window=window,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Serve at once (liveness, /status) while the exchange connection comes up: a gateway
        # whose exchange is down reports it and keeps trying rather than crash-looping.
        keeper = asyncio.create_task(gw.keep_connected(connect_wait_s, probe_interval_s))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(connect_wait_s):
                await gw.connected.wait()
        # Markets, modules and the app are long-lived: keep them out of the collector's scans
        # so a full collection does not stall an order in flight.
        gc.freeze()
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            gw.health.connected = False
            await venue.close()

    app = FastAPI(title=f"AXIS gateway ({connector})", lifespan=lifespan, docs_url=None)
    app.state.gateway = gw

    app.add_middleware(TokenGuard, gateway=gw)

    # -- process endpoints --------------------------------------------------------------------
    @app.get("/healthz")
    async def healthz() -> Response:
        return _json({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> Response:
        ready = gw.health.ready
        return _json({"ready": ready}, 200 if ready else 503)

    @app.get("/status")
    async def status() -> Response:
        return _json(gw.health.status())

    @app.get("/metrics")
    async def prometheus() -> Response:
        body, content_type = render()
        return Response(body, media_type=content_type)

    # -- orders -------------------------------------------------------------------------------
    @app.post("/v1/orders")
    async def submit(request: Request) -> Response:
        async def run() -> Response:
            try:
                order = wire.decode_order(await _body(request))
            except wire.WireError as exc:
                raise BadRequest(str(exc)) from None
            known = gw.submitted.get(order.client_order_id)
            if known is not None:  # a retry: the order is already at the venue
                return gw.respond(wire.encode_order(known), 200)
            gw.submitted[order.client_order_id] = order
            if len(gw.submitted) > SUBMITTED_KEPT:
                gw.submitted.popitem(last=False)
            try:
                venue.submit(order)
            except BaseException:
                del gw.submitted[order.client_order_id]
                raise
            return gw.respond(wire.encode_order(order), 202)

        return await gw.call("submit", run)

    @app.delete("/v1/orders/{client_order_id}")
    async def cancel(client_order_id: str) -> Response:
        async def run() -> Response:
            venue.cancel(client_order_id)
            return gw.respond({"clientOrderId": client_order_id}, 202)

        return await gw.call("cancel", run)

    @app.get("/v1/orders/{client_order_id}")
    async def fetch_order(client_order_id: str, request: Request) -> Response:
        async def run() -> Any:
            symbol = _symbol(request)
            order = await venue.fetch_order(symbol, client_order_id)
            return None if order is None else wire.encode_order(order)

        return await gw.call("fetch_order", run)

    @app.get("/v1/orders")
    async def fetch_open_orders(request: Request) -> Response:
        async def run() -> Any:
            orders = await venue.fetch_open_orders(request.query_params.get("symbol") or None)
            return [wire.encode_order(order) for order in orders]

        return await gw.call("fetch_open_orders", run)

    # -- account ------------------------------------------------------------------------------
    @app.get("/v1/positions")
    async def fetch_positions() -> Response:
        async def run() -> Any:
            return [wire.encode_position(p) for p in await venue.fetch_positions()]

        return await gw.call("fetch_positions", run)

    @app.get("/v1/balances")
    async def fetch_balances() -> Response:
        async def run() -> Any:
            return [wire.encode_balance(b) for b in await venue.fetch_balances()]

        return await gw.call("fetch_balances", run)

    @app.get("/v1/trades")
    async def fetch_my_trades(request: Request) -> Response:
        async def run() -> Any:
            symbol = _symbol(request)
            since = request.query_params.get("since")
            try:
                since_ms = None if since is None else int(since)
            except ValueError:
                raise BadRequest("since: expected epoch milliseconds") from None
            fills = await venue.fetch_my_trades(symbol, since_ms)
            return [wire.encode_fill(f) for f in fills]

        return await gw.call("fetch_my_trades", run)

    @app.get("/v1/instrument")
    async def instrument(request: Request) -> Response:
        async def run() -> Any:
            symbol = _symbol(request)
            return wire.encode_instrument(await venue.instrument(symbol))

        return await gw.call("instrument", run)

    @app.put("/v1/leverage")
    async def set_leverage(request: Request) -> Response:
        async def run() -> Any:
            body = await _body(request)
            symbol, leverage = body.get("symbol"), body.get("leverage")
            if not isinstance(symbol, str) or not symbol:
                raise BadRequest("symbol: expected a market symbol")
            if isinstance(leverage, bool) or not isinstance(leverage, int | float):
                raise BadRequest("leverage: expected a number")
            if not leverage > 0:
                raise BadRequest("leverage: must be positive")
            await venue.set_leverage(symbol, float(leverage))
            return {"symbol": symbol, "leverage": float(leverage)}

        return await gw.call("set_leverage", run)

    @app.put("/v1/margin-mode")
    async def set_margin_mode(request: Request) -> Response:
        async def run() -> Any:
            body = await _body(request)
            symbol, mode = body.get("symbol"), body.get("mode")
            if not isinstance(symbol, str) or not symbol:
                raise BadRequest("symbol: expected a market symbol")
            if mode not in tuple(MarginMode):
                raise BadRequest(f"mode: expected one of {', '.join(MarginMode)}")
            await venue.set_margin_mode(symbol, str(mode))
            return {"symbol": symbol, "mode": mode}

        return await gw.call("set_margin_mode", run)

    # -- market data (what the exchange venue offers beyond the LiveVenue protocol) ----------
    @app.get("/v1/ohlcv")
    async def fetch_ohlcv(request: Request) -> Response:
        async def run() -> Any:
            symbol, timeframe = _symbol(request), request.query_params.get("timeframe")
            if not timeframe:
                raise BadRequest("timeframe: query parameter required")
            bars = await _market_data(venue, "fetch_ohlcv")(
                symbol,
                timeframe,
                _int(request, "since"),
                _int(request, "limit"),
                _int(request, "closedBefore"),
            )
            return [wire.encode_bar(bar) for bar in bars]

        return await gw.call("fetch_ohlcv", run)

    @app.get("/v1/ticker")
    async def fetch_ticker(request: Request) -> Response:
        async def run() -> Any:
            ticker = await _market_data(venue, "fetch_ticker")(_symbol(request))
            return wire.encode_ticker(ticker)

        return await gw.call("fetch_ticker", run)

    @app.get("/v1/order-book")
    async def fetch_order_book(request: Request) -> Response:
        async def run() -> Any:
            book = await _market_data(venue, "fetch_order_book")(
                _symbol(request), _int(request, "limit")
            )
            return wire.encode_order_book(book)

        return await gw.call("fetch_order_book", run)

    @app.get("/v1/funding-rate")
    async def fetch_funding_rate(request: Request) -> Response:
        async def run() -> Any:
            rate = await _market_data(venue, "fetch_funding_rate")(_symbol(request))
            return wire.encode_funding_rate(rate)

        return await gw.call("fetch_funding_rate", run)

    @app.get("/v1/funding-rates")
    async def fetch_funding_rate_history(request: Request) -> Response:
        async def run() -> Any:
            rates = await _market_data(venue, "fetch_funding_rate_history")(
                _symbol(request), _int(request, "since"), _int(request, "limit")
            )
            return [wire.encode_funding_rate(rate) for rate in rates]

        return await gw.call("fetch_funding_rate_history", run)

    # -- the event stream ---------------------------------------------------------------------
    @app.websocket("/v1/stream")
    async def stream(ws: WebSocket) -> None:
        if not gw.authorized(ws.headers.get("authorization")):
            await ws.close(code=WS_UNAUTHORIZED)
            return
        try:
            after = int(ws.query_params.get("after", "-1"))
        except ValueError:
            await ws.close(code=1008, reason="after: expected an event number")
            return
        await ws.accept()
        await _serve_stream(ws, gw.events, ws.query_params.get("epoch"), after)

    @app.exception_handler(BadRequest)
    async def bad_request(_request: Request, exc: BadRequest) -> JSONResponse:
        return JSONResponse({"kind": "bad_request", "message": str(exc)}, 400)

    return app


async def _serve_stream(ws: WebSocket, events: EventLog, epoch: str | None, after: int) -> None:
    """Replay what the client missed, then push each new event as it happens, until the
    client goes away."""
    replay = events.since(epoch, after)
    cursor = events.seq if after < 0 else (0 if replay.gap and epoch != events.epoch else after)
    hello = {"type": "hello", "epoch": events.epoch, "seq": events.seq, "gap": replay.gap}
    sender = asyncio.current_task()
    assert sender is not None

    async def watch_disconnect() -> None:
        # The client sends nothing; a receive returns only when it leaves.
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass
        sender.cancel()

    watcher = asyncio.create_task(watch_disconnect())
    try:
        await ws.send_text(json.dumps(hello))
        for seq, text in replay.events:
            await ws.send_text(text)
            cursor = seq
        while True:
            await events.wait(cursor)
            for seq, text in events.after(cursor):
                await ws.send_text(text)
                cursor = seq
    except (asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
        return
    finally:
        watcher.cancel()
