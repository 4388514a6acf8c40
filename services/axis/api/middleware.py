"""One ASGI middleware for what every request needs around it.

- a request id (the caller's ``X-Request-ID`` when it is sane, else a new one) on every log
  line of the request and on the response;
- the global per-IP rate limit (429 with ``Retry-After``);
- latency histogram and error counter per route template;
- one structured access line;
- the audit log: every state-changing call under ``/api/v2`` (who, what, when, from where,
  the outcome). Input the schema refuses (422) and rate-limited calls (429) changed nothing
  and are not audited; the rest is, denied and refused attempts included.

A plain ASGI class rather than ``BaseHTTPMiddleware``: no extra task per request.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from axis.api.context import ApiContext, dumps
from axis.api.errors import ApiError
from axis.api.schemas import API_PREFIX
from axis.observability import metrics
from axis.observability.logging import bind_request, clear_request, get_logger
from axis.store.audit import AuditRepository

log = get_logger("axis.api.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
UNLIMITED_PATHS = ("/healthz", "/readyz", "/metrics")


def outcome_of(status: int) -> str:
    if status < 400:
        return "ok"
    if status in (401, 403):
        return "denied"
    if status >= 500:
        return "error"
    return "rejected"


def client_ip(scope: Scope, trusted: list[str]) -> str:
    peer = (scope.get("client") or ("unknown", 0))[0]
    if peer in trusted:
        for name, value in scope.get("headers", []):
            if name == b"x-forwarded-for":
                return value.decode("latin-1").split(",")[0].strip() or peer
    return str(peer)


class RequestMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx: ApiContext = scope["app"].state.context
        started = time.perf_counter()
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        method: str = scope["method"]
        path: str = scope["path"]
        ip = client_ip(scope, ctx.settings.trusted_proxies)
        bind_request(request_id, method=method, path=path, ip=ip)
        status = 500
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            if path.startswith(API_PREFIX) and not await self._within_ip_limit(
                ctx, ip, send_with_id
            ):
                return
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            labels = {"method": method, "route": template, "status": str(status)}
            metrics.http_request_duration.labels(**labels).observe(elapsed)
            if status >= 400:
                metrics.http_errors_total.labels(**labels).inc()
            log.info(
                "request",
                route=template,
                status=status,
                duration_ms=round(elapsed * 1000, 3),
                user_id=state.get("user_id"),
            )
            if (
                method in STATE_CHANGING
                and path.startswith(API_PREFIX)
                and status not in (422, 429)
            ):
                name = getattr(route, "name", None) or template
                await self._audit(ctx, scope, state, name, status, ip)
            clear_request()

    async def _within_ip_limit(self, ctx: ApiContext, ip: str, send: Send) -> bool:
        from axis.api.auth import hit_limit

        def check() -> None:
            hit_limit(ctx, "ip", ip, ctx.settings.requests_per_minute_per_ip)

        try:
            # One Redis round trip, on the loop: cheaper than a thread hop, and a dead Redis
            # costs one short timeout before the circuit breaker routes around it.
            check()
        except ApiError as exc:
            body = dumps({"success": False, "error": exc.error, **exc.fields})
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *((k.lower().encode(), v.encode()) for k, v in (exc.headers or {}).items()),
            ]
            await send({"type": "http.response.start", "status": 429, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return False
        return True

    async def _audit(
        self,
        ctx: ApiContext,
        scope: Scope,
        state: dict[str, Any],
        action: str,
        status: int,
        ip: str,
    ) -> None:
        agent = None
        for name, value in scope.get("headers", []):
            if name == b"user-agent":
                agent = value.decode("latin-1")
                break
        details = dict(state.get("audit") or {})
        path_params = scope.get("path_params") or {}
        if path_params:
            details.setdefault("path_params", {k: str(v) for k, v in path_params.items()})

        def write() -> None:
            with ctx.db.session() as session:
                AuditRepository(session).append(
                    action=action,
                    resource=scope["path"],
                    method=scope["method"],
                    status_code=status,
                    outcome=outcome_of(status),
                    actor_user_id=state.get("user_id"),
                    ip=ip,
                    user_agent=agent,
                    request_id=state.get("request_id"),
                    details=details,
                )

        try:
            await anyio.to_thread.run_sync(write)
        except Exception as exc:  # the call already happened: shout, do not fail it
            from axis.observability.alerts import raise_alert

            raise_alert(
                "audit_write_failed", "an audit record could not be written", error=str(exc)
            )


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _REQUEST_ID.match(text) else None
    return None
