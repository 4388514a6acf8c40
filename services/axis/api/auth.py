"""Request authentication and authorisation: who calls, what they own, what needs TOTP.

- :func:`current_user`: a Bearer access token → a :class:`Principal`. The account facts a
  request needs (active, admin, TOTP, trading state) are read through the cache key
  ``user:{id}:account`` (1 minute, dropped on every change), so authorisation costs no
  database round trip on the hot paths.
- :func:`ensure_owner`: 403 unless the caller is the user the resource belongs to.
- :func:`require_totp`: the ``X-TOTP-Code`` header must hold a fresh code of the caller's
  enabled second factor (going live, exchange keys, kill-switch release).
- :func:`limit_open_positions`: the seed's 10 position opens per user per minute.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from axis.api.context import ApiContext, dumps
from axis.api.errors import ApiError
from axis.observability.metrics import rate_limited_total
from axis.security import totp
from axis.security.tokens import ACCESS, TokenError
from axis.store.accounts import UserRepository
from axis.store.cache import keys, read_through
from axis.store.models import User

bearer = HTTPBearer(auto_error=False, description="access token from /api/v2/auth/login")


def get_context(request: Request) -> ApiContext:
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


def load_account(ctx: ApiContext, user_id: int) -> dict[str, Any] | None:
    def from_db() -> bytes | None:
        with ctx.db.session() as session:
            user = UserRepository(session).get(user_id)
            return dumps(account_view(user)) if user is not None else None

    raw, _ = read_through(
        ctx.cache, keys.user_account(user_id), "user_account", from_db, keys.USER_TTL_S
    )
    return json.loads(raw) if raw is not None else None


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": "Bearer"})


def current_user(
    request: Request,
    ctx: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("missing bearer token")
    try:
        claims = ctx.security.tokens.decode(credentials.credentials, ACCESS)
    except TokenError as exc:
        raise _unauthorized(str(exc)) from None
    account = load_account(ctx, claims.user_id)
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
    )


CurrentUser = Annotated[Principal, Depends(current_user)]


def ensure_owner(principal: Principal, user_id: int | None) -> None:
    if user_id is None or user_id != principal.user_id:
        raise ApiError(403, "not your resource")


def require_admin(principal: CurrentUser) -> Principal:
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


def require_totp(
    ctx: Context,
    principal: CurrentUser,
    x_totp_code: Annotated[str | None, Header(pattern=r"^\d{6}$")] = None,
) -> Principal:
    verify_totp(ctx, principal.user_id, x_totp_code)
    return principal


TotpUser = Annotated[Principal, Depends(require_totp)]


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


def limit_open_positions(ctx: Context, principal: CurrentUser) -> Principal:
    hit_limit(
        ctx, "positions_open", str(principal.user_id), ctx.settings.open_position_limit_per_minute
    )
    return principal


OpenLimitedUser = Annotated[Principal, Depends(limit_open_positions)]
