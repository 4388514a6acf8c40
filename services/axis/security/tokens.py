"""JWT access and refresh tokens (HS256, PyJWT).

Access tokens are short-lived (15 minutes by default) and carry the user id (``sub``) and
``typ: access``; refresh tokens live two weeks, carry ``typ: refresh``, a unique ``jti`` and a
``fam`` (the login they descend from). The store keeps every refresh ``jti``: a refresh rotates
it, and presenting an already-rotated one revokes the whole family.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

ALGORITHM = "HS256"
ACCESS, REFRESH = "access", "refresh"


class TokenError(ValueError):
    """A token that is malformed, expired, of the wrong type or signed by someone else."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    kind: str
    jti: str
    family: str | None
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    claims: TokenClaims


class TokenService:
    def __init__(
        self,
        signing_key: str,
        *,
        issuer: str = "axis",
        access_ttl_s: int = 900,
        refresh_ttl_s: int = 14 * 86_400,
    ) -> None:
        if len(signing_key) < 32:
            raise ValueError("the JWT signing key must be at least 32 characters")
        self._key = signing_key
        self.issuer = issuer
        self.access_ttl = timedelta(seconds=access_ttl_s)
        self.refresh_ttl = timedelta(seconds=refresh_ttl_s)

    def _issue(self, user_id: int, kind: str, ttl: timedelta, family: str | None) -> IssuedToken:
        now = datetime.now(UTC)
        jti = secrets.token_urlsafe(24)
        expires = now + ttl
        payload: dict[str, Any] = {
            "sub": str(user_id),
            "typ": kind,
            "jti": jti,
            "iss": self.issuer,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
        }
        if family is not None:
            payload["fam"] = family
        token = jwt.encode(payload, self._key, algorithm=ALGORITHM)
        expires_at = datetime.fromtimestamp(payload["exp"], UTC)
        return IssuedToken(token, TokenClaims(user_id, kind, jti, family, expires_at))

    def access_token(self, user_id: int) -> IssuedToken:
        return self._issue(user_id, ACCESS, self.access_ttl, None)

    def refresh_token(self, user_id: int, family: str | None = None) -> IssuedToken:
        return self._issue(user_id, REFRESH, self.refresh_ttl, family or secrets.token_hex(16))

    def decode(self, token: str, expected_kind: str) -> TokenClaims:
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "typ", "jti", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("token expired") from None
        except jwt.InvalidTokenError:
            raise TokenError("invalid token") from None
        if payload.get("typ") != expected_kind:
            raise TokenError(f"not an {expected_kind} token")
        try:
            user_id = int(payload["sub"])
        except (TypeError, ValueError):
            raise TokenError("invalid token subject") from None
        return TokenClaims(
            user_id,
            expected_kind,
            str(payload["jti"]),
            payload.get("fam"),
            datetime.fromtimestamp(int(payload["exp"]), UTC),
        )
