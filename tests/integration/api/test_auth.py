"""Accounts, tokens and the second factor."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from sqlalchemy import select

from axis.security import totp
from axis.store.models import ExchangeCredential, User

Api = Any
PASSWORD = "correct horse battery staple"  # what the harness registers users with


def test_register_refuses_duplicates_and_weak_passwords(api: Api) -> None:
    alice = api.register()
    again = api.client.post(
        "/api/v2/auth/register",
        json={"username": alice.username, "email": "new@example.com", "password": PASSWORD},
    )
    assert again.status_code == 409
    assert again.json()["field"] == "body.username"
    weak = api.client.post(
        "/api/v2/auth/register",
        json={"username": "someone", "email": "s@example.com", "password": "aaaaaaaaaaaa"},
    )
    assert weak.status_code == 422
    assert weak.json()["field"] == "body.password"


def test_passwords_are_stored_as_argon2id(api: Api) -> None:
    alice = api.register()
    with api.ctx.db.session() as session:
        stored = session.get(User, alice.user_id).password_hash
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_login_failures_do_not_say_which_part_was_wrong(api: Api) -> None:
    alice = api.register()
    wrong = api.client.post(
        "/api/v2/auth/login", json={"username": alice.username, "password": "wrong password!"}
    )
    unknown = api.client.post(
        "/api/v2/auth/login", json={"username": "nobody-here", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"] == unknown.json()["error"]


def test_routes_need_a_valid_access_token(api: Api) -> None:
    alice = api.register()
    url = f"/api/v2/users/{alice.user_id}/portfolio"
    assert api.client.get(url).status_code == 401
    assert api.client.get(url).headers["www-authenticate"] == "Bearer"
    garbage = {"Authorization": "Bearer not-a-token"}
    assert api.client.get(url, headers=garbage).status_code == 401
    refresh_as_access = {"Authorization": f"Bearer {alice.refresh_token}"}
    assert api.client.get(url, headers=refresh_as_access).status_code == 401
    forged = jwt.encode(
        {
            "sub": str(alice.user_id),
            "typ": "access",
            "jti": "x",
            "iss": "axis",
            "iat": 0,
            "exp": 9_999_999_999,
        },
        "another-signing-key-of-sufficient-length!",
        algorithm="HS256",
    )
    assert api.client.get(url, headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    expired = api.ctx.security.tokens._issue(  # a token that expired a minute ago
        alice.user_id, "access", -api.ctx.security.tokens.access_ttl / 15, None
    )
    assert (
        api.client.get(url, headers={"Authorization": f"Bearer {expired.token}"}).status_code == 401
    )
    assert api.client.get(url, headers=alice.headers).status_code == 200


def test_disabled_accounts_are_refused_at_once(api: Api) -> None:
    alice = api.register()
    url = f"/api/v2/users/{alice.user_id}/portfolio"
    assert api.client.get(url, headers=alice.headers).status_code == 200
    with api.ctx.db.session() as session:
        session.get(User, alice.user_id).is_active = False
    api.ctx.forget_user(alice.user_id)
    assert api.client.get(url, headers=alice.headers).status_code == 401


def test_refresh_rotates_and_reuse_revokes_the_login(api: Api) -> None:
    alice = api.register()
    first = api.client.post("/api/v2/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert first.status_code == 200
    rotated = first.json()["refresh_token"]
    assert rotated != alice.refresh_token
    reused = api.client.post("/api/v2/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert reused.status_code == 401
    # the thief's replay revoked the family: the rotated token is dead too
    after = api.client.post("/api/v2/auth/refresh", json={"refresh_token": rotated})
    assert after.status_code == 401


def test_logout_revokes_the_refresh_token(api: Api) -> None:
    alice = api.register()
    out = api.client.post(
        "/api/v2/auth/logout", headers=alice.headers, json={"refresh_token": alice.refresh_token}
    )
    assert out.status_code == 204
    assert (
        api.client.post(
            "/api/v2/auth/refresh", json={"refresh_token": alice.refresh_token}
        ).status_code
        == 401
    )


def test_totp_enrolment_needs_a_valid_code(api: Api) -> None:
    alice = api.register()
    secret = api.client.post("/api/v2/auth/totp/enable", headers=alice.headers).json()["secret"]
    bad = api.client.post(
        "/api/v2/auth/totp/verify", headers=alice.headers, json={"code": "000000"}
    )
    assert bad.status_code == 403
    assert not api.client.get("/api/v2/auth/me", headers=alice.headers).json()["totp_enabled"]
    good = api.client.post(
        "/api/v2/auth/totp/verify", headers=alice.headers, json={"code": api.code(secret)}
    )
    assert good.status_code == 200
    assert api.client.get("/api/v2/auth/me", headers=alice.headers).json()["totp_enabled"]
    with api.ctx.db.session() as session:
        stored = session.get(User, alice.user_id).totp_secret_encrypted
    assert secret not in stored  # encrypted at rest


KEYS = {"exchange": "binance", "api_key": "AKIA-test-key-123456", "secret": "s3cr3t-value-xyz"}


def test_exchange_keys_need_totp_and_are_never_returned(api: Api) -> None:
    alice = api.register()
    url = f"/api/v2/users/{alice.user_id}/exchange-keys"
    without = api.client.post(url, headers=alice.headers, json=KEYS)
    assert without.status_code == 403
    assert "TOTP" in without.json()["error"]
    api.enable_totp(alice)
    missing = api.client.post(url, headers=alice.headers, json=KEYS)
    assert missing.status_code == 403
    wrong = api.client.post(url, headers={**alice.headers, "X-TOTP-Code": "123456"}, json=KEYS)
    assert wrong.status_code == 403
    headers = api.totp_headers(alice)
    added = api.client.post(url, headers=headers, json=KEYS)
    assert added.status_code == 201, added.text
    replayed = api.client.post(url, headers=headers, json={**KEYS, "label": "second"})
    assert replayed.status_code == 403  # a code is good once
    listed = api.client.get(url, headers=alice.headers)
    text = listed.text
    assert KEYS["api_key"] not in text
    assert KEYS["secret"] not in text
    with api.ctx.db.session() as session:
        row = session.scalars(select(ExchangeCredential)).first()
        assert KEYS["secret"] not in row.secret_encrypted
        assert api.ctx.security.encryptor.decrypt(row.secret_encrypted) == KEYS["secret"]
    rotated = api.client.post(
        url, headers=api.totp_headers(alice), json={**KEYS, "secret": "rotated-secret-1"}
    )
    assert rotated.status_code == 201
    assert rotated.json()["rotated_at"] is not None
    credential = rotated.json()["credential_id"]
    assert api.client.delete(f"{url}/{credential}", headers=alice.headers).status_code == 403
    gone = api.client.delete(f"{url}/{credential}", headers=api.totp_headers(alice))
    assert gone.status_code == 204
    assert api.client.get(url, headers=alice.headers).json() == []


def test_kill_switch_release_needs_totp(api: Api) -> None:
    alice = api.register()
    url = f"/api/v2/users/{alice.user_id}/kill-switch"
    assert api.client.post(url, headers=alice.headers, json={}).status_code == 200
    assert api.client.delete(url, headers=alice.headers).status_code == 403
    api.enable_totp(alice)
    assert api.client.delete(url, headers=alice.headers).status_code == 403
    released = api.client.delete(url, headers=api.totp_headers(alice))
    assert released.status_code == 200
    assert released.json()["trading_state"] == "active"
    assert api.open(alice).status_code == 200


def test_totp_codes_follow_rfc6238() -> None:
    # RFC 6238 appendix B, SHA-1 seed "12345678901234567890" at T=59 → 94287082 (8 digits);
    # the 6-digit code is its last six digits.
    import base64

    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp.code_at(secret, 59) == "287082"
    assert totp.matching_step(secret, "287082", None, now=59) == 1
    assert totp.matching_step(secret, "287082", 1, now=59) is None
    assert totp.matching_step(secret, "28708", None, now=59) is None


@pytest.mark.parametrize("profile", ["conservative", "aggressive"])
def test_registration_keeps_the_chosen_profile(api: Api, profile: str) -> None:
    alice = api.register(profile=profile)
    me = api.client.get("/api/v2/auth/me", headers=alice.headers).json()
    assert me["risk_profile"] == profile
