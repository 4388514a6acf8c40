"""A live worker process SIGKILLed between "stored" and "sent", or between "sent" and
"acknowledged", restarts on the same database and exchange with exactly one order at the venue
and a consistent journal (the process and its kill are real; see ``killable.py``)."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from axis.domain.orders import OrderStatus
from axis.strategies import registry

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]


def _killable() -> ModuleType:
    spec = importlib.util.spec_from_file_location("axis_test_killable", HERE / "killable.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", ["before_send", "before_ack"])
def test_sigkill_mid_order_then_restart_leaves_one_order(kill_at: str, tmp_path: Path) -> None:
    db, exchange_file = tmp_path / "worker.db", tmp_path / "exchange.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("services", "operator", "ml")),
    }
    process = subprocess.run(
        [sys.executable, str(HERE / "killable.py"), str(db), str(exchange_file), kill_at],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert process.returncode == -signal.SIGKILL, process.stderr

    k = _killable()
    exchange = k.FileExchange(exchange_file)
    before = exchange.load()
    assert before["submissions"] == (0 if kill_at == "before_send" else 1)

    try:
        restarted = k.worker(db, k.FileVenue(exchange))
    finally:  # the module registered its strategy: leave the registry as it was
        registry.BUILTIN.pop(k.BuyOneIfFlat.name, None)
    stored = restarted.store.all_orders()
    assert [o.status for o in stored] == [OrderStatus.NEW]  # stored before the kill
    order_id = stored[0].client_order_id
    asyncio.run(k.trade(restarted, 4, 10))  # reconcile at start, then trade on

    after = exchange.load()
    assert list(after["orders"]) == [order_id]  # one order, under the journaled id
    assert after["submissions"] == 1  # sent exactly once, across both processes
    assert after["position"] == 1.0
    assert restarted.engine.position_qty() == 1.0
    journal = restarted.store.all_orders()
    assert [(o.client_order_id, o.status, o.filled_qty) for o in journal] == [
        (order_id, OrderStatus.FILLED, 1.0)
    ]
