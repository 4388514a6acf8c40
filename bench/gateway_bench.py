"""`make bench`: what the exchange gateway adds to a venue call, on loopback.

The same paper exchange account (:class:`axis.gateway.paper.PaperExchange`, markets that do not
move) is driven twice, one call at a time:

  direct   the venue in this process, as a worker with an in-process exchange venue uses it;
  gateway  the venue in a gateway process of its own (uvicorn, uvloop + httptools), reached
           through GatewayVenue: HTTP for calls, the websocket stream for order updates.

Per call type, after a warm-up:

  submit   venue.submit(limit order) until the listener hears it acknowledged (SUBMITTED)
  cancel   venue.cancel(id) until the listener hears it cancelled
  query    await venue.fetch_order(symbol, id)

The overhead is the gateway's latency percentile minus the direct one (target: p99 < 5 ms).
Results: bench/gateway_results.json.

    .venv/bin/python bench/gateway_bench.py [--calls 3000] [--warmup 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services"))

from axis.domain.enums import OrderSide, OrderType  # noqa: E402
from axis.domain.orders import Fill, Order, OrderStatus  # noqa: E402
from axis.gateway.paper import PaperExchange  # noqa: E402
from axis.venues.base import FundingEvent, LiquidationEvent, LiveVenue  # noqa: E402

OUT = ROOT / "bench" / "gateway_results.json"
SYMBOL = "BTC/USDT:USDT"
PRICE = 40_000.0
TARGET_P99_MS = 5.0


class Waiter:
    """A listener that wakes the benchmark when an order reaches the status it waits for."""

    def __init__(self) -> None:
        self.wanted: tuple[str, OrderStatus] | None = None
        self.reached = asyncio.Event()

    def expect(self, client_order_id: str, status: OrderStatus) -> None:
        self.wanted = (client_order_id, status)
        self.reached.clear()

    def on_order_update(self, order: Order) -> None:
        if self.wanted == (order.client_order_id, order.status):
            self.reached.set()

    def on_fill(self, order: Order, fill: Fill) -> None:
        raise AssertionError("nothing fills in this benchmark")

    def on_funding(self, event: FundingEvent) -> None:
        pass

    def on_liquidation(self, event: LiquidationEvent) -> None:
        pass


async def measure(venue: LiveVenue, waiter: Waiter, calls: int, warmup: int) -> dict[str, Any]:
    """Latencies in milliseconds of each call type, warm-up excluded."""
    clock = time.perf_counter
    samples: dict[str, list[float]] = {"submit": [], "cancel": [], "query": []}
    for i in range(warmup + calls):
        cid = f"bench-{i}"
        order = Order(cid, SYMBOL, OrderSide.BUY, OrderType.LIMIT, 0.001, price=PRICE * 0.5)
        started = clock()
        waiter.expect(cid, OrderStatus.SUBMITTED)
        venue.submit(order)
        await waiter.reached.wait()
        submitted = clock()
        fetched = await venue.fetch_order(SYMBOL, cid)
        queried = clock()
        assert fetched is not None
        assert fetched.status is OrderStatus.SUBMITTED
        waiter.expect(cid, OrderStatus.CANCELLED)
        venue.cancel(cid)
        await waiter.reached.wait()
        cancelled = clock()
        if i >= warmup:
            samples["submit"].append((submitted - started) * 1000)
            samples["query"].append((queried - submitted) * 1000)
            samples["cancel"].append((cancelled - queried) * 1000)
    return {kind: summary(values) for kind, values in samples.items()}


def summary(values: list[float]) -> dict[str, float]:
    array = np.asarray(values)
    return {
        "n": len(values),
        "p50_ms": round(float(np.percentile(array, 50)), 3),
        "p99_ms": round(float(np.percentile(array, 99)), 3),
        "max_ms": round(float(array.max()), 3),
    }


# -- the gateway process ----------------------------------------------------------------------
def serve(port: int) -> None:
    """Child process: a gateway on a paper account (``--serve PORT``)."""
    import uvicorn

    from axis.gateway import create_gateway_app

    app = create_gateway_app(
        PaperExchange.flat({SYMBOL: PRICE}), connector="bench", exchange="binance"
    )
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        ws_ping_interval=None,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/readyz", timeout=1).status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the gateway at {url} did not become ready")


async def run_direct(calls: int, warmup: int) -> dict[str, Any]:
    exchange = PaperExchange.flat({SYMBOL: PRICE})
    waiter = Waiter()
    await exchange.connect(waiter)
    return await measure(exchange, waiter, calls, warmup)


async def run_gateway(url: str, calls: int, warmup: int) -> dict[str, Any]:
    from axis.venues.gateway import GatewayVenue

    venue = GatewayVenue(url, name="bench")
    waiter = Waiter()
    await venue.connect(waiter)
    try:
        return await measure(venue, waiter, calls, warmup)
    finally:
        await venue.close()


def overhead(direct: dict[str, Any], gateway: dict[str, Any]) -> dict[str, Any]:
    return {
        kind: {
            "p50_ms": round(gateway[kind]["p50_ms"] - direct[kind]["p50_ms"], 3),
            "p99_ms": round(gateway[kind]["p99_ms"] - direct[kind]["p99_ms"], 3),
        }
        for kind in direct
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return
    import uvloop

    runner: Callable[[Any], Any] = uvloop.run
    direct = runner(run_direct(args.calls, args.warmup))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        wait_ready(url)
        gateway = runner(run_gateway(url, args.calls, args.warmup))
    finally:
        child.terminate()
        child.wait(timeout=10)
    added = overhead(direct, gateway)
    worst = max(v["p99_ms"] for v in added.values())
    result = {
        "machine": {
            "python": platform.python_version(),
            "cpus": _cpus(),
            # p99 on loopback is mostly scheduling: a busy machine shows in the tail
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
        "calls": args.calls,
        "direct": direct,
        "gateway": gateway,
        "overhead": added,
        "target_p99_overhead_ms": TARGET_P99_MS,
        "meets_target": worst < TARGET_P99_MS,
    }
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"gateway overhead on loopback, {args.calls} calls each (ms)")
    print(
        f"{'call':<8}{'direct p50':>12}{'p99':>8}{'gateway p50':>13}{'p99':>8}"
        f"{'added p50':>11}{'p99':>8}"
    )
    for kind in direct:
        d, g, a = direct[kind], gateway[kind], added[kind]
        print(
            f"{kind:<8}{d['p50_ms']:>12.3f}{d['p99_ms']:>8.3f}{g['p50_ms']:>13.3f}"
            f"{g['p99_ms']:>8.3f}{a['p50_ms']:>11.3f}{a['p99_ms']:>8.3f}"
        )
    verdict = "meets" if result["meets_target"] else "MISSES"
    print(f"worst added p99 {worst:.3f} ms: {verdict} the {TARGET_P99_MS:g} ms target")
    print(f"load average {result['machine']['load_average']} on {_cpus()} CPUs")
    print(f"wrote {OUT.relative_to(ROOT)}")


def _cpus() -> int:
    return os.cpu_count() or 0


if __name__ == "__main__":
    main()
