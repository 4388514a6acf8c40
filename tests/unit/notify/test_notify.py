"""Alert notifications: the throttle, the channels' real HTTP requests (a local server stands in
for Slack, Telegram and a webhook), retries and timeouts, and that delivery never blocks the
caller nor leaks a URL or token."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio
import structlog
from aiohttp import web

from axis.config.settings import AxisSettings
from axis.notify import (
    AlertDispatcher,
    AlertThrottle,
    DeliveryError,
    LogNotifier,
    RetryPolicy,
    SlackNotifier,
    TelegramNotifier,
    WebhookNotifier,
    build_notifiers,
    notifications,
    start_notifications,
)
from axis.observability import logging as log_module
from axis.observability.alerts import Alert, raise_alert
from axis.observability.logging import configure_logging

TOKEN = "123456:AAF-secret-bot-token"
SLACK_PATH = "/services/T000/B000/secretslackpart"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the throttle -----------------------------------------------------------------------------
def test_repeats_inside_the_window_are_held_back_and_counted() -> None:
    clock = FakeClock()
    throttle = AlertThrottle(window_s=60, clock=clock)
    first = Alert("venue_down", "binance unreachable")
    assert throttle.admit(first) == 0
    clock.now += 10
    assert throttle.admit(Alert("venue_down", "binance unreachable")) is None
    assert throttle.admit(Alert("venue_down", "binance unreachable")) is None
    assert throttle.admit(Alert("venue_down", "bybit unreachable")) == 0  # another message
    clock.now += 60
    assert throttle.admit(Alert("venue_down", "binance unreachable")) == 2
    clock.now += 61
    assert throttle.admit(Alert("venue_down", "binance unreachable")) == 0


def test_severity_floor_and_per_minute_cap() -> None:
    clock = FakeClock()
    throttle = AlertThrottle(window_s=0, max_per_minute=3, min_severity="critical", clock=clock)
    assert throttle.admit(Alert("slow_job", "x", severity="warning")) is None
    admitted = [throttle.admit(Alert("k", f"m{i}")) for i in range(5)]
    assert admitted == [0, 0, 0, None, None]
    assert throttle.dropped == 2
    clock.now += 60
    assert throttle.admit(Alert("k", "m9")) == 0


# -- a local server standing in for Slack, Telegram and a webhook -------------------------------
@dataclass
class Capture:
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    url: str = ""


@pytest_asyncio.fixture
async def server() -> AsyncIterator[Capture]:
    capture = Capture()

    async def slack(request: web.Request) -> web.Response:
        capture.requests.append((request.path, await request.json()))
        return web.Response(text="ok")

    async def telegram(request: web.Request) -> web.Response:
        body = await request.json()
        capture.requests.append((request.path, body))
        if request.match_info["token"] != TOKEN:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        return web.json_response({"ok": True, "result": {"message_id": 1, "text": body["text"]}})

    async def hook(request: web.Request) -> web.Response:
        capture.requests.append((request.path, await request.json()))
        return web.json_response({"received": True})

    app = web.Application()
    app.router.add_post(SLACK_PATH, slack)
    app.router.add_post("/bot{token}/sendMessage", telegram)
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)  # the stand-in's own log is not ours
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    capture.url = f"http://127.0.0.1:{port}"
    yield capture
    await runner.cleanup()


def _settings(base: str) -> AxisSettings:
    return AxisSettings(
        notify_slack_webhook_url=base + SLACK_PATH,
        notify_telegram_bot_token=TOKEN,
        notify_telegram_chat_id="-100200300",
        notify_telegram_api_url=base,
        notify_webhook_url=base + "/hook",
    )


@pytest.mark.asyncio
async def test_raise_alert_reaches_every_configured_channel_over_http(server: Capture) -> None:
    dispatcher = await start_notifications(_settings(server.url))
    try:
        raise_alert("venue_failover", "binance breaker open", venue="binance", policy="mirror")
        await dispatcher.drain()
    finally:
        await dispatcher.stop()
    by_path = dict(server.requests)
    slack = by_path[SLACK_PATH]
    assert set(slack) == {"text"}
    assert slack["text"].startswith("[CRITICAL] venue_failover: binance breaker open")
    assert "policy: mirror" in slack["text"]
    telegram = by_path[f"/bot{TOKEN}/sendMessage"]
    assert telegram["chat_id"] == "-100200300"
    assert telegram["text"] == slack["text"]
    assert "parse_mode" not in telegram  # plain text: nothing in an alert needs escaping
    hook = by_path["/hook"]
    assert hook["kind"] == "venue_failover"
    assert hook["severity"] == "critical"
    assert hook["venue"] == "binance"
    assert hook["policy"] == "mirror"
    assert dispatcher.delivered == {"log": 1, "slack": 1, "telegram": 1, "webhook": 1}


@pytest.mark.asyncio
async def test_repeats_are_not_resent_and_the_next_notice_counts_them(server: Capture) -> None:
    clock = FakeClock()
    hook = WebhookNotifier(server.url + "/hook")
    dispatcher = AlertDispatcher([hook], throttle=AlertThrottle(window_s=30, clock=clock))
    await dispatcher.start()
    try:
        for _ in range(4):
            raise_alert("reconcile_mismatch", "BTC/USDT:USDT position differs")
        await dispatcher.drain()
        assert len(server.requests) == 1
        clock.now += 31
        raise_alert("reconcile_mismatch", "BTC/USDT:USDT position differs")
        await dispatcher.drain()
    finally:
        await dispatcher.stop()
    assert [body.get("repeated") for _, body in server.requests] == [None, 3]


@pytest.mark.asyncio
async def test_telegram_refusal_is_final_and_names_no_token(server: Capture) -> None:
    wrong = TelegramNotifier("999:wrong-token", "1", api_url=server.url)
    with pytest.raises(DeliveryError) as refused:
        await wrong.send(Alert("k", "m"))
    await wrong.aclose()
    assert "Unauthorized" in str(refused.value)
    assert "wrong-token" not in str(refused.value)
    assert "wrong-token" not in repr(wrong)
    assert len(server.requests) == 1  # a 401 is not retried


# -- retries, timeouts, refusals (httpx's mock transport) -----------------------------------------
class Script:
    """Answers requests from a list of responses or exceptions, recording each request."""

    def __init__(self, *steps: httpx.Response | Exception) -> None:
        self.steps = list(steps)
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.mark.asyncio
async def test_5xx_and_timeouts_are_retried_with_backoff_then_delivered() -> None:
    script = Script(
        httpx.Response(503, text="unavailable"),
        httpx.ReadTimeout("slow"),
        httpx.Response(200, text="ok"),
    )
    sleeps = Sleeps()
    slack = SlackNotifier(
        "https://hooks.example/services/x",
        retry=RetryPolicy(attempts=3, backoff_s=0.5),
        transport=httpx.MockTransport(script),
        sleep=sleeps,
    )
    await slack.send(Alert("k", "m"))
    assert len(script.seen) == 3
    assert sleeps.waits == [0.5, 1.0]
    assert json.loads(script.seen[-1].content)["text"].startswith("[CRITICAL] k: m")


@pytest.mark.asyncio
async def test_rate_limits_honour_retry_after_up_to_the_cap() -> None:
    script = Script(
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(429, json={"ok": False, "parameters": {"retry_after": 600}}),
        httpx.Response(200, json={"ok": True, "result": {}}),
    )
    sleeps = Sleeps()
    telegram = TelegramNotifier(
        TOKEN,
        "42",
        retry=RetryPolicy(attempts=3, max_wait_s=30),
        transport=httpx.MockTransport(script),
        sleep=sleeps,
    )
    await telegram.send(Alert("k", "m"))
    assert sleeps.waits == [7.0, 30.0]
    assert script.seen[0].url.path == f"/bot{TOKEN}/sendMessage"


@pytest.mark.asyncio
async def test_bounded_attempts_then_a_credential_free_error() -> None:
    script = Script(*(httpx.ConnectError(f"cannot reach {TOKEN}") for _ in range(3)))
    telegram = TelegramNotifier(
        TOKEN,
        "42",
        retry=RetryPolicy(attempts=3),
        transport=httpx.MockTransport(script),
        sleep=Sleeps(),
    )
    with pytest.raises(DeliveryError) as gave_up:
        await telegram.send(Alert("k", "m"))
    assert len(script.seen) == 3
    assert "gave up after 3 attempts (ConnectError)" in str(gave_up.value)
    assert TOKEN not in str(gave_up.value)
    assert gave_up.value.__cause__ is None
    ok_false = Script(httpx.Response(200, json={"ok": False, "description": "chat not found"}))
    lost = TelegramNotifier(TOKEN, "42", transport=httpx.MockTransport(ok_false))
    with pytest.raises(DeliveryError, match="chat not found"):
        await lost.send(Alert("k", "m"))


# -- never blocking, never leaking ----------------------------------------------------------------
class Stuck:
    """A channel that never answers."""

    name = "stuck"

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, alert: Alert, repeated: int = 0) -> None:
        self.started.set()
        await self.release.wait()

    async def aclose(self) -> None:
        self.release.set()


@pytest.mark.asyncio
async def test_a_stuck_channel_never_blocks_raise_alert_and_the_queue_is_bounded() -> None:
    stuck = Stuck()
    dispatcher = AlertDispatcher(
        [stuck], throttle=AlertThrottle(window_s=0, max_per_minute=1000), queue_size=2
    )
    await dispatcher.start()
    try:
        raise_alert("k", "first")
        await asyncio.wait_for(stuck.started.wait(), 1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for i in range(5):
            raise_alert("k", f"more {i}")
        assert loop.time() - started < 0.1
        assert dispatcher.queue_full_drops == 3  # two wait behind the stuck one
        stuck.release.set()
        await asyncio.wait_for(dispatcher.drain(), 1)
        # from another thread too: handed over to the loop, not awaited
        thread = threading.Thread(target=raise_alert, args=("k", "from a thread"))
        thread.start()
        thread.join(1)
        assert not thread.is_alive()
        await asyncio.sleep(0)  # the loop runs the handed-over enqueue
        await asyncio.wait_for(dispatcher.drain(), 1)
    finally:
        await dispatcher.stop()
    assert dispatcher.delivered["stuck"] == 4  # first, two queued, the thread's


@pytest.fixture
def own_logging() -> Iterator[None]:
    """Logging configured for this test only: configure_logging binds the current (captured)
    stderr, which is closed once the test ends; later tests must get the old setup back."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configured = dict(log_module._configured)
    yield
    structlog.configure(**saved)
    root.handlers, root.level = handlers, level
    log_module._configured.clear()
    log_module._configured.update(configured)


@pytest.mark.asyncio
@pytest.mark.usefixtures("own_logging")
async def test_no_url_or_token_reaches_the_logs(
    server: Capture, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("debug", json=True)
    settings = _settings(server.url)
    dispatcher = AlertDispatcher(
        [*build_notifiers(settings), TelegramNotifier("77:bad-token", "1", api_url=server.url)]
    )
    await dispatcher.start()
    try:
        raise_alert("venue_failover", "bybit takes over", venue="bybit")
        await dispatcher.drain()
    finally:
        await dispatcher.stop()
    assert dispatcher.failed["telegram"] == 1  # the bad token's refusal was logged
    err = capsys.readouterr().err
    assert "notify_failed" in err
    assert "notification" in err
    for secret in (TOKEN, "bad-token", "secretslackpart", "/hook"):
        assert secret not in err
    assert TOKEN not in repr(settings)
    assert "secretslackpart" not in str(settings.public_dict())


def test_only_configured_channels_are_built() -> None:
    names = [n.name for n in build_notifiers(AxisSettings())]
    assert names == ["log"]
    assert isinstance(build_notifiers(AxisSettings())[0], LogNotifier)
    with pytest.raises(ValueError, match="go together"):
        AxisSettings(notify_telegram_bot_token=TOKEN)
    with pytest.raises(ValueError, match="http") as bad:
        AxisSettings(notify_webhook_url="ftp://user:pw@host/x")
    assert "pw@host" not in str(bad.value)


@pytest.mark.asyncio
async def test_notifications_deliver_inside_the_block_only(server: Capture) -> None:
    settings = AxisSettings(notify_webhook_url=server.url + "/hook")
    async with notifications(settings) as dispatcher:
        raise_alert("worker_halted", "daily loss limit")
        await dispatcher.drain()
    raise_alert("worker_halted", "after the block")  # unregistered: logged only
    await asyncio.sleep(0.05)
    assert [body["message"] for _, body in server.requests] == ["daily loss limit"]
