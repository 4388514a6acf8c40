"""The one client strategies and the worker use to reach models.

- With a Serve URL (``serve_url`` or env ``AXIS_SERVE_URL``): HTTP to the Ray Serve
  applications (``/regime``, ``/forecast``, ``/policy``), with a timeout.
- Without one: the same MLflow model loaded in-process (``models:/NAME@champion``).

Fail closed: when the model cannot answer (timeout, HTTP error, missing model) the client
falls back — the rule-based regime classifier for regimes, HOLD for forecasts and policies —
and the fallback is logged and counted (:data:`FALLBACKS`, by kind and reason).

No torch, Ray or MLflow is imported at module import: the core imports this module on
installs without the ``ml`` extra.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import Counter
from typing import Any

import numpy as np
import structlog

log = structlog.get_logger("axis.ml.client")

FALLBACKS: Counter[tuple[str, str]] = Counter()
_LOCK = threading.Lock()


def _count(kind: str, reason: str, error: BaseException | None = None) -> None:
    with _LOCK:
        FALLBACKS[(kind, reason)] += 1
    log.warning("model_fallback", kind=kind, reason=reason, error=str(error) if error else None)


class ModelClient:
    def __init__(
        self,
        serve_url: str | None = None,
        *,
        timeout_s: float = 0.25,
        tracking_uri: str | None = None,
    ) -> None:
        self.serve_url = (serve_url or os.environ.get("AXIS_SERVE_URL") or "").rstrip("/") or None
        self.timeout_s = timeout_s
        self.tracking_uri = tracking_uri
        self._http: Any = None
        self._models: dict[str, Any] = {}
        self.latencies_ms: list[float] = []

    # -- transport ----------------------------------------------------------------------------
    def _post(self, route: str, payload: dict[str, Any], model_id: str | None = None) -> Any:
        import httpx

        if self._http is None:
            self._http = httpx.Client(timeout=self.timeout_s)
        headers = {"serve_multiplexed_model_id": model_id} if model_id else {}
        started = time.perf_counter()
        response = self._http.post(f"{self.serve_url}/{route}", json=payload, headers=headers)
        response.raise_for_status()
        self.latencies_ms.append((time.perf_counter() - started) * 1000.0)
        return response.json()

    def _get(self, route: str, headers: dict[str, str] | None = None) -> Any:
        import httpx

        if self._http is None:
            self._http = httpx.Client(timeout=self.timeout_s)
        response = self._http.get(f"{self.serve_url}/{route}", headers=headers or {})
        response.raise_for_status()
        return response.json()

    def _local(self, uri: str) -> Any:
        """The pyfunc at ``uri``; the tracking store is looked up only on the first load."""
        model = self._models.get(uri)
        if model is None:
            from axis_ml.registry.tracking import configure, load_model

            if self.tracking_uri is not None or uri.startswith("models:/"):
                configure(self.tracking_uri)
            model = self._models[uri] = load_model(uri)
        return model

    def _predictor(self, uri: str) -> Any:
        """The AXIS predictor inside the pyfunc at ``uri`` (the array fast path)."""
        from axis_ml.registry.tracking import load_predictor

        self._local(uri)
        return load_predictor(uri)

    # -- regimes ------------------------------------------------------------------------------
    def regime(self, bars: Any, model_uri: str | None = None) -> dict[str, Any]:
        """The regime of the last bar of ``bars`` (an :class:`axis.data.Bars` history)."""
        from axis_ml.models.regime import RuleRegime

        try:
            if self.serve_url:
                payload = {
                    "high": np.asarray(bars.high).tolist(),
                    "low": np.asarray(bars.low).tolist(),
                    "close": np.asarray(bars.close).tolist(),
                }
                return dict(self._post("regime", payload))
            if model_uri is None:
                raise LookupError("no regime model configured")
            classifier = self._predictor(model_uri)
            return dict(classifier.classify_arrays(bars.high, bars.low, bars.close).to_dict())
        except Exception as exc:
            _count("regime", type(exc).__name__, exc)
            fallback = RuleRegime().classify(bars).to_dict()
            fallback["fallback"] = True
            return fallback

    # -- forecasts ----------------------------------------------------------------------------
    def forecast(self, model_uri: str, features: np.ndarray, model_id: str | None = None) -> float:
        """Probability that the next period's return is positive; 0.5 (no view, HOLD) on
        fallback."""
        row = np.asarray(features, dtype=np.float32).reshape(1, -1)
        try:
            if self.serve_url:
                body = self._post("forecast", {"features": row.tolist()}, model_id)
                return float(body["probability_up"][0])
            return float(self._predictor(model_uri).probability_up(row)[0])
        except Exception as exc:
            _count("forecast", type(exc).__name__, exc)
            return 0.5

    def forecast_batch(
        self, model_uri: str, rows: np.ndarray, model_id: str | None = None
    ) -> np.ndarray:
        """P(up) for every row of feature windows in one request; all NaN (no answer: the
        caller holds) on fallback."""
        rows = np.atleast_2d(np.asarray(rows, dtype=np.float32))
        try:
            if self.serve_url:
                body = self._post("forecast", {"features": rows.tolist()}, model_id)
                out = np.asarray(body["probability_up"], dtype=np.float64)
            else:
                out = np.asarray(self._predictor(model_uri).probability_up(rows), dtype=float)
            if out.shape != (len(rows),):
                raise ValueError(f"expected {len(rows)} probabilities, got shape {out.shape}")
            return out
        except Exception as exc:
            _count("forecast", type(exc).__name__, exc)
            return np.full(len(rows), math.nan)

    def forecast_metadata(self, model_uri: str, model_id: str | None = None) -> dict[str, Any]:
        """The forecaster's settings (window, horizon, features); from Serve when configured."""
        if self.serve_url:
            headers = {"serve_multiplexed_model_id": model_id} if model_id else None
            return dict(self._get("forecast", headers))
        from axis_ml.registry.tracking import model_metadata

        self._local(model_uri)
        return model_metadata(model_uri)

    # -- volatility ---------------------------------------------------------------------------
    def volatility(self, model_uri: str, close: np.ndarray) -> np.ndarray:
        """The next bar's forecast volatility after each close of ``close`` (a GARCH model is
        four numbers and runs in the caller's process); all NaN on fallback."""
        import pandas as pd

        closes = np.asarray(close, dtype=np.float64)
        try:
            frame = pd.DataFrame({"close": closes})
            out = np.asarray(self._local(model_uri).predict(frame), dtype=np.float64)
            if out.shape != closes.shape:
                raise ValueError(f"expected {len(closes)} forecasts, got shape {out.shape}")
            return out
        except Exception as exc:
            _count("volatility", type(exc).__name__, exc)
            return np.full(len(closes), math.nan)

    # -- sentiment ----------------------------------------------------------------------------
    def sentiment(self, texts: list[str], model_uri: str | None = None) -> list[dict[str, Any]]:
        """Score, label, confidence and VADER score of each text from the registered
        sentiment model (in-process); on fallback the lexicon alone (score = VADER's,
        ``fallback: True``), logged and counted."""
        import pandas as pd

        from axis_ml.models.sentiment import vader_labels, vader_scores

        texts = [str(t) for t in texts]
        try:
            if model_uri is None:
                raise LookupError("no sentiment model configured")
            out = self._local(model_uri).predict(pd.DataFrame({"text": texts}))
            return [dict(row) for row in out.to_dict(orient="records")]
        except Exception as exc:
            _count("sentiment", type(exc).__name__, exc)
            scores = vader_scores(texts)
            labels = vader_labels(scores)
            return [
                {
                    "score": float(s),
                    "label": str(label),
                    "confidence": abs(float(s)),
                    "vader": float(s),
                    "fallback": True,
                }
                for s, label in zip(scores, labels)
            ]

    # -- policies -----------------------------------------------------------------------------
    def policy_action(
        self, model_uri: str, observation: np.ndarray, *, deterministic: bool = True
    ) -> float:
        """The policy's action for one observation; NaN (HOLD: no order) on fallback."""
        row = np.asarray(observation, dtype=np.float32).reshape(1, -1)
        try:
            if self.serve_url:
                return float(self._post("policy", {"observations": row.tolist()})["actions"][0])
            policy = self._predictor(model_uri)
            return float(policy.act(row, deterministic=deterministic)[0])
        except Exception as exc:
            _count("policy", type(exc).__name__, exc)
            return math.nan

    def policy_metadata(self, model_uri: str) -> dict[str, Any]:
        """The policy's environment settings; from Serve when configured, else MLflow."""
        if self.serve_url:
            return dict(self._get("policy"))
        from axis_ml.registry.tracking import model_metadata

        self._local(model_uri)
        return model_metadata(model_uri)
