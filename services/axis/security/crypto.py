"""Encryption of stored exchange keys: Vault transit when configured, else Fernet.

Both backends tag each ciphertext with the key version that made it, so a rotation knows what
still needs re-encrypting, and both keep old versions able to decrypt while rows move to the
new one: rotation runs with the platform up.

- :class:`FernetEncryptor`: keys in the secrets provider under ``encryption-keys`` (newest
  first, comma separated). Ciphertexts read ``fernet:<key id>:<token>``. The key list is
  re-read when a ciphertext names a key this process does not know yet (another process
  rotated), and every ``refresh_s`` seconds.
- :class:`VaultTransitEncryptor`: the transit engine holds the key; ciphertexts are Vault's
  ``vault:v<N>:...``; rotation is ``rotate`` then ``rewrap`` (the plaintext never leaves Vault).
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Callable
from typing import Protocol

import hvac
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from hvac.exceptions import VaultError

from axis.security.secrets import SecretsError, SecretsProvider

ENCRYPTION_KEYS = "encryption-keys"


class DecryptionError(RuntimeError):
    """A ciphertext that no available key opens (never says more than which key it names)."""


class Encryptor(Protocol):
    scheme: str

    def encrypt(self, plaintext: str) -> str: ...
    def decrypt(self, ciphertext: str) -> str: ...
    def current_version(self) -> str: ...
    def version_of(self, ciphertext: str) -> str: ...
    def reencrypt(self, ciphertext: str) -> str: ...


def fernet_key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class FernetEncryptor:
    scheme = "fernet"

    def __init__(
        self,
        provider: SecretsProvider,
        *,
        create: bool = True,
        refresh_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.refresh_s = refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        keys = self._stored_keys()
        if not keys:
            if not create:
                raise SecretsError(f"no {ENCRYPTION_KEYS!r} secret configured")
            keys = [Fernet.generate_key().decode()]
            provider.put(ENCRYPTION_KEYS, ",".join(keys))
        self._load(keys)

    def _stored_keys(self) -> list[str]:
        value = self.provider.get(ENCRYPTION_KEYS)
        if value is None:
            return []
        if not isinstance(value, str):
            raise SecretsError(f"{ENCRYPTION_KEYS!r} must be a comma-separated string of keys")
        return [k.strip() for k in value.split(",") if k.strip()]

    def _load(self, keys: list[str]) -> None:
        try:
            fernets = [Fernet(k.encode()) for k in keys]
        except (ValueError, TypeError):
            raise SecretsError(f"{ENCRYPTION_KEYS!r} holds a malformed Fernet key") from None
        with self._lock:
            self._keys = keys
            self._ids = {fernet_key_id(k): f for k, f in zip(keys, fernets)}
            self._primary_id = fernet_key_id(keys[0])
            self._multi = MultiFernet(fernets)
            self._loaded_at = self._clock()

    def reload(self) -> None:
        keys = self._stored_keys()
        if keys:
            self._load(keys)

    def _maybe_refresh(self) -> None:
        if self._clock() - self._loaded_at >= self.refresh_s:
            self.reload()

    def current_version(self) -> str:
        self._maybe_refresh()
        return f"fernet:{self._primary_id}"

    def version_of(self, ciphertext: str) -> str:
        scheme, key_id, _ = self._split(ciphertext)
        return f"{scheme}:{key_id}"

    @staticmethod
    def _split(ciphertext: str) -> tuple[str, str, str]:
        parts = ciphertext.split(":", 2)
        if len(parts) != 3 or parts[0] != "fernet":
            raise DecryptionError("not a fernet ciphertext of this platform")
        return parts[0], parts[1], parts[2]

    def encrypt(self, plaintext: str) -> str:
        self._maybe_refresh()
        with self._lock:
            primary = self._ids[self._primary_id]
            key_id = self._primary_id
        token = primary.encrypt(plaintext.encode()).decode()
        return f"fernet:{key_id}:{token}"

    def decrypt(self, ciphertext: str) -> str:
        _, key_id, token = self._split(ciphertext)
        if key_id not in self._ids:
            self.reload()  # another process rotated: pick up the new key list
        fernet = self._ids.get(key_id)
        if fernet is None:
            raise DecryptionError(f"key {key_id} is not available (retired or never known)")
        try:
            return fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise DecryptionError(f"ciphertext does not open with key {key_id}") from None

    def reencrypt(self, ciphertext: str) -> str:
        return self.encrypt(self.decrypt(ciphertext))

    # -- key management -----------------------------------------------------------------------
    def rotate_key(self) -> str:
        """A new primary key; the old ones stay for decryption. Returns the new version."""
        keys = [Fernet.generate_key().decode(), *self._stored_keys()]
        self.provider.put(ENCRYPTION_KEYS, ",".join(keys))
        self._load(keys)
        return self.current_version()

    def retire_keys(self, in_use: set[str]) -> list[str]:
        """Drop keys whose version no stored ciphertext uses; the primary always stays."""
        keys = self._stored_keys()
        keep = [k for i, k in enumerate(keys) if i == 0 or f"fernet:{fernet_key_id(k)}" in in_use]
        dropped = [f"fernet:{fernet_key_id(k)}" for k in keys if k not in keep]
        if dropped:
            self.provider.put(ENCRYPTION_KEYS, ",".join(keep))
            self._load(keep)
        return dropped


class VaultTransitEncryptor:
    scheme = "vault-transit"

    def __init__(self, client: hvac.Client, key: str, mount: str = "transit") -> None:
        self.client = client
        self.key = key
        self.mount = mount

    def ensure_key(self) -> None:
        """Create the transit key when missing (a dev or first deployment)."""
        try:
            self.client.secrets.transit.read_key(name=self.key, mount_point=self.mount)
        except hvac.exceptions.InvalidPath:
            self.client.secrets.transit.create_key(name=self.key, mount_point=self.mount)

    def _call(self, what: str, fn: Callable[[], dict]) -> dict:
        try:
            return fn()
        except (VaultError, OSError) as exc:
            raise DecryptionError(f"vault transit {what} failed: {type(exc).__name__}") from None

    def encrypt(self, plaintext: str) -> str:
        encoded = base64.b64encode(plaintext.encode()).decode()
        response = self._call(
            "encrypt",
            lambda: self.client.secrets.transit.encrypt_data(
                name=self.key, plaintext=encoded, mount_point=self.mount
            ),
        )
        return str(response["data"]["ciphertext"])

    def decrypt(self, ciphertext: str) -> str:
        if not ciphertext.startswith("vault:v"):
            raise DecryptionError("not a vault transit ciphertext")
        response = self._call(
            "decrypt",
            lambda: self.client.secrets.transit.decrypt_data(
                name=self.key, ciphertext=ciphertext, mount_point=self.mount
            ),
        )
        return base64.b64decode(response["data"]["plaintext"]).decode()

    def current_version(self) -> str:
        response = self._call(
            "read_key",
            lambda: self.client.secrets.transit.read_key(name=self.key, mount_point=self.mount),
        )
        return f"vault-transit:{self.key}:v{response['data']['latest_version']}"

    def version_of(self, ciphertext: str) -> str:
        prefix = ciphertext.split(":", 2)
        if len(prefix) < 3 or prefix[0] != "vault":
            raise DecryptionError("not a vault transit ciphertext")
        return f"vault-transit:{self.key}:{prefix[1]}"

    def reencrypt(self, ciphertext: str) -> str:
        response = self._call(
            "rewrap",
            lambda: self.client.secrets.transit.rewrap_data(
                name=self.key, ciphertext=ciphertext, mount_point=self.mount
            ),
        )
        return str(response["data"]["ciphertext"])

    def rotate_key(self) -> str:
        self._call(
            "rotate",
            lambda: self.client.secrets.transit.rotate_key(name=self.key, mount_point=self.mount),
        )
        return self.current_version()
