"""Alert notifications: log always; Slack, Telegram and a generic webhook when configured.

``build_notifiers(settings)`` turns the ``notify_*`` settings into channels;
``start_notifications(settings)`` (on the running loop) starts an :class:`AlertDispatcher`
with them and registers it as a sink of ``observability.alerts``, so every ``raise_alert``
reaches the configured channels, throttled, without waiting on them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from axis.config.settings import AxisSettings
from axis.notify.base import DeliveryError, LogNotifier, Notifier, render_text
from axis.notify.channels import (
    HttpNotifier,
    RetryPolicy,
    SlackNotifier,
    TelegramNotifier,
    WebhookNotifier,
)
from axis.notify.dispatcher import AlertDispatcher, AlertThrottle

__all__ = [
    "AlertDispatcher",
    "AlertThrottle",
    "DeliveryError",
    "HttpNotifier",
    "LogNotifier",
    "Notifier",
    "RetryPolicy",
    "SlackNotifier",
    "TelegramNotifier",
    "WebhookNotifier",
    "build_notifiers",
    "notifications",
    "render_text",
    "start_notifications",
]


def build_notifiers(settings: AxisSettings) -> list[Notifier]:
    retry = RetryPolicy(
        attempts=settings.notify_attempts,
        timeout_s=settings.notify_timeout_s,
        max_wait_s=settings.notify_max_wait_s,
    )
    notifiers: list[Notifier] = [LogNotifier()]
    if settings.notify_slack_webhook_url is not None:
        url = settings.notify_slack_webhook_url.get_secret_value()
        notifiers.append(SlackNotifier(url, retry=retry))
    if settings.notify_telegram_bot_token is not None and settings.notify_telegram_chat_id:
        notifiers.append(
            TelegramNotifier(
                settings.notify_telegram_bot_token.get_secret_value(),
                settings.notify_telegram_chat_id,
                api_url=settings.notify_telegram_api_url,
                retry=retry,
            )
        )
    if settings.notify_webhook_url is not None:
        notifiers.append(
            WebhookNotifier(settings.notify_webhook_url.get_secret_value(), retry=retry)
        )
    return notifiers


async def start_notifications(settings: AxisSettings) -> AlertDispatcher:
    """Start delivering alerts per ``settings``; ``await dispatcher.stop()`` at shutdown."""
    throttle = AlertThrottle(
        window_s=settings.notify_dedup_window_s,
        max_per_minute=settings.notify_max_per_minute,
        min_severity=settings.notify_min_severity,
    )
    dispatcher = AlertDispatcher(build_notifiers(settings), throttle=throttle)
    await dispatcher.start()
    return dispatcher


@asynccontextmanager
async def notifications(settings: AxisSettings) -> AsyncIterator[AlertDispatcher]:
    """Alerts reach the configured channels inside the block (a process's lifetime); queued
    ones get a few seconds to go out when it ends."""
    dispatcher = await start_notifications(settings)
    try:
        yield dispatcher
    finally:
        await dispatcher.stop()
