"""Accounts: register, log in, refresh, log out, TOTP enrolment, who am I."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from axis.api.auth import Context, CurrentUser
from axis.api.context import ApiContext
from axis.api.errors import ApiError, field_error
from axis.api.schemas import (
    API_PREFIX,
    LoginRequest,
    RefreshRequest,
    RegisterRequest,
    TokenPair,
    TotpEnableResponse,
    TotpVerifyRequest,
    TotpVerifyResponse,
    UserOut,
    error_responses,
)
from axis.security import password_problem, totp
from axis.security.tokens import REFRESH, TokenError
from axis.store.accounts import RefreshTokenRepository, UserRepository
from axis.store.models import User
from axis.store.types import utcnow

router = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["auth"])


def user_out(user: User) -> UserOut:
    return UserOut(
        user_id=user.id,
        username=user.username,
        email=user.email,
        risk_profile=user.risk_profile,
        is_admin=user.is_admin,
        totp_enabled=user.totp_enabled,
        trading_state=user.trading_state,
        created_at=user.created_at,
    )


def issue_pair(ctx: ApiContext, session: Session, user_id: int, family: str | None) -> TokenPair:
    tokens = ctx.security.tokens
    access = tokens.access_token(user_id)
    refresh = tokens.refresh_token(user_id, family)
    RefreshTokenRepository(session).add(
        refresh.claims.jti, user_id, refresh.claims.family or "", refresh.claims.expires_at
    )
    return TokenPair(
        access_token=access.token,
        refresh_token=refresh.token,
        expires_in=int(tokens.access_ttl.total_seconds()),
        user_id=user_id,
    )


@router.post(
    "/register",
    name="auth.register",
    status_code=201,
    response_model=UserOut,
    responses=error_responses(403, 409, 422, 429),
)
def register(body: RegisterRequest, request: Request, ctx: Context) -> UserOut:
    """Create an account (paper balance from the settings, the chosen risk profile)."""
    if not ctx.settings.allow_registration:
        raise ApiError(403, "self-registration is disabled; ask an operator (axis users create)")
    problem = password_problem(body.password, body.username)
    if problem is not None:
        raise field_error("body.password", problem)
    password_hash = ctx.security.passwords.hash(body.password)
    try:
        with ctx.db.session() as session:
            users = UserRepository(session)
            taken = users.exists(body.username, body.email)
            if taken is not None:
                raise ApiError(409, f"{taken} already registered", field=f"body.{taken}")
            user = users.create(
                body.username,
                body.email,
                password_hash,
                risk_profile=body.risk_profile.value,
                initial_balance=ctx.settings.paper_initial_balance,
            )
            out = user_out(user)
    except IntegrityError:  # a concurrent registration won the race
        raise ApiError(409, "username or email already registered") from None
    request.state.user_id = out.user_id
    request.state.audit = {"username": out.username}
    return out


@router.post(
    "/login",
    name="auth.login",
    response_model=TokenPair,
    responses=error_responses(401, 422, 429),
)
def login(body: LoginRequest, request: Request, ctx: Context) -> TokenPair:
    """Exchange a username (or e-mail) and password for an access and a refresh token."""
    request.state.audit = {"login": body.username[:64]}
    with ctx.db.session() as session:
        user = UserRepository(session).by_login(body.username)
        stored = user.password_hash if user is not None else None
        ok = ctx.security.passwords.verify(stored, body.password)
        if user is None or not ok or not user.is_active:
            raise ApiError(401, "wrong username or password")
        if ctx.security.passwords.needs_rehash(user.password_hash):
            user.password_hash = ctx.security.passwords.hash(body.password)
        request.state.user_id = user.id
        return issue_pair(ctx, session, user.id, None)


@router.post(
    "/refresh",
    name="auth.refresh",
    response_model=TokenPair,
    responses=error_responses(401, 422, 429),
)
def refresh(body: RefreshRequest, request: Request, ctx: Context) -> TokenPair:
    """Rotate a refresh token. A token used twice revokes its whole login (theft defence)."""
    try:
        claims = ctx.security.tokens.decode(body.refresh_token, REFRESH)
    except TokenError as exc:
        raise ApiError(401, str(exc)) from None
    reused = False
    with ctx.db.session() as session:
        repo = RefreshTokenRepository(session)
        stored = repo.get(claims.jti)
        user = UserRepository(session).get(claims.user_id)
        if stored is None or user is None or not user.is_active:
            raise ApiError(401, "refresh token not recognised")
        if stored.revoked_at is not None:
            repo.revoke_family(stored.family)
            reused = True
        else:
            stored.revoked_at = utcnow()
            request.state.user_id = user.id
            pair = issue_pair(ctx, session, user.id, stored.family)
            stored.replaced_by = ctx.security.tokens.decode(pair.refresh_token, REFRESH).jti
            return pair
    if reused:
        request.state.audit = {"reuse_detected": True}
    raise ApiError(401, "refresh token already used; all sessions of this login are revoked")


@router.post(
    "/logout",
    name="auth.logout",
    status_code=204,
    responses=error_responses(401, 422, 429),
)
def logout(body: RefreshRequest, request: Request, ctx: Context, user: CurrentUser) -> Response:
    """Revoke the login the refresh token belongs to."""
    try:
        claims = ctx.security.tokens.decode(body.refresh_token, REFRESH)
    except TokenError as exc:
        raise ApiError(401, str(exc)) from None
    if claims.user_id != user.user_id:
        raise ApiError(403, "not your token")
    with ctx.db.session() as session:
        repo = RefreshTokenRepository(session)
        stored = repo.get(claims.jti)
        if stored is not None:
            repo.revoke_family(stored.family)
    return Response(status_code=204)


@router.get("/me", name="auth.me", response_model=UserOut, responses=error_responses(401))
def me(ctx: Context, user: CurrentUser) -> UserOut:
    with ctx.db.session() as session:
        row = UserRepository(session).get(user.user_id)
        if row is None:
            raise ApiError(401, "account removed")
        return user_out(row)


@router.post(
    "/totp/enable",
    name="auth.totp_enable",
    response_model=TotpEnableResponse,
    responses=error_responses(401, 409, 429),
)
def totp_enable(ctx: Context, user: CurrentUser) -> TotpEnableResponse:
    """Start TOTP enrolment: a new secret for an authenticator app, confirmed by /verify."""
    secret = totp.new_secret()
    with ctx.db.session() as session:
        row = UserRepository(session).get(user.user_id)
        if row is None:
            raise ApiError(401, "account removed")
        if row.totp_enabled:
            raise ApiError(409, "TOTP is already enabled")
        row.totp_secret_encrypted = ctx.security.encryptor.encrypt(secret)
        row.totp_last_step = None
        email = row.email
    ctx.forget_user(user.user_id)
    uri = totp.provisioning_uri(secret, email, ctx.settings.totp_issuer)
    return TotpEnableResponse(secret=secret, provisioning_uri=uri)


@router.post(
    "/totp/verify",
    name="auth.totp_verify",
    response_model=TotpVerifyResponse,
    responses=error_responses(401, 403, 409, 422, 429),
)
def totp_verify(body: TotpVerifyRequest, ctx: Context, user: CurrentUser) -> TotpVerifyResponse:
    """Confirm enrolment with a current code: the second factor is on from now."""
    with ctx.db.session() as session:
        row = UserRepository(session).get(user.user_id)
        if row is None or not row.totp_secret_encrypted:
            raise ApiError(409, "start with POST /api/v2/auth/totp/enable")
        if row.totp_enabled:
            raise ApiError(409, "TOTP is already enabled")
        secret = ctx.security.encryptor.decrypt(row.totp_secret_encrypted)
        step = totp.matching_step(secret, body.code, row.totp_last_step, ctx.clock())
        if step is None:
            raise ApiError(403, "invalid TOTP code")
        row.totp_enabled = True
        row.totp_last_step = step
    ctx.forget_user(user.user_id)
    return TotpVerifyResponse(totp_enabled=True)
