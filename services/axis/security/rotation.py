"""Key rotation of stored exchange credentials, without downtime.

1. rotate the key (a new Fernet primary, or a new transit key version): old versions still
   decrypt, so every process keeps working;
2. :func:`reencrypt_credentials` moves rows to the new version in small committed batches
   (each batch is locked, re-encrypted and written in one transaction; a crash halfway leaves
   every row readable under its own version, and a rerun continues);
3. with no row left on an old version, old Fernet keys may be retired.
"""

from __future__ import annotations

from dataclasses import dataclass

from axis.security.crypto import Encryptor
from axis.store.accounts import CredentialRepository
from axis.store.db import Database
from axis.store.types import utcnow


@dataclass(frozen=True, slots=True)
class RotationReport:
    version: str
    reencrypted: int
    already_current: int


def reencrypt_credentials(db: Database, encryptor: Encryptor, batch: int = 100) -> RotationReport:
    version = encryptor.current_version()
    moved = current = 0
    last_id = 0
    while True:
        with db.session() as session:
            rows = CredentialRepository(session).batch_after(last_id, batch)
            if not rows:
                break
            for row in rows:
                if row.key_version == version:
                    current += 1
                    continue
                row.api_key_encrypted = encryptor.reencrypt(row.api_key_encrypted)
                row.secret_encrypted = encryptor.reencrypt(row.secret_encrypted)
                if row.password_encrypted:
                    row.password_encrypted = encryptor.reencrypt(row.password_encrypted)
                row.key_version = version
                row.rotated_at = utcnow()
                moved += 1
            last_id = rows[-1].id
    return RotationReport(version, moved, current)


def versions_in_use(db: Database) -> set[str]:
    with db.session() as session:
        return CredentialRepository(session).versions_in_use()
