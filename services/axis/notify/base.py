"""The notifier interface, the text an alert becomes, and the log notifier.

A :class:`Notifier` delivers one alert to one channel. ``send`` is a coroutine that either
delivers or raises :class:`DeliveryError`; whatever drives notifiers (the
:class:`~axis.notify.dispatcher.AlertDispatcher`) runs them off the trading path, so a slow or
dead channel costs an alert, never an order.
"""

from __future__ import annotations

from typing import Protocol

from axis.observability.alerts import Alert
from axis.observability.logging import get_logger

# Telegram refuses messages over 4096 characters; Slack truncates long ones. One cap for both.
MAX_TEXT = 3500


class DeliveryError(RuntimeError):
    """A channel did not take the alert. The message names the channel and the cause, never
    the URL or token it was sent with."""


class Notifier(Protocol):
    """One alert channel (log, Slack, Telegram, a webhook)."""

    name: str

    async def send(self, alert: Alert, repeated: int = 0) -> None:
        """Deliver ``alert``; ``repeated`` is how many identical alerts were held back since
        the last one delivered. Raises :class:`DeliveryError` when the channel refuses."""
        ...

    async def aclose(self) -> None: ...


def render_text(alert: Alert, repeated: int = 0) -> str:
    """The one-message form of an alert: severity, kind, message, then its fields."""
    head = f"[{alert.severity.upper()}] {alert.kind}: {alert.message}"
    lines = [head]
    lines.extend(f"{key}: {value}" for key, value in sorted(alert.fields.items()))
    if repeated:
        lines.append(f"(repeated {repeated} more times since the last notice)")
    lines.append(alert.time.isoformat(timespec="seconds"))
    text = "\n".join(lines)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


class LogNotifier:
    """Always on: every alert that passes the throttle becomes one structured log line."""

    name = "log"

    def __init__(self) -> None:
        self._log = get_logger("axis.notify")

    async def send(self, alert: Alert, repeated: int = 0) -> None:
        self._log.info(
            "notification",
            kind=alert.kind,
            severity=alert.severity,
            message=alert.message,
            repeated=repeated,
        )

    async def aclose(self) -> None:
        return None
