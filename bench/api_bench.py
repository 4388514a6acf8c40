"""`make bench`: the REST API under load, on loopback, with PostgreSQL and Redis.

The API runs in its own process (uvicorn, one worker, uvloop + httptools) against a fresh
PostgreSQL database and a Redis key prefix of its own; this process drives it with an
open-loop load generator (asyncio, raw HTTP/1.1 keep-alive connections): requests are sent on a
fixed schedule whatever the answers do, and each latency is measured from the request's
*scheduled* time, so a server that falls behind is charged for the queue it builds
(no coordinated omission).

Scenarios, each after a short warm-up:

  market     GET /api/v2/data/market/{BTCUSDT|XRPUSDT}        500 req/s   (target p99 < 50 ms)
  portfolio  GET /api/v2/users/{id}/portfolio, 200 users        500 req/s   (target p99 < 50 ms)
  open       POST /api/v2/positions/open, full risk chain        50 req/s   (target p99 < 100 ms)

Cache hit rate per scenario comes from the server's own ``cache_requests_total`` counter
(target > 95% for the two reads). The global per-IP limit is raised for the run, since every
request comes from 127.0.0.1; the per-user limit on opens (10 a minute) stays, so the open
scenario spreads its orders over enough users. Results: bench/api_results.json.

    .venv/bin/python bench/api_bench.py [--seconds 20] [--rate 500] [--open-rate 50]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services"))

from axis.config.settings import AxisSettings  # noqa: E402
from axis.security import build_security  # noqa: E402
from axis.store import Database, UserRepository  # noqa: E402

OUT = ROOT / "bench" / "api_results.json"
PG_ADMIN = os.environ.get("AXIS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("AXIS_BENCH_REDIS", "redis://127.0.0.1:6379/0")
READ_KINDS = {
    "market": ("market_ohlcv", "market_indicators", "user_account"),
    "portfolio": ("user_account", "user_positions", "market_mark"),
    "open": ("user_account", "market_mark"),
}


# -- load generator ---------------------------------------------------------------------------
@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""

    def encode(self) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", "Host: 127.0.0.1"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        if self.body:
            lines += ["Content-Type: application/json", f"Content-Length: {len(self.body)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass
class Outcome:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes
) -> int:
    writer.write(payload)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    match = re.search(rb"(?i)content-length:\s*(\d+)", head)
    if match:
        await reader.readexactly(int(match.group(1)))
    return status


async def run_load(
    port: int, requests: list[Request], rate: float, seconds: float, connections: int
) -> Outcome:
    """Send ``rate`` requests per second for ``seconds`` on a fixed schedule."""
    outcome = Outcome()
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    total = int(rate * seconds)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(i: int) -> None:
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - loop.time()))
        conn = await pool.get()
        try:
            status = await _exchange(*conn, requests[i % len(requests)].encode())
            outcome.statuses[status] = outcome.statuses.get(status, 0) + 1
            pool.put_nowait(conn)
        except (OSError, asyncio.IncompleteReadError):
            outcome.errors += 1
            conn[1].close()
            pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
        outcome.latencies_ms.append((loop.time() - scheduled) * 1000)

    # The generator's own collector pauses would be charged to the server (latency counts from
    # the scheduled time): the run allocates no cycles, so it runs with the collector off.
    gc.collect()
    gc.disable()
    try:
        await asyncio.gather(*(one(i) for i in range(total)))
    finally:
        gc.enable()
    while not pool.empty():
        _, writer = pool.get_nowait()
        writer.close()
    return outcome


# -- the server -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cache_counts(port: int) -> dict[tuple[str, str], float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    counts: dict[tuple[str, str], float] = {}
    for kind, result, value in re.findall(
        r'^cache_requests_total\{kind="([^"]+)",result="([^"]+)"\} ([0-9.e+]+)$', text, re.M
    ):
        counts[(kind, result)] = float(value)
    return counts


def hit_rate(before: dict, after: dict, kinds: tuple[str, ...]) -> float:
    hits = total = 0.0
    for (kind, result), value in after.items():
        if kind not in kinds:
            continue
        delta = value - before.get((kind, result), 0.0)
        total += delta
        hits += delta if result == "hit" else 0.0
    return hits / total if total else float("nan")


def summarise(name: str, outcome: Outcome, seconds: float, rate: float, hits: float) -> dict:
    lat = np.asarray(outcome.latencies_ms)
    ok = sum(v for k, v in outcome.statuses.items() if 200 <= k < 300)
    return {
        "scenario": name,
        "target_rate": rate,
        "requests": int(lat.size),
        "achieved_rate": lat.size / seconds,
        "ok": ok,
        "statuses": {str(k): v for k, v in sorted(outcome.statuses.items())},
        "errors": outcome.errors,
        "p50_ms": float(np.percentile(lat, 50)),
        "p95_ms": float(np.percentile(lat, 95)),
        "p99_ms": float(np.percentile(lat, 99)),
        "max_ms": float(lat.max()),
        "cache_hit_rate": hits,
    }


def prepare(settings: AxisSettings, users: int) -> tuple[list[int], dict[int, str]]:
    """Users created in the store directly (the bench measures trading, not argon2), and
    tokens minted with the platform's key (shared through the secrets file)."""
    db = Database(settings.resolved_database_url)
    db.upgrade()
    security = build_security(settings)
    hashed = security.passwords.hash("bench password, never used to log in")
    ids: list[int] = []
    with db.session() as session:
        repo = UserRepository(session)
        for i in range(users):
            ids.append(repo.create(f"bench{i}", f"bench{i}@example.com", hashed).id)
    db.dispose()
    return ids, {uid: security.tokens.access_token(uid).token for uid in ids}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def open_body(user_id: int, symbol: str, side: str) -> bytes:
    return json.dumps(
        {"user_id": user_id, "symbol": symbol, "side": side, "leverage": 3, "size_usdt": 100}
    ).encode()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def scenario(
    port: int,
    pid: int,
    name: str,
    requests: list[Request],
    rate: float,
    seconds: float,
    warm: float,
) -> dict:
    connections = max(8, int(rate * 0.05))
    if warm > 0:
        await run_load(port, requests, min(rate, 100), warm, connections)
    before, cpu_before = cache_counts(port), cpu_seconds(pid)
    outcome = await run_load(port, requests, rate, seconds, connections)
    cpu = cpu_seconds(pid) - cpu_before
    after = cache_counts(port)
    result = summarise(name, outcome, seconds, rate, hit_rate(before, after, READ_KINDS[name]))
    result["server_cpu_ms_per_request"] = cpu * 1000 / max(len(outcome.latencies_ms), 1)
    result["load_average_1m"] = os.getloadavg()[0]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--open-rate", type=float, default=50.0)
    parser.add_argument("--open-seconds", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=200)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            pass
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except (psycopg.Error, redis.RedisError) as exc:
        print(f"api bench skipped: needs PostgreSQL ({PG_ADMIN}) and Redis ({REDIS_URL}): {exc}")
        return 0

    database = f"axis_bench_{uuid.uuid4().hex[:8]}"
    prefix = f"axis-bench-{uuid.uuid4().hex[:8]}:"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    folder = tempfile.TemporaryDirectory(prefix="axis-bench-")
    env = {
        "AXIS_DATA_DIR": folder.name,
        "AXIS_DATABASE_URL": f"{PG_ADMIN.rsplit('/', 1)[0]}/{database}",
        "AXIS_REDIS_URL": REDIS_URL,
        "AXIS_CACHE_PREFIX": prefix,
        "AXIS_REQUESTS_PER_MINUTE_PER_IP": "100000000",
        "AXIS_LOG_LEVEL": "warning",
        "AXIS_PASSWORD_MEMORY_KIB": "1024",
        "AXIS_PASSWORD_TIME_COST": "1",
    }
    os.environ.update(env)
    settings = AxisSettings()
    open_users = max(int(args.open_rate * args.open_seconds / 8) + 1, 1)
    ids, tokens = prepare(settings, args.users + open_users)
    read_users, trade_users = ids[: args.users], ids[args.users :]
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "axis.api.asgi:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT / "services")},
        cwd=ROOT,
    )
    results: list[dict[str, Any]] = []
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise RuntimeError("the API did not start") from None
                time.sleep(0.2)
        # every portfolio user holds a position, so the summary has something to value
        for uid in read_users:
            body = open_body(uid, "BTCUSDT", "LONG")
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v2/positions/open",
                data=body,
                headers={**auth(tokens[uid]), "Content-Type": "application/json"},
            )
            urllib.request.urlopen(request, timeout=10).read()
        market = [
            Request("GET", f"/api/v2/data/market/{symbol}?timeframe=15m", auth(tokens[uid]))
            for uid in read_users[:20]
            for symbol in ("BTCUSDT", "XRPUSDT")
        ]
        portfolio = [
            Request("GET", f"/api/v2/users/{uid}/portfolio", auth(tokens[uid]))
            for uid in read_users
        ]
        opens = [
            Request(
                "POST",
                "/api/v2/positions/open",
                auth(tokens[uid]),
                open_body(uid, symbol, "SHORT" if symbol == "XRPUSDT" else "LONG"),
            )
            for round_ in range(4)
            for uid in trade_users
            for symbol in (("BTCUSDT",) if round_ % 2 == 0 else ("XRPUSDT",))
        ]
        pid = server.pid
        results.append(
            asyncio.run(scenario(port, pid, "market", market, args.rate, args.seconds, 2))
        )
        results.append(
            asyncio.run(scenario(port, pid, "portfolio", portfolio, args.rate, args.seconds, 2))
        )
        results.append(
            asyncio.run(scenario(port, pid, "open", opens, args.open_rate, args.open_seconds, 0))
        )
    finally:
        server.terminate()
        server.wait(timeout=20)
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        folder.cleanup()

    targets = {"market": 50.0, "portfolio": 50.0, "open": 100.0}
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
        },
        "server": "uvicorn, 1 worker, uvloop + httptools; PostgreSQL 127.0.0.1; Redis 127.0.0.1",
        "results": results,
    }
    OUT.write_text(json.dumps(report, indent=2))
    passed = True
    print(f"load average before the run: {load_before:.2f} on {os.cpu_count()} CPUs")
    print(
        "scenario    rate req/s   requests   ok      p50 ms   p95 ms   p99 ms   hit rate"
        "  cpu ms/req"
    )
    for r in results:
        target = targets[r["scenario"]]
        meets = r["p99_ms"] < target and r["ok"] == r["requests"]
        if r["scenario"] != "open":
            meets = meets and r["cache_hit_rate"] > 0.95
        passed &= meets
        print(
            f"{r['scenario']:<11} {r['achieved_rate']:>6.0f}/{r['target_rate']:<5.0f}"
            f" {r['requests']:>8} {r['ok']:>6} {r['p50_ms']:>9.2f} {r['p95_ms']:>8.2f}"
            f" {r['p99_ms']:>8.2f} {r['cache_hit_rate']:>9.1%}"
            f" {r['server_cpu_ms_per_request']:>9.2f}"
            f"   (p99 target < {target:.0f} ms)"
            f"{'' if meets else '  MISSED'}"
        )
    print(f"wrote {OUT}")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
