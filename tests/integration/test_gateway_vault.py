"""The gateway reads an exchange account's keys from Vault KV v2 (an OpenBao dev server), as
the operator configures it for a connector with ``credentials.vault``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from axis.config.settings import AxisSettings
from axis.config.specs import Credentials, ExchangeConnectorSpec, VaultCredentials
from axis.domain.enums import Exchange
from axis.gateway.credentials import load_exchange_keys
from axis.security.secrets import SecretsError, vault_client

SPEC = ExchangeConnectorSpec(
    exchange=Exchange.BYBIT,
    credentials=Credentials(vault=VaultCredentials(path="axis-gw/bybit-main")),
)


def test_keys_come_from_the_vault_path_of_the_connector(vault: Any, tmp_path: Path) -> None:
    client = vault_client(vault.addr, token=vault.token)
    client.secrets.kv.v2.create_or_update_secret(
        path="axis-gw/bybit-main",
        secret={"apiKey": "vault-api-key", "secret": "vault-secret"},
        mount_point="secret",
    )
    env = {
        "AXIS_VAULT_ADDR": vault.addr,
        "AXIS_VAULT_TOKEN": vault.token,
        "AXIS_VAULT_PATH": "axis-gw/bybit-main",
        "AXIS_VAULT_MOUNT": "secret",
    }
    settings = lambda: AxisSettings(secrets_file=tmp_path / "s.json")  # noqa: E731
    keys = load_exchange_keys(SPEC, env, agent_file=tmp_path / "none.json", settings=settings)
    assert keys.reveal() == {"apiKey": "vault-api-key", "secret": "vault-secret"}
    assert keys.source == "vault:secret/axis-gw/bybit-main"
    assert "vault-secret" not in repr(keys)

    missing = {**env, "AXIS_VAULT_PATH": "axis-gw/nobody"}
    with pytest.raises(SecretsError, match="missing or not an object"):
        load_exchange_keys(SPEC, missing, agent_file=tmp_path / "none.json", settings=settings)
    wrong = {**env, "AXIS_VAULT_TOKEN": "not-a-token"}
    with pytest.raises(SecretsError, match="refused the credentials"):
        load_exchange_keys(SPEC, wrong, agent_file=tmp_path / "none.json", settings=settings)
