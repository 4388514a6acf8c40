"""Request authentication and authorisation: who calls, what they own, what needs TOTP.

- :func:`current_user`: a Bearer access token → a :class:`Principal`. The account facts a
  request needs (active, admin, TOTP, trading state) are read through the cache key
  ``user:{id}:account`` (1 minute, dropped on every change), so authorisation costs no
  database round trip on the hot paths.
- :func:`ensure_owner`: 403 unless the caller is the user the resource belongs to.
- :func:`verify_totp`: the ``X-TOTP-Code`` header must hold a fresh code of the caller's
  enabled second factor (going live, exchange keys, kill-switch release). Handlers call it
  after the body validated, so refused input never uses up a code.
- :func:`limit_open_positions`: the seed's 10 position opens per user per minute.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from axis.api.context import ApiContext, dumps
from axis.api.errors import ApiError
from axis.observability.metrics import cache_requests_total, rate_limited_total
from axis.security import totp
from axis.security.tokens import ACCESS, TokenError
from axis.store.accounts import UserRepository
from axis.store.cache import keys, read_through
from axis.store.models import User

bearer = HTTPBearer(auto_error=False, description="access token from /api/v2/auth/login")


async def get_context(request: Request) -> ApiContext:
    return request.app.state.context


Context = Annotated[ApiContext, Depends(get_context)]


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    username: str
    is_admin: bool
    totp_enabled: bool
    trading_state: str
    risk_profile: str
    wallet: float = 0.0  # the paper account's wallet balance, as cached with the account


def account_view(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "active": user.is_active,
        "admin": user.is_admin,
        "totp": user.totp_enabled,
        "state": user.trading_state,
        "profile": user.risk_profile,
        "wallet": str(user.wallet_balance),
    }


def load_account(
    ctx: ApiContext, user_id: int, known_miss: str | None = None
) -> dict[str, Any] | None:
    """The account view, cache first. ``known_miss`` ("miss"/"error"): the caller has just
    looked in the cache and found nothing, so go straight to the database."""

    def from_db() -> bytes | None:
        with ctx.db.session() as session:
            user = UserRepository(session).get(user_id)
            return dumps(account_view(user)) if user is not None else None

    key = keys.user_account(user_id)
    if known_miss is not None:
        cache_requests_total.labels(kind="user_account", result=known_miss).inc()
        raw = from_db()
        if raw is not None:
            ctx.cache.set(key, raw, keys.USER_TTL_S)
    else:
        raw, _ = read_through(ctx.cache, key, "user_account", from_db, keys.USER_TTL_S)
    return json.loads(raw) if raw is not None else None


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": "Bearer"})


async def current_user(
    request: Request,
    ctx: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """Runs on the event loop: a token check and one cache read need no thread; only a cache
    miss goes to the database, in the threadpool."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("missing bearer token")
    try:
        claims = ctx.security.tokens.decode(credentials.credentials, ACCESS)
    except TokenError as exc:
        raise _unauthorized(str(exc)) from None
    raw, result = ctx.cache.lookup(keys.user_account(claims.user_id))
    if raw is not None:
        cache_requests_total.labels(kind="user_account", result=result).inc()
        account: dict[str, Any] | None = json.loads(raw)
    else:
        account = await run_in_threadpool(load_account, ctx, claims.user_id, result)
    if account is None or not account["active"]:
        raise _unauthorized("account disabled or removed")
    request.state.user_id = claims.user_id
    return Principal(
        claims.user_id,
        account["username"],
        bool(account["admin"]),
        bool(account["totp"]),
        str(account["state"]),
        str(account["profile"]),
        float(account["wallet"]),
    )


CurrentUser = Annotated[Principal, Depends(current_user)]


def ensure_owner(principal: Principal, user_id: int | None) -> None:
    if user_id is None or user_id != principal.user_id:
        raise ApiError(403, "not your resource")


async def require_admin(principal: CurrentUser) -> Principal:
    if not principal.is_admin:
        raise ApiError(403, "operators only")
    return principal


Admin = Annotated[Principal, Depends(require_admin)]


def verify_totp(ctx: ApiContext, user_id: int, code: str | None) -> None:
    """Consume one TOTP code of the user (403 when missing, wrong, reused or not enabled)."""
    if not code:
        raise ApiError(403, "this action needs a TOTP code in the X-TOTP-Code header")
    with ctx.db.session() as session:
        user = UserRepository(session).get(user_id)
        if user is None or not user.totp_enabled or not user.totp_secret_encrypted:
            raise ApiError(403, "enable TOTP first (POST /api/v2/auth/totp/enable)")
        secret = ctx.security.encryptor.decrypt(user.totp_secret_encrypted)
        step = totp.matching_step(secret, code, user.totp_last_step, ctx.clock())
        if step is None:
            raise ApiError(403, "invalid or already used TOTP code")
        user.totp_last_step = step


def hit_limit(ctx: ApiContext, scope: str, subject: str, limit: int, window_s: int = 60) -> None:
    """Count a hit in the current fixed window; 429 with Retry-After once over ``limit``."""
    window = int(ctx.clock() // window_s)
    count, left = ctx.cache.hit_window(keys.rate_limit(scope, subject, window), window_s)
    if count > limit:
        rate_limited_total.labels(scope=scope).inc()
        retry = max(1, int(left + 0.999))
        raise ApiError(
            429,
            f"rate limit: {limit} per {window_s}s ({scope})",
            headers={"Retry-After": str(retry)},
            retry_after=retry,
        )


async def limit_open_positions(ctx: Context, principal: CurrentUser) -> Principal:
    hit_limit(
        ctx, "positions_open", str(principal.user_id), ctx.settings.open_position_limit_per_minute
    )
    return principal


OpenLimitedUser = Annotated[Principal, Depends(limit_open_positions)]
