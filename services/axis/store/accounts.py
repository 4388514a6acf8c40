"""Repositories of accounts: users, refresh tokens, encrypted exchange credentials."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from axis.store.models import ExchangeCredential, RefreshToken, User
from axis.store.types import to_decimal, utcnow


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self,
        username: str,
        email: str,
        password_hash: str,
        *,
        risk_profile: str = "balanced",
        is_admin: bool = False,
        initial_balance: float | Decimal = 10_000,
    ) -> User:
        balance = to_decimal(initial_balance)
        user = User(
            username=username,
            email=email.lower(),
            password_hash=password_hash,
            risk_profile=risk_profile,
            is_admin=is_admin,
            is_active=True,
            trading_state="active",
            totp_enabled=False,
            initial_balance=balance,
            wallet_balance=balance,
            peak_equity=balance,
            day_start_equity=balance,
            day_start_date=utcnow().date(),
            order_sequence=0,
        )
        self.session.add(user)
        self.session.flush()
        return user

    def get(self, user_id: int) -> User | None:
        return self.session.get(User, user_id)

    def by_username(self, username: str) -> User | None:
        return self.session.scalars(select(User).where(User.username == username)).first()

    def by_email(self, email: str) -> User | None:
        return self.session.scalars(select(User).where(User.email == email.lower())).first()

    def by_login(self, login: str) -> User | None:
        """A user by username or e-mail address."""
        return self.by_email(login) if "@" in login else self.by_username(login)

    def exists(self, username: str, email: str) -> str | None:
        """Which of the two is taken ("username" / "email"), or None."""
        if self.by_username(username) is not None:
            return "username"
        if self.by_email(email) is not None:
            return "email"
        return None

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(User)) or 0)

    def next_order_sequence(self, user: User) -> int:
        """Reserve the next number of the user's deterministic client order ids."""
        user.order_sequence += 1
        self.session.flush()
        return user.order_sequence


class RefreshTokenRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, jti: str, user_id: int, family: str, expires_at: datetime) -> RefreshToken:
        token = RefreshToken(jti=jti, user_id=user_id, family=family, expires_at=expires_at)
        self.session.add(token)
        self.session.flush()
        return token

    def get(self, jti: str) -> RefreshToken | None:
        return self.session.get(RefreshToken, jti)

    def revoke_family(self, family: str) -> int:
        result = self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def revoke_user(self, user_id: int) -> int:
        result = self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        return int(getattr(result, "rowcount", 0) or 0)


class CredentialRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        user_id: int,
        exchange: str,
        label: str,
        api_key_encrypted: str,
        secret_encrypted: str,
        password_encrypted: str | None,
        key_version: str,
    ) -> ExchangeCredential:
        credential = ExchangeCredential(
            user_id=user_id,
            exchange=exchange,
            label=label,
            api_key_encrypted=api_key_encrypted,
            secret_encrypted=secret_encrypted,
            password_encrypted=password_encrypted,
            key_version=key_version,
        )
        self.session.add(credential)
        self.session.flush()
        return credential

    def get(self, credential_id: int) -> ExchangeCredential | None:
        return self.session.get(ExchangeCredential, credential_id)

    def find(self, user_id: int, exchange: str, label: str) -> ExchangeCredential | None:
        query = select(ExchangeCredential).where(
            ExchangeCredential.user_id == user_id,
            ExchangeCredential.exchange == exchange,
            ExchangeCredential.label == label,
        )
        return self.session.scalars(query).first()

    def for_user(self, user_id: int) -> list[ExchangeCredential]:
        query = (
            select(ExchangeCredential)
            .where(ExchangeCredential.user_id == user_id)
            .order_by(ExchangeCredential.id)
        )
        return list(self.session.scalars(query))

    def delete(self, credential: ExchangeCredential) -> None:
        self.session.delete(credential)
        self.session.flush()

    def ids_not_at(self, key_version: str) -> list[int]:
        """Credentials encrypted under another key version (what a rotation must re-encrypt)."""
        query = (
            select(ExchangeCredential.id)
            .where(ExchangeCredential.key_version != key_version)
            .order_by(ExchangeCredential.id)
        )
        return list(self.session.scalars(query))

    def batch_after(self, last_id: int, size: int = 100) -> list[ExchangeCredential]:
        """The next ``size`` credentials after ``last_id``, locked for update (rotation)."""
        query = (
            select(ExchangeCredential)
            .where(ExchangeCredential.id > last_id)
            .order_by(ExchangeCredential.id)
            .limit(size)
            .with_for_update()
        )
        return list(self.session.scalars(query))

    def versions_in_use(self) -> set[str]:
        return set(self.session.scalars(select(ExchangeCredential.key_version).distinct()))
