"""An exchange account's API keys, and where the gateway finds them.

The sources, first match wins (the operator sets up exactly one of them per connector):

1. the environment: ``AXIS_EXCHANGE_API_KEY``, ``AXIS_EXCHANGE_SECRET``, ``AXIS_EXCHANGE_PASSWORD``
   (a Kubernetes Secret mapped into the pod, or a shell on one machine);
2. the file Vault Agent renders, ``/vault/secrets/exchange-keys.json``
   (``{"apiKey", "secret", "password"}``; ``AXIS_VAULT_AGENT_FILE`` moves it);
3. Vault KV v2 read by the gateway itself (``AXIS_VAULT_ADDR`` and ``AXIS_VAULT_PATH``, logged
   in by Kubernetes auth as ``AXIS_VAULT_ROLE`` or with ``AXIS_VAULT_TOKEN``), or the spec's
   ``credentials.vault``;
4. a local credentials profile (``AXIS_CREDENTIALS_PROFILE`` or the spec's
   ``credentials.local.profile``) in the platform's secrets store (``axis.security``).

:class:`ExchangeKeys` never shows its values: not in ``repr``, ``str``, pickles or logs. The
venue that signs requests calls :meth:`ExchangeKeys.reveal` once, at construction.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn

from axis.config.settings import AxisSettings
from axis.config.specs import ExchangeConnectorSpec, VaultAuth
from axis.security import build_secrets
from axis.security.secrets import (
    SecretsError,
    SecretsProvider,
    VaultSecrets,
    exchange_keys,
    vault_client,
)

AGENT_FILE = Path("/vault/secrets/exchange-keys.json")
REDACTED = "***"


class ExchangeKeys:
    """API key, secret and optional passphrase of one exchange account, kept out of sight."""

    __slots__ = ("_api_key", "_password", "_secret", "source")

    def __init__(self, api_key: str, secret: str, password: str | None, source: str) -> None:
        if not api_key or not secret:
            raise SecretsError(f"exchange keys from {source} lack the apiKey or the secret")
        self._api_key = api_key
        self._secret = secret
        self._password = password or None
        self.source = source

    def reveal(self) -> dict[str, str]:
        """The ccxt credential fields. Only the venue that signs requests should call this."""
        fields = {"apiKey": self._api_key, "secret": self._secret}
        if self._password:
            fields["password"] = self._password
        return fields

    def secrets(self) -> tuple[str, ...]:
        """The secret strings themselves, for scrubbing text that leaves the gateway."""
        return tuple(v for v in (self._api_key, self._secret, self._password) if v)

    def scrub(self, text: str) -> str:
        """``text`` with every key value replaced (an exchange error may echo a header)."""
        for value in self.secrets():
            text = text.replace(value, REDACTED)
        return text

    def __repr__(self) -> str:
        return f"ExchangeKeys(source={self.source!r}, apiKey={REDACTED})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("exchange keys are not picklable")


def from_mapping(data: Mapping[str, Any], source: str) -> ExchangeKeys:
    def text(key: str) -> str:
        value = data.get(key)
        return value if isinstance(value, str) else ""

    return ExchangeKeys(text("apiKey"), text("secret"), text("password"), source)


def keys_from_env(environ: Mapping[str, str]) -> ExchangeKeys | None:
    api_key = environ.get("AXIS_EXCHANGE_API_KEY", "")
    secret = environ.get("AXIS_EXCHANGE_SECRET", "")
    if not api_key and not secret:
        return None
    return ExchangeKeys(api_key, secret, environ.get("AXIS_EXCHANGE_PASSWORD"), "environment")


def keys_from_agent_file(path: Path) -> ExchangeKeys | None:
    try:
        raw = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SecretsError(f"{path}: cannot read ({type(exc).__name__})") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        raise SecretsError(f"{path}: not a JSON object of apiKey, secret, password") from None
    if not isinstance(data, dict):
        raise SecretsError(f"{path}: not a JSON object of apiKey, secret, password")
    return from_mapping(data, str(path))


def keys_from_vault(
    environ: Mapping[str, str], spec: ExchangeConnectorSpec, settings: AxisSettings
) -> ExchangeKeys | None:
    """Read the KV v2 secret when the environment or the spec points at one (Vault Agent
    mode is served by the rendered file, not here)."""
    vault = spec.credentials.vault
    path = environ.get("AXIS_VAULT_PATH") or (
        vault.path if vault is not None and vault.auth is VaultAuth.KUBERNETES else None
    )
    addr = environ.get("AXIS_VAULT_ADDR") or settings.vault_addr
    if not path:
        return None
    if not addr:
        raise SecretsError("vault credentials need AXIS_VAULT_ADDR")
    token = environ.get("AXIS_VAULT_TOKEN") or (
        settings.vault_token.get_secret_value() if settings.vault_token else None
    )
    role = environ.get("AXIS_VAULT_ROLE") or (vault.role if vault is not None else None)
    client = vault_client(
        addr,
        token=token,
        kubernetes_role=None if token else role,
        kubernetes_token_path=settings.vault_kubernetes_token_path,
        kubernetes_mount=environ.get("AXIS_VAULT_AUTH_PATH") or settings.vault_auth_path,
    )
    mount = environ.get("AXIS_VAULT_MOUNT") or (vault.mount if vault is not None else "secret")
    value = VaultSecrets(client, mount=mount, prefix="").get(path)
    if not isinstance(value, dict):
        raise SecretsError(f"vault secret {mount}/{path} is missing or not an object of keys")
    return from_mapping(value, f"vault:{mount}/{path}")


def keys_from_profile(profile: str, provider: SecretsProvider) -> ExchangeKeys:
    return from_mapping(exchange_keys(provider, profile), f"profile:{profile}")


def load_exchange_keys(
    spec: ExchangeConnectorSpec,
    environ: Mapping[str, str] | None = None,
    *,
    agent_file: Path | None = None,
    settings: Callable[[], AxisSettings] = AxisSettings,
) -> ExchangeKeys:
    """The account's keys from the first source that has them; :class:`SecretsError` (with no
    key material in it) when none does."""
    env = os.environ if environ is None else environ
    found = keys_from_env(env)
    if found is not None:
        return found
    found = keys_from_agent_file(agent_file or Path(env.get("AXIS_VAULT_AGENT_FILE", AGENT_FILE)))
    if found is not None:
        return found
    axis_settings = settings()
    found = keys_from_vault(env, spec, axis_settings)
    if found is not None:
        return found
    local = spec.credentials.local
    profile = env.get("AXIS_CREDENTIALS_PROFILE") or (local.profile if local else None)
    reason = "no source has them"
    if profile:
        provider, _ = build_secrets(axis_settings)
        try:
            return keys_from_profile(profile, provider)
        except SecretsError as exc:
            reason = str(exc)
    raise SecretsError(
        f"no exchange keys ({reason}): set AXIS_EXCHANGE_API_KEY and AXIS_EXCHANGE_SECRET, "
        f"provide {AGENT_FILE}, point AXIS_VAULT_ADDR and AXIS_VAULT_PATH at Vault, or store "
        "the profile as exchange/<profile> in the secrets file"
    )
