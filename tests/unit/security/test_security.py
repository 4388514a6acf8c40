"""Passwords, tokens, local secrets and Fernet rotation."""

from __future__ import annotations

import json
import os
import stat
from datetime import timedelta
from pathlib import Path

import jwt
import pytest

from axis.security.crypto import DecryptionError, FernetEncryptor
from axis.security.passwords import PasswordHasher, password_problem
from axis.security.secrets import EnvSecrets, FileSecrets, SecretsError, get_or_create, random_key
from axis.security.tokens import ACCESS, REFRESH, TokenError, TokenService


def test_default_password_hash_is_memory_hard_argon2id() -> None:
    hasher = PasswordHasher()
    assert hasher.parameters["memory_kib"] >= 19_456  # OWASP's argon2id floor (19 MiB)
    stored = hasher.hash("a long passphrase here")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert hasher.verify(stored, "a long passphrase here")
    assert not hasher.verify(stored, "a long passphrase HERE")
    assert not hasher.verify(None, "anything at all")  # unknown user: still a full verify
    assert PasswordHasher(1, 1024, 1).needs_rehash(stored)
    assert not hasher.needs_rehash(stored)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "at least"),
        ("alice-in-wonderland", "username"),
        ("aaaaaaaaaaaaaaaa", "repetitive"),
        ("correct horse battery staple", None),
    ],
)
def test_password_rules(password: str, problem: str | None) -> None:
    found = password_problem(password, "alice")
    assert (found is None) if problem is None else (problem in (found or ""))


def test_tokens_carry_user_and_kind_and_expire() -> None:
    service = TokenService("k" * 48, access_ttl_s=60)
    access = service.access_token(42)
    claims = service.decode(access.token, ACCESS)
    assert claims.user_id == 42
    with pytest.raises(TokenError, match="not an refresh"):
        service.decode(access.token, REFRESH)
    refresh = service.refresh_token(42)
    assert service.decode(refresh.token, REFRESH).family == refresh.claims.family
    other = TokenService("x" * 48)
    with pytest.raises(TokenError, match="invalid"):
        other.decode(access.token, ACCESS)
    expired = service._issue(42, ACCESS, timedelta(seconds=-1), None)
    with pytest.raises(TokenError, match="expired"):
        service.decode(expired.token, ACCESS)
    payload = jwt.decode(access.token, options={"verify_signature": False})
    tampered = jwt.encode({**payload, "sub": "1"}, "k" * 47 + "z", algorithm="HS256")
    with pytest.raises(TokenError):
        service.decode(tampered, ACCESS)
    none_alg = jwt.encode({**payload}, None, algorithm="none")
    with pytest.raises(TokenError):
        service.decode(none_alg, ACCESS)
    with pytest.raises(ValueError, match="32"):
        TokenService("short")


def test_file_secrets_are_private_and_refused_when_readable(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    store = FileSecrets(path)
    assert store.get("jwt-signing-key") is None
    key = get_or_create(store, "jwt-signing-key", random_key)
    assert get_or_create(store, "jwt-signing-key", random_key) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["jwt-signing-key"] == key
    os.chmod(path, 0o644)
    with pytest.raises(SecretsError, match="chmod 600"):
        store.get("jwt-signing-key")
    with pytest.raises(SecretsError, match="invalid secret name"):
        FileSecrets(tmp_path / "x.json").get("../etc/passwd")


def test_env_secrets_decode_json_objects() -> None:
    env = EnvSecrets(
        {"AXIS_SECRET_EXCHANGE_MAIN": '{"apiKey": "a", "secret": "b"}', "AXIS_SECRET_X": "y"}
    )
    assert env.get("exchange/main") == {"apiKey": "a", "secret": "b"}
    assert env.get("x") == "y"
    assert env.get("absent") is None
    with pytest.raises(SecretsError, match="read-only"):
        env.put("x", "z")


def test_fernet_rotation_keeps_old_ciphertexts_readable(tmp_path: Path) -> None:
    store = FileSecrets(tmp_path / "secrets.json")
    fernet = FernetEncryptor(store)
    old = fernet.encrypt("exchange secret")
    assert old.startswith("fernet:")
    assert "exchange secret" not in old
    first_version = fernet.current_version()
    second_version = fernet.rotate_key()
    assert second_version != first_version
    assert fernet.version_of(old) == first_version
    moved = fernet.reencrypt(old)
    assert fernet.version_of(moved) == second_version
    assert fernet.decrypt(old) == fernet.decrypt(moved) == "exchange secret"
    # another process that loaded the keys before the rotation picks the new one up
    stale = FernetEncryptor(store)
    assert stale.decrypt(moved) == "exchange secret"
    retired = fernet.retire_keys({second_version})
    assert retired == [first_version]
    with pytest.raises(DecryptionError, match="not available"):
        fernet.decrypt(old)
    with pytest.raises(DecryptionError):
        fernet.decrypt("fernet:" + second_version.split(":")[1] + ":garbage")
