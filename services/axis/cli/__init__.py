"""The ``axis`` command.

Every problem a user can cause ends with one line on stderr naming it and exit code 2, and
nothing written; a bug still shows its traceback (exit 1), because hiding it helps no one.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from typer.exceptions import Abort, Exit, TyperException

from axis.config import BacktestConfig, ConfigError, EngineChoice
from axis.data import DataError
from axis.domain.enums import Exchange, MarginMode
from axis.domain.instrument import InstrumentError
from axis.risk.limits import RiskProfile

app = typer.Typer(
    name="axis",
    help="AXIS: backtest, paper-trade and trade crypto strategies behind a risk engine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Market data: bundled samples and exchange downloads.")
app.add_typer(data_app, name="data")
app.add_typer(importlib.import_module("axis_ml.cli").app, name="ml")
importlib.import_module("axis.cli.api").register(app)
importlib.import_module("axis.cli.gateway").register(app)
importlib.import_module("axis.cli.up").register(app)

console = Console()
errors = Console(stderr=True)

USER_ERRORS = (ConfigError, DataError, InstrumentError, FileNotFoundError)

F = TypeVar("F", bound=Callable[..., Any])


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "input"
        return f"{where}: {first['msg']}"
    return " ".join(str(exc).split())


def _parse_params(pairs: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param {pair!r}: expected NAME=VALUE")
        params[key.strip()] = value.strip()
    return params


def _date(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option} {text!r}: expected an ISO date such as 2023-01-15") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]backtest"),
        BarColumn(),
        TextColumn("{task.completed:,} bars"),
        TimeRemainingColumn(),
        console=errors,
        transient=True,
    )


def _print_summary(result: Any, out: Path) -> None:
    config, metrics = result.config, result.metrics
    table = Table(title=f"{config['strategy']} · {config['symbol']} · {config['timeframe']}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    percent = {"total_return", "cagr", "volatility", "max_drawdown", "win_rate", "exposure_time"}
    for key in (
        "total_return",
        "cagr",
        "sharpe",
        "sortino",
        "calmar",
        "max_drawdown",
        "max_drawdown_duration_days",
        "volatility",
        "num_trades",
        "win_rate",
        "profit_factor",
        "exposure_time",
        "fees_paid",
        "funding_paid",
        "liquidations",
    ):
        if key not in metrics:
            continue
        value = metrics[key]
        if key in percent:
            text = f"{float(value):.2%}"
        elif isinstance(value, int):
            text = f"{value:,}"
        else:
            text = f"{float(value):,.2f}"
        table.add_row(key, text)
    console.print(table)
    for note in config.get("notes", []):
        console.print(f"note: {note}")
    console.print(f"final equity {result.equity[-1]:,.2f} (from {config['capital']:,.2f})")
    console.print(f"wrote {out / 'result.json'} and {out / 'report.html'}")


def run_and_write(config: BacktestConfig, out: Path) -> None:
    from axis.backtest.report import write_report
    from axis.backtest.runner import run_backtest

    with _progress_bar() as bar:
        task = bar.add_task("bars", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = run_backtest(config, progress=progress)
    out.mkdir(parents=True, exist_ok=True)
    result.write_json(out / "result.json")
    write_report(result, out / "report.html")
    _print_summary(result, out)


@app.command()
def backtest(
    strategy: Annotated[str, typer.Option(help="built-in name or module:Class")] = "trend_futures",
    param: Annotated[list[str] | None, typer.Option(help="strategy parameter NAME=VALUE")] = None,
    data: Annotated[Path | None, typer.Option(help="OHLCV file (CSV, CSV.gz, Parquet)")] = None,
    symbol: Annotated[str | None, typer.Option(help="e.g. BTC/USDT or BTC/USDT:USDT")] = None,
    timeframe: Annotated[str | None, typer.Option(help="e.g. 5m, 1h")] = None,
    start: Annotated[str | None, typer.Option(help="first bar, ISO date (UTC)")] = None,
    end: Annotated[str | None, typer.Option(help="end (exclusive), ISO date (UTC)")] = None,
    capital: Annotated[float, typer.Option(help="initial balance")] = 10_000.0,
    leverage: Annotated[float, typer.Option(help="position leverage (perpetuals)")] = 1.0,
    fee_model: Annotated[str, typer.Option(help="exchange, zero, or MAKER/TAKER")] = "default",
    exchange: Annotated[Exchange, typer.Option(help="fees and liquidation rules")] = (
        Exchange.BINANCE
    ),
    margin_mode: Annotated[MarginMode, typer.Option()] = MarginMode.ISOLATED,
    risk_profile: Annotated[RiskProfile, typer.Option()] = RiskProfile.BALANCED,
    slippage: Annotated[float, typer.Option(help="taker slippage fraction")] = 0.0005,
    funding_rate: Annotated[float, typer.Option(help="per 8h when no series")] = 0.0001,
    participation_cap: Annotated[float, typer.Option(help="max share of bar volume")] = 0.0,
    latency_ms: Annotated[int, typer.Option()] = 0,
    latency_bars: Annotated[int, typer.Option()] = 0,
    mark_data: Annotated[Path | None, typer.Option(help="mark-price file")] = None,
    funding_data: Annotated[Path | None, typer.Option(help="funding-rate file")] = None,
    engine: Annotated[EngineChoice, typer.Option()] = EngineChoice.AUTO,
    seed: Annotated[int, typer.Option()] = 0,
    out: Annotated[Path | None, typer.Option(help="output folder")] = None,
) -> None:
    """Backtest a strategy; print a summary and write result.json and report.html."""
    config = BacktestConfig(
        strategy=strategy,
        params=_parse_params(param or []),
        symbol=symbol,
        timeframe=timeframe,
        data=data,
        mark_data=mark_data,
        funding_data=funding_data,
        start=_date(start, "--start"),
        end=_date(end, "--end"),
        capital=capital,
        leverage=leverage,
        margin_mode=margin_mode,
        exchange=exchange,
        fee_model=fee_model,
        slippage=slippage,
        participation_cap=participation_cap,
        latency_bars=latency_bars,
        latency_ms=latency_ms,
        funding_rate=funding_rate,
        risk_profile=risk_profile,
        engine=engine,
        seed=seed,
    )
    name = strategy.split(":")[-1].split(".")[-1]
    source = symbol or (data.name.split(".")[0] if data else "BTC/USDT")
    market = source.replace("/", "_").replace(":", "_")
    run_and_write(config, out or Path("reports") / f"{name}-{market}")


@app.command()
def run(
    out: Annotated[Path, typer.Option(help="output folder")] = Path("reports/main"),
) -> None:
    """The main job on embedded defaults: trend_futures on the bundled BTC/USDT 5m data at
    5x leverage, with the balanced risk profile."""
    config = BacktestConfig(
        strategy="trend_futures", symbol="BTC/USDT", timeframe="5m", leverage=5.0
    )
    run_and_write(config, out)


@app.command()
def trade(
    config: Annotated[Path, typer.Option(help="TradingStrategySpec YAML (or the resource)")],
    port: Annotated[int | None, typer.Option(help="endpoint port (default AXIS_PORT, 8080)")] = (
        None
    ),
) -> None:
    """Run one strategy spec as a paper or live worker, with its health and metrics endpoints;
    SIGTERM drains it (no new risk, entry orders cancelled, stops kept) and stops it."""
    from axis.worker.main import trade as run_worker

    status = run_worker(config, port)
    console.print_json(data=status.to_json())


@app.command()
def strategies() -> None:
    """List the built-in strategies and their parameters."""
    from axis.strategies import BUILTIN

    table = Table(title="strategies")
    table.add_column("name")
    table.add_column("market")
    table.add_column("parameters (default)")
    for name, cls in sorted(BUILTIN.items()):
        params = ", ".join(
            f"{field}={info.default}" for field, info in cls.Params.model_fields.items()
        )
        table.add_row(name, cls.market_type.value, params)
    console.print(table)


@data_app.command("list")
def data_list() -> None:
    """The market data bundled with AXIS."""
    from axis.data import list_samples

    table = Table(title="bundled samples")
    for column in ("symbol", "timeframe", "kind", "bars", "start", "end"):
        table.add_column(column)
    for info in list_samples():
        table.add_row(
            info.symbol, info.timeframe, info.kind, f"{info.bars:,}", str(info.start), str(info.end)
        )
    console.print(table)


@data_app.command("download")
def data_download(
    exchange: Annotated[str, typer.Option(help="ccxt exchange id, e.g. binance")],
    symbol: Annotated[str, typer.Option(help="e.g. BTC/USDT")],
    timeframe: Annotated[str, typer.Option(help="e.g. 5m")] = "5m",
    start: Annotated[str | None, typer.Option(help="ISO date (UTC)")] = None,
    end: Annotated[str | None, typer.Option(help="ISO date (UTC)")] = None,
    out: Annotated[Path | None, typer.Option(help="output file (.csv.gz)")] = None,
) -> None:
    """Download OHLCV candles from an exchange through ccxt (needs network access)."""
    from axis.data import data_file_name, download_ohlcv

    start_dt, end_dt = _date(start, "--start"), _date(end, "--end")
    path = out or Path("data") / data_file_name(symbol, timeframe)
    written = download_ohlcv(
        exchange,
        symbol,
        timeframe,
        int(start_dt.timestamp() * 1000) if start_dt else None,
        int(end_dt.timestamp() * 1000) if end_dt else None,
        path,
    )
    console.print(f"wrote {written}")


import axis.cli.kube  # noqa: E402, F401  registers `axis crds` and `axis operator`


def _fail(message: str) -> None:
    """One unwrapped line on stderr, exit code 2."""
    sys.stderr.write(f"error: {message}\n")
    sys.exit(2)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors → one line + exit 2; usage errors likewise."""
    try:
        code = app(args=argv, standalone_mode=False)
    except Abort:
        errors.print("aborted")
        sys.exit(130)
    except Exit as exc:
        sys.exit(exc.exit_code)
    except TyperException as exc:  # usage errors: unknown option, bad value, missing argument
        _fail(" ".join(exc.format_message().split()))
    except (*USER_ERRORS, ValidationError) as exc:
        _fail(_one_line(exc))
    sys.exit(code if isinstance(code, int) else 0)
