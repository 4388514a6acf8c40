"""Secrets providers behind one interface: environment, local file, Vault KV v2.

A secret has a name (``jwt-signing-key``, ``encryption-keys``, ``exchange/binance-main``) and a
value that is a string or a JSON object (exchange keys: ``{"apiKey", "secret", "password"}``).

- :class:`EnvSecrets`: ``AXIS_SECRET_<NAME>`` (upper case, ``-`` and ``/`` as ``_``); read-only.
- :class:`FileSecrets`: one JSON file, created with mode 0600 and refused when others can read
  it; the embedded default (generated keys are written here on first use).
- :class:`VaultSecrets`: Vault (or OpenBao) KV version 2 via hvac, logged in with a token or
  with Kubernetes auth (the pod's service-account token and a role).
- :class:`ChainSecrets`: the first provider that has the secret answers (env before file).

No provider logs a value or puts one in an exception message.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import hvac
from hvac.exceptions import Forbidden, InvalidPath, VaultError

SecretValue = str | dict[str, Any]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,200}$")


class SecretsError(RuntimeError):
    """A provider that cannot be read, or a secret that is malformed (never its value)."""


def check_name(name: str) -> str:
    if not _NAME.match(name) or ".." in name:
        raise SecretsError(f"invalid secret name {name!r}")
    return name


class SecretsProvider(Protocol):
    name: str

    def get(self, name: str) -> SecretValue | None: ...
    def put(self, name: str, value: SecretValue) -> None: ...


class EnvSecrets:
    """``AXIS_SECRET_JWT_SIGNING_KEY`` holds ``jwt-signing-key``. JSON objects are decoded."""

    name = "env"

    def __init__(self, environ: dict[str, str] | None = None, prefix: str = "AXIS_SECRET_"):
        self.environ = environ if environ is not None else os.environ
        self.prefix = prefix

    def variable(self, name: str) -> str:
        return self.prefix + re.sub(r"[^A-Za-z0-9]", "_", check_name(name)).upper()

    def get(self, name: str) -> SecretValue | None:
        raw = self.environ.get(self.variable(name))
        if raw is None or raw == "":
            return None
        if raw.lstrip().startswith("{"):
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                raise SecretsError(f"{self.variable(name)} is not valid JSON") from None
            if isinstance(value, dict):
                return value
        return raw

    def put(self, name: str, value: SecretValue) -> None:
        raise SecretsError("environment secrets are read-only")


class FileSecrets:
    """A JSON object of name → value in one file, private to its owner."""

    name = "file"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Any]:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return {}
        if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SecretsError(
                f"{self.path} is readable by other users; run: chmod 600 {self.path}"
            )
        try:
            data = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            reason = type(exc).__name__
            raise SecretsError(f"{self.path}: cannot read the secrets file ({reason})") from None
        if not isinstance(data, dict):
            raise SecretsError(f"{self.path}: expected a JSON object of secrets")
        return data

    def get(self, name: str) -> SecretValue | None:
        value = self._read().get(check_name(name))
        if value is None or isinstance(value, str | dict):
            return value
        raise SecretsError(f"secret {name!r} in {self.path} must be a string or an object")

    def put(self, name: str, value: SecretValue) -> None:
        with self._lock:
            data = self._read()
            data[check_name(name)] = value
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Write a private temporary file and rename it over the old one: atomic, and the
            # secrets are never in a file others can read, not even for a moment.
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".secrets-")
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "w") as handle:
                    json.dump(data, handle, indent=1, sort_keys=True)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise


def vault_client(
    addr: str,
    *,
    token: str | None = None,
    kubernetes_role: str | None = None,
    kubernetes_token_path: Path | None = None,
    kubernetes_mount: str = "kubernetes",
    timeout_s: float = 5.0,
) -> hvac.Client:
    """An authenticated hvac client: a token, or a Kubernetes service-account login."""
    client = hvac.Client(url=addr, timeout=timeout_s)
    if token:
        client.token = token
    elif kubernetes_role:
        path = kubernetes_token_path or Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
        try:
            jwt = path.read_text().strip()
        except OSError as exc:
            raise SecretsError(f"cannot read the service-account token {path}: {exc}") from None
        try:
            client.auth.kubernetes.login(kubernetes_role, jwt, mount_point=kubernetes_mount)
        except VaultError as exc:
            reason = type(exc).__name__
            raise SecretsError(f"vault kubernetes login as {kubernetes_role!r}: {reason}") from None
    else:
        raise SecretsError("vault needs a token or a kubernetes role")
    try:
        authenticated = client.is_authenticated()
    except (VaultError, OSError) as exc:
        raise SecretsError(f"vault at {addr} is unreachable: {type(exc).__name__}") from None
    if not authenticated:
        raise SecretsError(f"vault at {addr} refused the credentials")
    return client


class VaultSecrets:
    """KV version 2: secret ``name`` is the path ``<prefix>/<name>`` under ``mount``. A string
    secret is stored as ``{"value": ...}``; an object as itself."""

    name = "vault"

    def __init__(self, client: hvac.Client, mount: str = "secret", prefix: str = "axis") -> None:
        self.client = client
        self.mount = mount
        self.prefix = prefix.strip("/")

    def _path(self, name: str) -> str:
        check_name(name)
        return f"{self.prefix}/{name}" if self.prefix else name

    def get(self, name: str) -> SecretValue | None:
        try:
            response = self.client.secrets.kv.v2.read_secret_version(
                path=self._path(name), mount_point=self.mount, raise_on_deleted_version=False
            )
        except InvalidPath:
            return None
        except Forbidden:
            raise SecretsError(f"vault denied reading secret {name!r}") from None
        except (VaultError, OSError) as exc:
            raise SecretsError(f"vault read of {name!r} failed: {type(exc).__name__}") from None
        data = (response.get("data") or {}).get("data")
        if data is None:
            return None
        if set(data) == {"value"} and isinstance(data["value"], str):
            return str(data["value"])
        return dict(data)

    def put(self, name: str, value: SecretValue) -> None:
        payload = value if isinstance(value, dict) else {"value": value}
        try:
            self.client.secrets.kv.v2.create_or_update_secret(
                path=self._path(name), secret=payload, mount_point=self.mount
            )
        except (VaultError, OSError) as exc:
            raise SecretsError(f"vault write of {name!r} failed: {type(exc).__name__}") from None


class ChainSecrets:
    """Reads from each provider in turn; writes go to the first writable one."""

    name = "chain"

    def __init__(self, providers: Sequence[SecretsProvider]) -> None:
        if not providers:
            raise ValueError("a chain needs at least one provider")
        self.providers = list(providers)

    def get(self, name: str) -> SecretValue | None:
        for provider in self.providers:
            value = provider.get(name)
            if value is not None:
                return value
        return None

    def put(self, name: str, value: SecretValue) -> None:
        for provider in self.providers:
            if isinstance(provider, EnvSecrets):
                continue
            provider.put(name, value)
            return
        raise SecretsError("no writable secrets provider configured")


def get_or_create(
    provider: SecretsProvider, name: str, make: Callable[[], SecretValue]
) -> SecretValue:
    """The secret, generated and stored first when it does not exist yet (embedded mode)."""
    value = provider.get(name)
    if value is None:
        value = make()
        provider.put(name, value)
    return value


def random_key(nbytes: int = 48) -> str:
    return secrets.token_urlsafe(nbytes)


def exchange_keys(provider: SecretsProvider, profile: str) -> dict[str, str]:
    """``{"apiKey", "secret", "password"?}`` of a local credentials profile
    (``credentials.local.profile`` of an ExchangeConnector), stored as ``exchange/<profile>``."""
    value = provider.get(f"exchange/{profile}")
    if not isinstance(value, dict) or not value.get("apiKey") or not value.get("secret"):
        raise SecretsError(f"exchange keys 'exchange/{profile}' are missing or incomplete")
    return {k: str(v) for k, v in value.items() if k in ("apiKey", "secret", "password")}
