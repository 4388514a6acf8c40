"""Security: secrets providers, encryption at rest, passwords, JWT, TOTP, key rotation.

:func:`build_security` wires them from :class:`~axis.config.settings.AxisSettings`: secrets
from the environment and the local file (or Vault KV v2), exchange keys encrypted with Vault
transit when Vault is configured (else Fernet), the JWT signing key from the secrets provider
(generated into the local file on first use in embedded mode).
"""

from __future__ import annotations

from dataclasses import dataclass

import hvac

from axis.config.settings import AxisSettings, EncryptionBackend, VaultAuthMethod
from axis.security.crypto import (
    DecryptionError,
    Encryptor,
    FernetEncryptor,
    VaultTransitEncryptor,
)
from axis.security.passwords import PasswordHasher, password_problem
from axis.security.secrets import (
    ChainSecrets,
    EnvSecrets,
    FileSecrets,
    SecretsError,
    SecretsProvider,
    VaultSecrets,
    get_or_create,
    random_key,
    vault_client,
)
from axis.security.tokens import TokenError, TokenService

JWT_SIGNING_KEY = "jwt-signing-key"


@dataclass(frozen=True, slots=True)
class Security:
    secrets: SecretsProvider
    encryptor: Encryptor
    tokens: TokenService
    passwords: PasswordHasher


def build_secrets(settings: AxisSettings) -> tuple[SecretsProvider, hvac.Client | None]:
    """The secrets chain and, when Vault is configured, its authenticated client."""
    providers: list[SecretsProvider] = [EnvSecrets()]
    client = None
    if settings.vault_addr:
        token = settings.vault_token.get_secret_value() if settings.vault_token else None
        kubernetes = settings.vault_auth is VaultAuthMethod.KUBERNETES
        client = vault_client(
            settings.vault_addr,
            token=None if kubernetes else token,
            kubernetes_role=settings.vault_role if kubernetes else None,
            kubernetes_token_path=settings.vault_kubernetes_token_path,
            kubernetes_mount=settings.vault_auth_path,
        )
        providers.append(VaultSecrets(client, settings.vault_kv_mount, settings.vault_kv_prefix))
    else:
        providers.append(FileSecrets(settings.resolved_secrets_file))
    return ChainSecrets(providers), client


def build_security(settings: AxisSettings) -> Security:
    provider, client = build_secrets(settings)
    backend = settings.encryption
    if backend is EncryptionBackend.AUTO:
        backend = (
            EncryptionBackend.VAULT_TRANSIT if client is not None else EncryptionBackend.FERNET
        )
    encryptor: Encryptor
    if backend is EncryptionBackend.VAULT_TRANSIT:
        if client is None:
            raise SecretsError("vault-transit encryption needs vault_addr")
        transit = VaultTransitEncryptor(
            client,
            settings.vault_transit_key,
            settings.vault_transit_mount,
        )
        transit.ensure_key()
        encryptor = transit
    else:
        encryptor = FernetEncryptor(provider)
    signing_key = get_or_create(provider, JWT_SIGNING_KEY, random_key)
    if not isinstance(signing_key, str):
        raise SecretsError(f"{JWT_SIGNING_KEY!r} must be a string")
    tokens = TokenService(
        signing_key,
        issuer=settings.jwt_issuer,
        access_ttl_s=settings.access_token_ttl_s,
        refresh_ttl_s=settings.refresh_token_ttl_s,
    )
    passwords = PasswordHasher(
        settings.password_time_cost, settings.password_memory_kib, settings.password_parallelism
    )
    return Security(provider, encryptor, tokens, passwords)


__all__ = [
    "DecryptionError",
    "Encryptor",
    "FernetEncryptor",
    "PasswordHasher",
    "SecretsError",
    "SecretsProvider",
    "Security",
    "TokenError",
    "TokenService",
    "VaultTransitEncryptor",
    "build_secrets",
    "build_security",
    "password_problem",
]
