"""CLI commands of the API and the store: ``axis api``, ``axis users``, ``axis db``, ``axis keys``.

Settings come from ``AXIS_*`` variables and ``AXIS_CONFIG_FILE`` (see
:mod:`axis.config.settings`); ``--host``/``--port`` override the serving address.
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from axis.config.backtest import ConfigError
from axis.config.settings import AxisSettings
from axis.risk.limits import RiskProfile

console = Console()

users_app = typer.Typer(help="Platform accounts (operators create users here).")
db_app = typer.Typer(help="Database schema: migrations shipped with AXIS.")
keys_app = typer.Typer(help="Encryption keys of stored exchange credentials.")


def _settings(**overrides: Any) -> AxisSettings:
    try:
        given: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
        return AxisSettings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(f"setting {where}: {first['msg']}") from None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def api(
    host: Annotated[str | None, typer.Option(help="bind address (AXIS_API_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (AXIS_API_PORT)")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="uvicorn worker processes")] = 1,
) -> None:
    """Serve the REST API (OpenAPI at /docs) on the configured database and cache."""
    import uvicorn

    from axis.api import create_app

    settings = _settings(api_host=host, api_port=port)
    if workers > 1:
        uvicorn.run(
            "axis.api.asgi:app",
            host=settings.api_host,
            port=settings.api_port,
            workers=workers,
            log_config=None,
            access_log=False,
        )
        return
    app = create_app(settings)
    uvicorn.run(
        app, host=settings.api_host, port=settings.api_port, log_config=None, access_log=False
    )


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Option(help="login name")],
    email: Annotated[str, typer.Option(help="e-mail address")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    risk_profile: Annotated[RiskProfile, typer.Option()] = RiskProfile.BALANCED,
    admin: Annotated[bool, typer.Option(help="an operator of the platform")] = False,
    capital: Annotated[float | None, typer.Option(help="paper balance (settle currency)")] = None,
) -> None:
    """Create an account. The password is prompted for (or read from stdin), never an argument."""
    from axis.api.schemas import RegisterRequest
    from axis.security import build_security, password_problem
    from axis.store.accounts import UserRepository
    from axis.store.db import Database

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise ConfigError("the two passwords differ")
    try:
        RegisterRequest(
            username=username, email=email, password=password, risk_profile=risk_profile
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"--{first['loc'][0]}: {first['msg']}") from None
    problem = password_problem(password, username)
    if problem is not None:
        raise ConfigError(f"password {problem}")
    settings = _settings()
    if capital is not None and capital <= 0:
        raise ConfigError("--capital must be positive")
    db = Database(settings.resolved_database_url)
    db.upgrade()
    security = build_security(settings)
    with db.session() as session:
        users = UserRepository(session)
        taken = users.exists(username, email)
        if taken is not None:
            raise ConfigError(f"{taken} already registered")
        user = users.create(
            username,
            email,
            security.passwords.hash(password),
            risk_profile=risk_profile.value,
            is_admin=admin,
            initial_balance=capital or settings.paper_initial_balance,
        )
        user_id = user.id
    db.dispose()
    console.print(f"created user {username} (id {user_id}{', operator' if admin else ''})")


@users_app.command("list")
def users_list() -> None:
    """Accounts with their profile and state (no secrets)."""
    from sqlalchemy import select

    from axis.store.db import Database
    from axis.store.models import User

    settings = _settings()
    db = Database(settings.resolved_database_url)
    table = Table(title="users")
    for column in ("id", "username", "email", "profile", "state", "admin", "totp", "active"):
        table.add_column(column)
    with db.session() as session:
        for user in session.scalars(select(User).order_by(User.id)):
            table.add_row(
                str(user.id),
                user.username,
                user.email,
                user.risk_profile,
                user.trading_state,
                "yes" if user.is_admin else "",
                "on" if user.totp_enabled else "",
                "yes" if user.is_active else "no",
            )
    db.dispose()
    console.print(table)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="target revision")] = "head",
) -> None:
    """Apply the migrations up to REVISION (all by default)."""
    from axis.store.db import Database

    settings = _settings()
    db = Database(settings.resolved_database_url)
    db.upgrade(revision)
    console.print(f"database at revision {db.current_revision()} ({db.dialect})")
    db.dispose()


@db_app.command("current")
def db_current() -> None:
    """The database's schema revision and the newest one shipped."""
    from axis.store.db import Database

    settings = _settings()
    db = Database(settings.resolved_database_url)
    console.print(f"current {db.current_revision()} · head {db.head_revision()}")
    db.dispose()


@keys_app.command("rotate")
def keys_rotate(
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="rows per transaction")] = 100,
    retire: Annotated[bool, typer.Option(help="drop Fernet keys no row uses afterwards")] = True,
) -> None:
    """Rotate the encryption key and re-encrypt every stored exchange credential, online."""
    from axis.security import FernetEncryptor, VaultTransitEncryptor, build_security
    from axis.security.rotation import reencrypt_credentials, versions_in_use
    from axis.store.db import Database

    settings = _settings()
    db = Database(settings.resolved_database_url)
    db.upgrade()
    encryptor = build_security(settings).encryptor
    if isinstance(encryptor, FernetEncryptor | VaultTransitEncryptor):
        version = encryptor.rotate_key()
    else:
        raise ConfigError(f"encryption backend {encryptor.scheme} cannot rotate")
    report = reencrypt_credentials(db, encryptor, batch)
    console.print(
        f"key {version}: re-encrypted {report.reencrypted}, already current "
        f"{report.already_current}"
    )
    if retire and isinstance(encryptor, FernetEncryptor):
        dropped = encryptor.retire_keys(versions_in_use(db))
        console.print(f"retired {len(dropped)} old key(s)")
    db.dispose()


def register(app: typer.Typer) -> None:
    """Add these commands to the ``axis`` app (one line in ``axis.cli``)."""
    app.command(name="api")(api)
    app.add_typer(users_app, name="users")
    app.add_typer(db_app, name="db")
    app.add_typer(keys_app, name="keys")
