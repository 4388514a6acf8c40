"""Slack, Telegram and generic webhook notifiers over one retrying HTTP poster.

Each POST has a timeout; transport errors, timeouts, 429 and 5xx are retried a bounded number
of times with exponential backoff, honouring a ``Retry-After`` header or Telegram's
``parameters.retry_after`` up to a cap; any other 4xx is final. The webhook URLs and the bot
token are credentials (a Slack webhook URL is enough to post to the channel; the Telegram URL
carries the bot token): they appear in no log line, error or repr. httpx itself logs every
request URL at INFO, so its loggers are held at WARNING here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from axis.notify.base import DeliveryError, render_text
from axis.observability.alerts import Alert

for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3
    backoff_s: float = 0.5  # first wait; doubles after each failed attempt
    max_wait_s: float = 10.0  # cap on any single wait, Retry-After included
    timeout_s: float = 5.0  # per attempt: connect, read, write and pool

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.timeout_s <= 0 or self.backoff_s < 0:
            raise ValueError("retry policy: attempts >= 1, timeout_s > 0, backoff_s >= 0")


def _retry_after(response: httpx.Response) -> float | None:
    header = response.headers.get("retry-after")
    if header is not None:
        try:
            return max(float(header), 0.0)
        except ValueError:  # an HTTP date: not worth parsing for an alert, use the backoff
            return None
    body = _json(response)
    parameters = body.get("parameters") if isinstance(body, dict) else None
    if isinstance(parameters, dict) and isinstance(parameters.get("retry_after"), int | float):
        return float(parameters["retry_after"])
    return None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _describe(response: httpx.Response) -> str:
    """A short, credential-free reason from a refusal: Telegram's description or Slack's
    error word."""
    body = _json(response)
    if isinstance(body, dict) and isinstance(body.get("description"), str):
        return str(body["description"])[:200]
    return response.text[:120].strip()


class HttpNotifier:
    """POSTs JSON to one secret URL with timeouts and bounded retries."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        *,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{self.name}: the URL must be http(s)")
        self._url = url
        self.retry = retry or RetryPolicy()
        self._transport = transport
        self._sleep = sleep
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:  # never the URL
        return f"{type(self).__name__}()"

    def payload(self, alert: Alert, repeated: int) -> dict[str, Any]:
        event: dict[str, Any] = alert.to_event()
        if repeated:
            event["repeated"] = repeated
        return event

    def accepted(self, response: httpx.Response) -> bool:
        return response.is_success

    async def send(self, alert: Alert, repeated: int = 0) -> None:
        await self._post(self.payload(alert, repeated))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=httpx.Timeout(self.retry.timeout_s),
                follow_redirects=False,
            )
        return self._client

    async def _post(self, payload: dict[str, Any]) -> None:
        retry, wait, cause = self.retry, self.retry.backoff_s, ""
        for attempt in range(1, retry.attempts + 1):
            hint: float | None = None
            try:
                response = await self._http().post(self._url, json=payload)
            except httpx.TimeoutException:
                cause = "timeout"
            except httpx.TransportError as exc:  # the message of these can hold the host
                cause = type(exc).__name__
            else:
                if self.accepted(response):
                    return
                status = response.status_code
                cause = f"HTTP {status}: {_describe(response)}"
                if status != 429 and status < 500:
                    raise DeliveryError(f"{self.name}: refused, {cause}")
                hint = _retry_after(response)
            if attempt < retry.attempts:
                await self._sleep(min(wait if hint is None else hint, retry.max_wait_s))
                wait *= 2
        raise DeliveryError(f"{self.name}: gave up after {retry.attempts} attempts ({cause})")


class WebhookNotifier(HttpNotifier):
    """A generic JSON webhook: the alert's event dict (kind, message, severity, time, fields)."""

    name = "webhook"


class SlackNotifier(HttpNotifier):
    """A Slack incoming webhook: ``{"text": ...}``; Slack answers 200 ``ok``."""

    name = "slack"

    def payload(self, alert: Alert, repeated: int) -> dict[str, Any]:
        return {"text": render_text(alert, repeated)}


class TelegramNotifier(HttpNotifier):
    """A Telegram bot's ``sendMessage`` to one chat, as plain text (no parse mode, so nothing
    in an alert needs escaping). Telegram answers ``{"ok": true, ...}``."""

    name = "telegram"

    def __init__(
        self,
        bot_token: str,
        chat_id: str,
        *,
        api_url: str = "https://api.telegram.org",
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not bot_token or not chat_id:
            raise ValueError("telegram: a bot token and a chat id are both needed")
        url = f"{api_url.rstrip('/')}/bot{bot_token}/sendMessage"
        super().__init__(url, retry=retry, transport=transport, sleep=sleep)
        self.chat_id = chat_id

    def payload(self, alert: Alert, repeated: int) -> dict[str, Any]:
        return {
            "chat_id": self.chat_id,
            "text": render_text(alert, repeated),
            "disable_web_page_preview": True,
        }

    def accepted(self, response: httpx.Response) -> bool:
        body = _json(response)
        return response.is_success and isinstance(body, dict) and body.get("ok") is True
