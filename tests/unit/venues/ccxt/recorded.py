"""ccxt's real exchange classes with their HTTP layer fed from recorded payloads.

The recorded payloads are ccxt's own static-test fixtures in ``../shared/fixtures/ccxt`` (see
its README). :class:`RecordedHttp` stands in for the aiohttp session under ccxt's async
``fetch``: ccxt's own request signing, response decoding and error mapping (``handle_errors``,
HTTP status codes) all run; only the socket is replaced. Every request is captured, and replies
or faults (timeouts, dropped connections, 429s, 5xx, malformed JSON) are scripted per call.

Reusable by any test that needs an exchange behind a venue (CcxtVenue in-process, or behind the
gateway): build a :class:`RecordedExchange`, script its ``http``, hand its ``exchange`` on.
"""

from __future__ import annotations

import copy
import json
import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import ccxt.async_support as ccxt_async
import pytest

FIXTURES = Path(
    os.environ.get(
        "AXIS_CCXT_FIXTURES",
        Path(__file__).resolve().parents[4].parent / "shared" / "fixtures" / "ccxt",
    )
)
EXCHANGES = ("binance", "okx", "gate", "bybit")

# Options that skip the account-type probes (bybit /v5/user/query-api, gate
# /api/v4/account/detail) so a recorded endpoint is the only call a method makes.
_TEST_OPTIONS: dict[str, dict[str, Any]] = {
    "bybit": {"enableUnifiedAccount": True, "enableUnifiedMargin": False},
    "gate": {"unifiedAccount": False},
}


def require_fixtures() -> None:
    if not FIXTURES.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"ccxt fixtures missing at {FIXTURES}")
        pytest.skip(f"ccxt fixtures not found at {FIXTURES} (set AXIS_CCXT_FIXTURES)")


def load(kind: str, exchange_id: str) -> Any:
    return json.loads((FIXTURES / kind / f"{exchange_id}.json").read_text())


def response_entry(exchange_id: str, method: str, index: int = 0) -> dict[str, Any]:
    entries = [e for e in load("response", exchange_id)["methods"][method] if not e.get("disabled")]
    return copy.deepcopy(entries[index])


def response_entries(exchange_id: str, method: str) -> list[dict[str, Any]]:
    methods = load("response", exchange_id)["methods"]
    return [copy.deepcopy(e) for e in methods.get(method, []) if not e.get("disabled")]


def plain_entry(exchange_id: str, method: str, max_args: int = 4) -> dict[str, Any] | None:
    """The first recorded entry of ``method`` called without exchange-specific params."""
    for entry in response_entries(exchange_id, method):
        args = entry["input"]
        if len(args) <= max_args and not any(isinstance(a, dict) for a in args):
            return entry
    return None


def exchanges_with(method: str, max_args: int = 4) -> list[str]:
    """The exchanges with a plain recording of ``method``: a test parametrized over these
    runs where there is something to check and is never collected only to be skipped
    (none without the fixtures, which the ``recorded`` fixture reports)."""
    if not FIXTURES.is_dir():
        return []
    return [e for e in EXCHANGES if plain_entry(e, method, max_args) is not None]


def request_entry(exchange_id: str, method: str, inputs: list[Any]) -> dict[str, Any]:
    """The recorded request for ``method`` called with exactly ``inputs``."""
    for entry in load("request", exchange_id)["methods"][method]:
        if entry["input"] == inputs:
            return copy.deepcopy(entry)
    raise KeyError(f"{exchange_id} has no recorded {method}{inputs}")


# -- the fake socket ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    body: Any = None  # a JSON value, or a str sent as is (malformed JSON, HTML error pages)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body if isinstance(self.body, str) else json.dumps(self.body)


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: str | None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))


class _Response:
    def __init__(self, reply: Reply) -> None:
        self.status = reply.status
        self.reason = "OK" if reply.status < 400 else "Error"
        self.headers = dict(reply.headers)
        self._text = reply.text

    async def text(self, errors: str = "strict") -> str:
        return self._text


class _Exchange:
    """One request/response exchange: the async context manager aiohttp's methods return."""

    def __init__(self, http: RecordedHttp, request: Request) -> None:
        self.http = http
        self.request = request

    async def __aenter__(self) -> _Response:
        self.http.requests.append(self.request)
        item = self.http.next_reply()
        if isinstance(item, BaseException):
            raise item
        return _Response(item)

    async def __aexit__(self, *exc: object) -> None:
        return None


class RecordedHttp:
    """A stand-in for aiohttp.ClientSession: serves scripted replies, captures requests.

    Replies queued with :meth:`then` are served first, one per request; after them every
    request gets the ``default`` reply (as ccxt's static tests do: every call of the method
    receives the recorded body).
    """

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.default: Reply | BaseException = Reply({})
        self.queue: deque[Reply | BaseException] = deque()
        self.closed = False
        self.headers: dict[str, str] = {}  # session-wide headers ccxt merges into each request

    def serve(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.default = Reply(body, status, headers or {})

    def then(self, *items: Reply | BaseException) -> None:
        self.queue.extend(items)

    def next_reply(self) -> Reply | BaseException:
        item = self.queue.popleft() if self.queue else self.default
        if isinstance(item, Reply):
            return Reply(copy.deepcopy(item.body), item.status, item.headers)
        return item

    def _request(
        self, method: str, url: Any, data: Any = None, headers: Any = None, **_: Any
    ) -> _Exchange:
        body = data.decode() if isinstance(data, bytes) else data
        return _Exchange(self, Request(method, str(url), dict(headers or {}), body))

    def get(self, url: Any, **kw: Any) -> _Exchange:
        return self._request("GET", url, **kw)

    def post(self, url: Any, **kw: Any) -> _Exchange:
        return self._request("POST", url, **kw)

    def put(self, url: Any, **kw: Any) -> _Exchange:
        return self._request("PUT", url, **kw)

    def delete(self, url: Any, **kw: Any) -> _Exchange:
        return self._request("DELETE", url, **kw)

    async def close(self) -> None:
        self.closed = True

    def calls_to(self, fragment: str) -> list[Request]:
        return [r for r in self.requests if fragment in r.path]


# Faults as aiohttp raises them under ccxt's fetch (which maps them to ccxt errors).
def timeout() -> BaseException:
    return TimeoutError()


def connection_reset() -> BaseException:
    return aiohttp.ClientConnectionError("Connection reset by peer")


def too_many_requests(retry_after: float | None = None) -> Reply:
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    return Reply({"code": -1003, "msg": "Too many requests."}, status=429, headers=headers)


def server_error(status: int = 503) -> Reply:
    return Reply("<html><body>Service Unavailable</body></html>", status=status)


def malformed_json() -> Reply:
    return Reply('{"orderId": 12, "status": "NEW"', status=200)  # cut off mid-object


# -- the exchange ------------------------------------------------------------------------------


def _tick_precision(markets: dict[str, Any]) -> dict[str, Any]:
    """binance's market file gives decimal places; ccxt 4.5 uses tick sizes (README)."""
    for market in markets.values():
        precision = market.get("precision") or {}
        for key in ("amount", "price", "base", "quote"):
            value = precision.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                precision[key] = 10.0**-value
    return markets


@dataclass
class RecordedExchange:
    exchange_id: str
    exchange: Any
    http: RecordedHttp

    def serve_recorded(self, method: str, index: int = 0) -> dict[str, Any]:
        """Serve the recorded httpResponse of ``method`` to every request; returns the entry."""
        entry = response_entry(self.exchange_id, method, index)
        self.http.serve(entry["httpResponse"])
        return entry


def recorded_exchange(exchange_id: str, options: dict[str, Any] | None = None) -> RecordedExchange:
    """A real ccxt async exchange with the recorded markets and currencies preloaded, dummy
    keys, and :class:`RecordedHttp` as its HTTP session."""
    require_fixtures()
    file_options = load("response", exchange_id).get("options") or {}
    config = {
        "apiKey": "recorded-key",
        "secret": "recorded-secret",
        "password": "recorded-pass",
        "options": {**file_options, **_TEST_OPTIONS.get(exchange_id, {}), **(options or {})},
    }
    exchange = getattr(ccxt_async, exchange_id)(config)
    markets = _tick_precision(load("markets", exchange_id))
    currencies = load("currencies", exchange_id)
    exchange.set_markets(markets, currencies)
    # A second pass over the unified structures fills keys the raw files lack (README).
    exchange.set_markets(list(exchange.markets.values()), currencies)
    exchange.timeout_on_exit = 0  # close() waits this long for sockets: there are none
    http = RecordedHttp()
    exchange.session = http
    exchange.own_session = False
    return RecordedExchange(exchange_id, exchange, http)


def compare_request(
    exchange_id: str,
    entry: dict[str, Any],
    request: Request,
    client_id_param: str,
    also_skip: frozenset[str] = frozenset(),
) -> None:
    """Assert a captured request matches the recorded one: same path, and the same query and
    body as key/value maps, ignoring skipKeys and our client order id field."""
    spec = load("request", exchange_id)
    skip = set(spec.get("skipKeys") or []) | {client_id_param} | also_skip
    recorded = urlsplit(entry["url"])
    assert request.path == recorded.path, (request.url, entry["url"])

    def strip(pairs: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in pairs.items() if k not in skip}

    ours = strip(request.query)
    expected = strip(dict(parse_qsl(recorded.query, keep_blank_values=True)))
    output = entry.get("output")
    if output is not None:
        if spec.get("outputType") == "urlencoded":
            expected.update(strip(dict(parse_qsl(output, keep_blank_values=True))))
            ours.update(strip(dict(parse_qsl(request.body or "", keep_blank_values=True))))
        else:
            expected_body = json.loads(output)
            our_body = json.loads(request.body or "null")
            if isinstance(expected_body, list):  # okx batch endpoints wrap one order
                expected_body, our_body = expected_body[0], our_body[0]
            expected.update(strip(expected_body))
            ours.update(strip(our_body))
    assert ours == expected, (ours, expected)
