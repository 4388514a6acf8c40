"""Exchange keys: where the gateway finds them, and that they never leave it: not in logs,
metrics, API responses, status or the errors a worker sees."""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

from axis.config.settings import AxisSettings
from axis.config.specs import Credentials, ExchangeConnectorSpec, FileCredentials
from axis.domain.enums import Exchange
from axis.gateway.credentials import ExchangeKeys, load_exchange_keys
from axis.gateway.faults import GatewayError
from axis.gateway.paper import PaperExchange
from axis.gateway.server import GatewayConfig, build_app
from axis.security.secrets import FileSecrets, SecretsError
from axis.venues.gateway import GatewayVenue

from .conftest import PERP, Recorder, paper_exchange

API_KEY = "AKleakTESTapiKEY7f3a9c"
SECRET = "SKleakTESTsecret0b1d2e3f"
PASSWORD = "PWleakTESTpass5566"
KEYS_ENV = {
    "AXIS_EXCHANGE_API_KEY": API_KEY,
    "AXIS_EXCHANGE_SECRET": SECRET,
    "AXIS_EXCHANGE_PASSWORD": PASSWORD,
}
SPEC = ExchangeConnectorSpec(exchange=Exchange.OKX)


def assert_no_keys(text: str, where: str) -> None:
    for value in (API_KEY, SECRET, PASSWORD):
        assert value not in text, f"a key value leaked into {where}"


def no_settings() -> AxisSettings:
    raise AssertionError("settings are not read when an earlier source has the keys")


# -- the keys type ----------------------------------------------------------------------------
def test_keys_never_show_themselves() -> None:
    keys = ExchangeKeys(API_KEY, SECRET, PASSWORD, "test")
    for text in (repr(keys), str(keys), f"{keys}", f"{keys!r}", repr([keys]), repr({"k": keys})):
        assert_no_keys(text, "repr")
    with pytest.raises(TypeError):
        pickle.dumps(keys)
    assert not hasattr(keys, "__dict__")
    assert keys.reveal() == {"apiKey": API_KEY, "secret": SECRET, "password": PASSWORD}
    assert keys.scrub(f"header X-KEY={API_KEY} sig of {SECRET}") == "header X-KEY=*** sig of ***"


def test_keys_need_the_api_key_and_the_secret() -> None:
    with pytest.raises(SecretsError, match="lack the apiKey or the secret"):
        load_exchange_keys(SPEC, {"AXIS_EXCHANGE_API_KEY": API_KEY}, settings=no_settings)


# -- the sources, in order ----------------------------------------------------------------------
def test_the_environment_comes_first(tmp_path: Path) -> None:
    agent = tmp_path / "exchange-keys.json"
    agent.write_text(json.dumps({"apiKey": "other", "secret": "other"}))
    keys = load_exchange_keys(SPEC, KEYS_ENV, agent_file=agent, settings=no_settings)
    assert keys.reveal()["apiKey"] == API_KEY
    assert keys.source == "environment"


def test_the_vault_agent_file_is_read_when_the_environment_has_no_keys(tmp_path: Path) -> None:
    agent = tmp_path / "exchange-keys.json"
    # Vault Agent's template renders an absent passphrase as "".
    agent.write_text(json.dumps({"apiKey": API_KEY, "secret": SECRET, "password": ""}))
    keys = load_exchange_keys(SPEC, {}, agent_file=agent, settings=no_settings)
    assert keys.reveal() == {"apiKey": API_KEY, "secret": SECRET}
    env = {"AXIS_VAULT_AGENT_FILE": str(agent)}
    assert load_exchange_keys(SPEC, env, settings=no_settings).source == str(agent)


def test_a_broken_agent_file_is_refused_without_its_content(tmp_path: Path) -> None:
    agent = tmp_path / "exchange-keys.json"
    agent.write_text(f'{{"apiKey": "{API_KEY}", "secret": ')
    with pytest.raises(SecretsError) as caught:
        load_exchange_keys(SPEC, {}, agent_file=agent, settings=no_settings)
    assert_no_keys(str(caught.value), "the error")


def test_a_local_profile_is_read_from_the_secrets_file(tmp_path: Path) -> None:
    secrets_file = tmp_path / "secrets.json"
    FileSecrets(secrets_file).put("exchange/okx-main", {"apiKey": API_KEY, "secret": SECRET})
    spec = SPEC.model_copy(
        update={"credentials": Credentials(local=FileCredentials(profile="okx-main"))}
    )
    settings = lambda: AxisSettings(secrets_file=secrets_file)  # noqa: E731
    missing = tmp_path / "absent.json"
    keys = load_exchange_keys(spec, {}, agent_file=missing, settings=settings)
    assert keys.reveal() == {"apiKey": API_KEY, "secret": SECRET}
    assert keys.source == "profile:okx-main"
    # AXIS_CREDENTIALS_PROFILE (set by the operator) names the profile too.
    env = {"AXIS_CREDENTIALS_PROFILE": "okx-main"}
    assert load_exchange_keys(SPEC, env, agent_file=missing, settings=settings).reveal()
    with pytest.raises(SecretsError, match="exchange/nobody"):
        load_exchange_keys(
            SPEC, {"AXIS_CREDENTIALS_PROFILE": "nobody"}, agent_file=missing, settings=settings
        )


def test_no_source_at_all_says_where_keys_can_come_from(tmp_path: Path) -> None:
    spec = SPEC.model_copy(
        update={"credentials": Credentials(local=FileCredentials(profile="default"))}
    )
    settings = lambda: AxisSettings(secrets_file=tmp_path / "secrets.json")  # noqa: E731
    with pytest.raises(SecretsError, match="AXIS_EXCHANGE_API_KEY"):
        load_exchange_keys(spec, {}, agent_file=tmp_path / "absent.json", settings=settings)


def test_a_vault_path_without_an_address_is_refused(tmp_path: Path) -> None:
    settings = lambda: AxisSettings(secrets_file=tmp_path / "secrets.json")  # noqa: E731
    with pytest.raises(SecretsError, match="AXIS_VAULT_ADDR"):
        load_exchange_keys(
            SPEC,
            {"AXIS_VAULT_PATH": "axis/okx-main"},
            agent_file=tmp_path / "absent.json",
            settings=settings,
        )


# -- nothing leaks ------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_keys_appear_in_no_log_metric_response_status_or_error(
    serve: Any, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, Any] = {}

    def factory(spec: ExchangeConnectorSpec, keys: ExchangeKeys, name: str) -> PaperExchange:
        seen["keys"] = keys.reveal()  # the venue is the one place that holds them
        return paper_exchange()

    config = GatewayConfig(SPEC, "okx-main", "127.0.0.1", 0, token=None)
    app = build_app(config, factory=factory, environ=KEYS_ENV)
    assert seen["keys"]["apiKey"] == API_KEY
    exchange: PaperExchange = app.state.gateway.venue
    outputs: list[str] = []
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logs:
        server = await serve(app)
        venue = GatewayVenue(server.url)
        recorder = Recorder()
        await venue.connect(recorder)
        # Exchange errors that echo what was sent, as real ones do (headers, signed payloads).
        echo = f"invalid signature for apiKey={API_KEY} secret={SECRET} passphrase={PASSWORD}"
        exchange.fail_next("fetch_balances", ValueError(echo))
        exchange.fail_next("fetch_positions", RuntimeError(echo))
        exchange.fail_next("server_time_ms", ValueError(echo))
        exchange.fail_next("submit", ValueError(echo))
        for call in (venue.fetch_balances, venue.fetch_positions):
            with pytest.raises((ValueError, GatewayError)) as caught:
                await call()
            outputs += [str(caught.value), repr(caught.value), repr(vars(caught.value))]
        from axis.domain.enums import OrderSide, OrderType
        from axis.domain.orders import Order

        rejected = Order("k-1", PERP, OrderSide.BUY, OrderType.MARKET, 0.01)
        venue.submit(rejected)
        await recorder.wait_for(1)
        outputs.append(rejected.reject_reason)
        # The exchange venue reports a rejection whose reason echoes the request.
        refused = Order("k-2", PERP, OrderSide.BUY, OrderType.MARKET, 0.01)
        refused.reject(echo)
        assert exchange.listener is not None
        exchange.listener.on_order_update(refused)
        await recorder.wait_for(2)
        exchange.orders["k-2"] = refused
        await app.state.gateway.health.probe(exchange, app.state.gateway.scrub)
        async with httpx.AsyncClient(base_url=server.url) as client:
            for path in ("/status", "/metrics", "/healthz", "/readyz", "/v1/balances"):
                outputs.append((await client.get(path)).text)
            k2 = await client.get("/v1/orders/k-2", params={"symbol": PERP})
            assert k2.json()["rejectReason"].startswith("invalid signature for apiKey=***")
            outputs.append(k2.text)
            exchange.fail_next("fetch_my_trades", ValueError(echo))
            outputs.append((await client.get("/v1/trades", params={"symbol": PERP})).text)
        await venue.close()
    assert "invalid signature for apiKey=***" in rejected.reject_reason  # scrubbed, not lost
    outputs += [json.dumps(entry, default=str) for entry in logs]
    outputs += [record.getMessage() + str(record.__dict__) for record in caplog.records]
    captured = capfd.readouterr()
    outputs += [captured.out, captured.err]
    outputs += [json.dumps(recorder.events)]
    assert len(logs) >= 3  # the failures were logged (scrubbed)
    assert_no_keys("\n".join(outputs), "the gateway's output")
