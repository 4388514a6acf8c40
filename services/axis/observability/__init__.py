"""Metrics (Prometheus, the seed's names), structured JSON logs with request ids, alerts."""

from axis.observability.alerts import Alert, add_sink, raise_alert, remove_sink
from axis.observability.logging import configure_logging, get_logger

__all__ = ["Alert", "add_sink", "configure_logging", "get_logger", "raise_alert", "remove_sink"]
