"""Password hashing with argon2id (memory-hard), via argon2-cffi.

The defaults are argon2-cffi's RFC 9106 "low memory" profile: 3 passes over 64 MiB with 4
lanes (about 50 ms here). A stored hash made with weaker parameters is re-hashed at the next
successful login (:meth:`PasswordHasher.needs_rehash`).
"""

from __future__ import annotations

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256


class PasswordHasher:
    def __init__(self, time_cost: int = 3, memory_kib: int = 65_536, parallelism: int = 4):
        self._argon2 = _Argon2(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        # A hash to verify against when the user does not exist, so that a login for an
        # unknown name takes as long as one with a wrong password (no user enumeration).
        self._dummy = self._argon2.hash("axis-timing-equaliser")

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        target = stored_hash or self._dummy
        try:
            ok = self._argon2.verify(target, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return ok and stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._argon2.check_needs_rehash(stored_hash)

    @property
    def parameters(self) -> dict[str, int]:
        return {
            "time_cost": self._argon2.time_cost,
            "memory_kib": self._argon2.memory_cost,
            "parallelism": self._argon2.parallelism,
        }


def password_problem(password: str, username: str = "") -> str | None:
    """Why a password is refused, or None. Length over composition rules (NIST 800-63B)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"must be at most {MAX_PASSWORD_LENGTH} characters"
    if username and username.lower() in password.lower():
        return "must not contain the username"
    if len(set(password)) < 4:
        return "is too repetitive"
    return None
