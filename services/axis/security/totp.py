"""TOTP second factor (RFC 6238, pyotp): 6 digits, 30-second steps, ±1 step of clock drift.

A code is accepted once: the step it matched is stored and codes of that step or an earlier
one are refused afterwards, so a code seen over a shoulder cannot be replayed.
"""

from __future__ import annotations

import re
import time

import pyotp

STEP_S = 30
VALID_WINDOW = 1
_CODE = re.compile(r"^\d{6}$")


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def matching_step(
    secret: str, code: str, last_step: int | None, now: float | None = None
) -> int | None:
    """The time step ``code`` belongs to, or None when it is wrong, stale or already used."""
    if not _CODE.match(code or ""):
        return None
    moment = time.time() if now is None else now
    totp = pyotp.TOTP(secret, interval=STEP_S)
    current = int(moment // STEP_S)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if pyotp.utils.strings_equal(totp.at(step * STEP_S), code):
            return step
    return None


def code_at(secret: str, moment: float) -> str:
    """The code for ``moment`` (what an authenticator app shows then)."""
    return pyotp.TOTP(secret, interval=STEP_S).at(int(moment))
