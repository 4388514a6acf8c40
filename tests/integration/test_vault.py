"""Secrets and encryption against a real Vault API (OpenBao dev server): KV v2, transit
encryption, key rotation with re-encryption of stored credentials, login failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hvac
import pytest

from axis.config.settings import AxisSettings, VaultAuthMethod
from axis.security import build_security
from axis.security.crypto import DecryptionError, VaultTransitEncryptor
from axis.security.rotation import reencrypt_credentials, versions_in_use
from axis.security.secrets import (
    ChainSecrets,
    EnvSecrets,
    SecretsError,
    VaultSecrets,
    exchange_keys,
    vault_client,
)
from axis.store import CredentialRepository, Database, UserRepository


def _self_signed_pem() -> str:
    """A CA certificate for the (absent) Kubernetes API the auth method would call."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
def client(vault: Any) -> hvac.Client:
    return vault_client(vault.addr, token=vault.token)


def test_kv_v2_strings_objects_and_misses(client: hvac.Client) -> None:
    store = VaultSecrets(client, "secret", "axis-test")
    assert store.get("nothing-here") is None
    store.put("jwt-signing-key", "k" * 40)
    store.put("exchange/main", {"apiKey": "AK", "secret": "SK", "password": "PW"})
    assert store.get("jwt-signing-key") == "k" * 40
    assert exchange_keys(store, "main") == {"apiKey": "AK", "secret": "SK", "password": "PW"}
    store.put("jwt-signing-key", "n" * 40)  # a new version
    assert store.get("jwt-signing-key") == "n" * 40
    chain = ChainSecrets([EnvSecrets({"AXIS_SECRET_JWT_SIGNING_KEY": "e" * 40}), store])
    assert chain.get("jwt-signing-key") == "e" * 40  # the environment wins
    assert chain.get("exchange/main")["apiKey"] == "AK"  # type: ignore[index]
    with pytest.raises(SecretsError):
        exchange_keys(store, "absent")


def test_wrong_tokens_and_unreachable_vault_fail_closed(vault: Any) -> None:
    with pytest.raises(SecretsError, match="refused"):
        vault_client(vault.addr, token="not-a-token")
    with pytest.raises(SecretsError, match="unreachable"):
        vault_client("http://127.0.0.1:1", token="x", timeout_s=0.5)


def test_kubernetes_login_failure_is_reported_without_secrets(
    client: hvac.Client, vault: Any, tmp_path: Path
) -> None:
    """The service-account login path reaches Vault; with no Kubernetes API to review the
    token (none exists here) Vault refuses, and the error names the role, not the token."""
    if "kubernetes/" not in client.sys.list_auth_methods():
        client.sys.enable_auth_method("kubernetes")
    client.write(
        "auth/kubernetes/config",
        kubernetes_host="https://127.0.0.1:1",
        disable_local_ca_jwt=True,
        kubernetes_ca_cert=_self_signed_pem(),
        token_reviewer_jwt="reviewer",
    )
    client.write(
        "auth/kubernetes/role/axis-api",
        bound_service_account_names="axis",
        bound_service_account_namespaces="axis",
        policies="default",
        ttl="1h",
    )
    token_file = tmp_path / "token"
    token_file.write_text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
    with pytest.raises(SecretsError) as failure:
        vault_client(vault.addr, kubernetes_role="axis-api", kubernetes_token_path=token_file)
    assert "axis-api" in str(failure.value)
    assert "eyJ" not in str(failure.value)


def test_transit_encrypts_rotates_and_rewraps(client: hvac.Client) -> None:
    if "transit/" not in client.sys.list_mounted_secrets_engines():
        client.sys.enable_secrets_engine("transit")
    transit = VaultTransitEncryptor(client, "axis-test-keys")
    transit.ensure_key()
    token = transit.encrypt("exchange-secret")
    assert token.startswith("vault:v1:")
    assert "exchange-secret" not in token
    assert transit.decrypt(token) == "exchange-secret"
    before = transit.current_version()
    after = transit.rotate_key()
    assert after != before
    moved = transit.reencrypt(token)
    assert transit.version_of(moved) == after
    assert transit.decrypt(moved) == "exchange-secret"
    assert transit.decrypt(token) == "exchange-secret"  # old versions still open
    with pytest.raises(DecryptionError):
        transit.decrypt("vault:v1:bm90LWEtY2lwaGVydGV4dA==")


def test_platform_uses_vault_for_secrets_and_transit_for_keys(vault: Any, tmp_path: Path) -> None:
    settings = AxisSettings(
        data_dir=tmp_path,
        vault_addr=vault.addr,
        vault_token=vault.token,
        vault_auth=VaultAuthMethod.TOKEN,
        vault_kv_prefix="axis-platform",
        vault_transit_key="axis-platform-keys",
    )
    client = vault_client(vault.addr, token=vault.token)
    if "transit/" not in client.sys.list_mounted_secrets_engines():
        client.sys.enable_secrets_engine("transit")
    security = build_security(settings)
    assert security.encryptor.scheme == "vault-transit"
    # the JWT key was generated into Vault KV, not into a local file
    assert VaultSecrets(client, "secret", "axis-platform").get("jwt-signing-key")
    assert not (tmp_path / "secrets.json").exists()

    db = Database(f"sqlite:///{tmp_path / 'axis.db'}")
    db.upgrade()
    encryptor = security.encryptor
    with db.session() as session:
        user = UserRepository(session).create("keys", "k@example.com", "h")
        repo = CredentialRepository(session)
        for n in range(5):
            api_key = encryptor.encrypt(f"key-{n}")
            repo.add(
                user.id,
                "binance",
                f"acct-{n}",
                api_key,
                encryptor.encrypt(f"sec-{n}"),
                None,
                encryptor.version_of(api_key),
            )
    assert isinstance(encryptor, VaultTransitEncryptor)
    new_version = encryptor.rotate_key()
    report = reencrypt_credentials(db, encryptor, batch=2)
    assert report.reencrypted == 5
    assert versions_in_use(db) == {new_version}
    with db.session() as session:
        rows = CredentialRepository(session).for_user(user.id)
        assert [encryptor.decrypt(r.secret_encrypted) for r in rows] == [
            f"sec-{n}" for n in range(5)
        ]
    again = reencrypt_credentials(db, encryptor)
    assert (again.reencrypted, again.already_current) == (0, 5)
    db.dispose()
