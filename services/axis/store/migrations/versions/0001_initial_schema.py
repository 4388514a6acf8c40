"""Initial schema: every table of the store, the append-only audit log and, on PostgreSQL
with TimescaleDB available, the time-series tables as hypertables.

Revision ID: 0001
Revises:
Create Date: 2026-12-04 13:39:00.376319
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from axis.store.types import Money, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


# Newest-first indexes (autogenerate cannot compare expression indexes, so they are listed here).
DESC_INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ix_trades_user_id_timestamp", "trades", ("user_id", "timestamp DESC")),
    ("ix_ai_decisions_user_id_timestamp", "ai_decisions", ("user_id", "timestamp DESC")),
    ("ix_ai_decisions_agent_name_timestamp", "ai_decisions", ("agent_name", "timestamp DESC")),
    ("ix_ai_decisions_quality_timestamp", "ai_decisions", ("decision_quality", "timestamp DESC")),
    ("ix_decision_analysis_time", "decision_analysis", ("analysis_timestamp DESC",)),
    ("ix_regime_history_timestamp", "regime_history", ("timestamp DESC",)),
    (
        "ix_market_data_symbol_timeframe_time",
        "market_data",
        ("symbol", "timeframe", "time DESC"),
    ),
    ("ix_risk_metrics_user_id_time", "risk_metrics", ("user_id", "time DESC")),
)

HYPERTABLES = ("market_data", "funding_rate_history", "portfolio_snapshots")

APPEND_ONLY_PG = """
CREATE OR REPLACE FUNCTION axis_audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION axis_audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION axis_audit_log_append_only();
"""

APPEND_ONLY_SQLITE = (
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
    """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
)


def _timescale_available(bind: sa.engine.Connection) -> bool:
    query = sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    return bind.execute(query).first() is not None


def _post_create() -> None:
    bind = op.get_bind()
    for name, table, columns in DESC_INDEXES:
        op.create_index(name, table, [sa.text(c) for c in columns])
    if bind.dialect.name == "postgresql":
        op.execute(APPEND_ONLY_PG)
        if _timescale_available(bind):
            op.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            for table in HYPERTABLES:
                op.execute(
                    f"SELECT create_hypertable('{table}', 'time', "
                    "if_not_exists => TRUE, migrate_data => TRUE)"
                )
    elif bind.dialect.name == "sqlite":
        for statement in APPEND_ONLY_SQLITE:
            op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=255), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_actor_time", ["actor_user_id", "time"], unique=False)
        batch_op.create_index("ix_audit_log_time", ["time"], unique=False)

    op.create_table(
        "funding_rate_history",
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("exchange", sa.String(length=20), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("funding_rate", Money(18, 10), nullable=False),
        sa.Column("mark_price", Money(30, 10), nullable=False),
        sa.Column("index_price", Money(30, 10), nullable=True),
        sa.PrimaryKeyConstraint("time", "exchange", "symbol", name=op.f("pk_funding_rate_history")),
    )
    op.create_table(
        "market_data",
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("exchange", sa.String(length=20), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("timeframe", sa.String(length=10), nullable=False),
        sa.Column("open", Money(30, 10), nullable=False),
        sa.Column("high", Money(30, 10), nullable=False),
        sa.Column("low", Money(30, 10), nullable=False),
        sa.Column("close", Money(30, 10), nullable=False),
        sa.Column("volume", Money(30, 10), nullable=False),
        sa.PrimaryKeyConstraint(
            "time", "exchange", "symbol", "timeframe", name=op.f("pk_market_data")
        ),
    )
    op.create_table(
        "model_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("alias", sa.String(length=64), nullable=True),
        sa.Column("uri", sa.String(length=500), nullable=False),
        sa.Column("mlflow_run_id", sa.String(length=64), nullable=True),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "metrics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_records")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_model_records_name_version")),
    )
    op.create_table(
        "portfolio_snapshots",
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("total_value_usdt", Money(30, 10), nullable=False),
        sa.Column("wallet_balance", Money(30, 10), nullable=False),
        sa.Column("unrealized_pnl", Money(30, 10), nullable=False),
        sa.Column("total_leverage", Money(16, 6), nullable=True),
        sa.Column("margin_ratio", Money(16, 6), nullable=True),
        sa.Column(
            "allocations",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("time", "user_id", name=op.f("pk_portfolio_snapshots")),
    )
    op.create_table(
        "regime_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("timestamp", UTCDateTime(), nullable=False),
        sa.Column("regime", sa.String(length=20), nullable=False),
        sa.Column("confidence", Money(6, 4), nullable=False),
        sa.Column("adx", Money(14, 4), nullable=True),
        sa.Column("rsi", Money(14, 4), nullable=True),
        sa.Column("price_vs_ma50", Money(14, 4), nullable=True),
        sa.Column("trend_strength", sa.String(length=20), nullable=True),
        sa.Column(
            "evidence",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("ai_rationale", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regime_history")),
    )
    op.create_table(
        "training_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "metrics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("mlflow_run_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_jobs")),
    )
    with op.batch_alter_table("training_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_training_jobs_status_created_at", ["status", "created_at"], unique=False
        )

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=50), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("risk_profile", sa.String(length=20), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("trading_state", sa.String(length=16), nullable=False),
        sa.Column("kill_switch_reason", sa.Text(), nullable=True),
        sa.Column("totp_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("totp_enabled", sa.Boolean(), nullable=False),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("initial_balance", Money(30, 10), nullable=False),
        sa.Column("wallet_balance", Money(30, 10), nullable=False),
        sa.Column("peak_equity", Money(30, 10), nullable=False),
        sa.Column("day_start_equity", Money(30, 10), nullable=False),
        sa.Column("day_start_date", sa.Date(), nullable=True),
        sa.Column("order_sequence", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "ai_decisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("timestamp", UTCDateTime(), nullable=False),
        sa.Column("agent_name", sa.String(length=50), nullable=False),
        sa.Column(
            "input_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "output_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "evidence",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("reasoning", sa.Text(), nullable=False),
        sa.Column("actual_outcome", Money(14, 4), nullable=True),
        sa.Column("decision_quality", sa.String(length=20), nullable=True),
        sa.Column(
            "evidence_accuracy",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("llm_model", sa.String(length=50), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("llm_cost", Money(16, 6), nullable=True),
        sa.Column("execution_time_ms", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ai_decisions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_decisions")),
    )
    op.create_table(
        "backtest_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "metrics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "result",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("report_html", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_backtest_jobs_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backtest_jobs")),
    )
    with op.batch_alter_table("backtest_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_backtest_jobs_user_id_created_at", ["user_id", "created_at"], unique=False
        )

    op.create_table(
        "exchange_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("exchange", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("api_key_encrypted", sa.Text(), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("password_encrypted", sa.Text(), nullable=True),
        sa.Column("key_version", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("rotated_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_exchange_credentials_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_credentials")),
        sa.UniqueConstraint(
            "user_id",
            "exchange",
            "label",
            name=op.f("uq_exchange_credentials_user_id_exchange_label"),
        ),
    )
    with op.batch_alter_table("exchange_credentials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_credentials_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "refresh_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("family", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("replaced_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_refresh_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_refresh_tokens")),
    )
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refresh_tokens_family"), ["family"], unique=False)
        batch_op.create_index(batch_op.f("ix_refresh_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "risk_metrics",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("total_leverage", Money(16, 6), nullable=True),
        sa.Column("margin_ratio", Money(16, 6), nullable=True),
        sa.Column("closest_liquidation_distance", Money(16, 6), nullable=True),
        sa.Column("var_95", Money(30, 10), nullable=True),
        sa.Column("cvar_95", Money(30, 10), nullable=True),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_risk_metrics_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_metrics")),
    )
    op.create_table(
        "strategies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column(
            "spec",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("trading_state", sa.String(length=16), nullable=False),
        sa.Column("kill_switch_reason", sa.Text(), nullable=True),
        sa.Column("flatten_on_kill", sa.Boolean(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_strategies_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_strategies")),
        sa.UniqueConstraint("user_id", "name", name=op.f("uq_strategies_user_id_name")),
    )
    with op.batch_alter_table("strategies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_strategies_user_id"), ["user_id"], unique=False)

    op.create_table(
        "decision_analysis",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "decision_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("analysis_timestamp", UTCDateTime(), nullable=False),
        sa.Column("predicted_direction", sa.String(length=10), nullable=True),
        sa.Column("actual_direction", sa.String(length=10), nullable=True),
        sa.Column("was_correct", sa.Boolean(), nullable=True),
        sa.Column("predicted_return", Money(14, 4), nullable=True),
        sa.Column("actual_return", Money(14, 4), nullable=True),
        sa.Column("error_pct", Money(14, 4), nullable=True),
        sa.Column(
            "evidence_breakdown",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("improvement_suggestions", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["ai_decisions.id"],
            name=op.f("fk_decision_analysis_decision_id_ai_decisions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_analysis")),
    )
    with op.batch_alter_table("decision_analysis", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_decision_analysis_decision_id"), ["decision_id"], unique=False
        )

    op.create_table(
        "performance_metrics",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("strategy_id", sa.Integer(), nullable=True),
        sa.Column("period_start", UTCDateTime(), nullable=False),
        sa.Column("period_end", UTCDateTime(), nullable=False),
        sa.Column("total_return", Money(20, 8), nullable=True),
        sa.Column("sharpe", Money(20, 8), nullable=True),
        sa.Column("max_drawdown", Money(20, 8), nullable=True),
        sa.Column("win_rate", Money(20, 8), nullable=True),
        sa.Column("num_trades", sa.Integer(), nullable=True),
        sa.Column(
            "metrics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["strategy_id"],
            ["strategies.id"],
            name=op.f("fk_performance_metrics_strategy_id_strategies"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_performance_metrics_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_performance_metrics")),
    )
    with op.batch_alter_table("performance_metrics", schema=None) as batch_op:
        batch_op.create_index(
            "ix_performance_metrics_user_id_period", ["user_id", "period_end"], unique=False
        )

    op.create_table(
        "positions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("strategy_id", sa.Integer(), nullable=True),
        sa.Column("exchange", sa.String(length=20), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("side", sa.String(length=5), nullable=False),
        sa.Column("margin_mode", sa.String(length=8), nullable=False),
        sa.Column("leverage", Money(8, 2), nullable=False),
        sa.Column("entry_price", Money(30, 10), nullable=False),
        sa.Column("entry_time", UTCDateTime(), nullable=False),
        sa.Column("quantity", Money(30, 10), nullable=False),
        sa.Column("notional_value", Money(30, 10), nullable=False),
        sa.Column("margin", Money(30, 10), nullable=False),
        sa.Column("opened_margin", Money(30, 10), nullable=False),
        sa.Column("stop_loss_price", Money(30, 10), nullable=True),
        sa.Column("take_profit_price", Money(30, 10), nullable=True),
        sa.Column("liquidation_price", Money(30, 10), nullable=True),
        sa.Column("exit_price", Money(30, 10), nullable=True),
        sa.Column("exit_time", UTCDateTime(), nullable=True),
        sa.Column("realized_pnl", Money(30, 10), nullable=False),
        sa.Column("pnl_pct", Money(16, 6), nullable=True),
        sa.Column("fees_paid", Money(30, 10), nullable=False),
        sa.Column("funding_paid", Money(30, 10), nullable=False),
        sa.Column("regime", sa.String(length=20), nullable=True),
        sa.Column("confidence", Money(6, 4), nullable=True),
        sa.Column("ai_rationale", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("close_reason", sa.String(length=20), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["strategy_id"], ["strategies.id"], name=op.f("fk_positions_strategy_id_strategies")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_positions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
    )
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.create_index("ix_positions_symbol_status", ["symbol", "status"], unique=False)
        batch_op.create_index("ix_positions_user_id_status", ["user_id", "status"], unique=False)
        batch_op.create_index(
            "uq_positions_open_market",
            ["user_id", "exchange", "symbol"],
            unique=True,
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        )

    op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("strategy_id", sa.Integer(), nullable=True),
        sa.Column("position_id", sa.Integer(), nullable=True),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("exchange_order_id", sa.String(length=100), nullable=True),
        sa.Column("exchange", sa.String(length=20), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("time_in_force", sa.String(length=10), nullable=False),
        sa.Column("quantity", Money(30, 10), nullable=False),
        sa.Column("price", Money(30, 10), nullable=True),
        sa.Column("trigger_price", Money(30, 10), nullable=True),
        sa.Column("reduce_only", sa.Boolean(), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("filled_qty", Money(30, 10), nullable=False),
        sa.Column("avg_fill_price", Money(30, 10), nullable=False),
        sa.Column("fees", Money(30, 10), nullable=False),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["position_id"], ["positions.id"], name=op.f("fk_orders_position_id_positions")
        ),
        sa.ForeignKeyConstraint(
            ["strategy_id"], ["strategies.id"], name=op.f("fk_orders_strategy_id_strategies")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_orders_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_orders_client_order_id")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_status", ["status"], unique=False)
        batch_op.create_index(
            "ix_orders_user_id_created_at", ["user_id", "created_at"], unique=False
        )

    op.create_table(
        "trades",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("position_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("exchange_order_id", sa.String(length=100), nullable=True),
        sa.Column("exchange_trade_id", sa.String(length=100), nullable=True),
        sa.Column("timestamp", UTCDateTime(), nullable=False),
        sa.Column("exchange", sa.String(length=20), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("order_type", sa.String(length=16), nullable=False),
        sa.Column("price", Money(30, 10), nullable=False),
        sa.Column("quantity", Money(30, 10), nullable=False),
        sa.Column("total_usdt", Money(30, 10), nullable=False),
        sa.Column("fee", Money(30, 10), nullable=False),
        sa.Column("fee_currency", sa.String(length=10), nullable=False),
        sa.Column("liquidity", sa.String(length=5), nullable=False),
        sa.Column("realized_pnl", Money(30, 10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_trades_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["position_id"], ["positions.id"], name=op.f("fk_trades_position_id_positions")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_trades_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trades")),
        sa.UniqueConstraint(
            "exchange", "exchange_trade_id", name=op.f("uq_trades_exchange_exchange_trade_id")
        ),
    )
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trades_client_order_id"), ["client_order_id"], unique=False
        )
        batch_op.create_index("ix_trades_position_id", ["position_id"], unique=False)

    _post_create()


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS axis_audit_log_append_only()")
    elif bind.dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    for name, table, _columns in DESC_INDEXES:
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.drop_index("ix_trades_position_id")
        batch_op.drop_index(batch_op.f("ix_trades_client_order_id"))

    op.drop_table("trades")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_user_id_created_at")
        batch_op.drop_index("ix_orders_status")

    op.drop_table("orders")
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_positions_open_market",
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        )
        batch_op.drop_index("ix_positions_user_id_status")
        batch_op.drop_index("ix_positions_symbol_status")

    op.drop_table("positions")
    with op.batch_alter_table("performance_metrics", schema=None) as batch_op:
        batch_op.drop_index("ix_performance_metrics_user_id_period")

    op.drop_table("performance_metrics")
    with op.batch_alter_table("decision_analysis", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decision_analysis_decision_id"))

    op.drop_table("decision_analysis")
    with op.batch_alter_table("strategies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_strategies_user_id"))

    op.drop_table("strategies")
    op.drop_table("risk_metrics")
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_user_id"))
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_family"))

    op.drop_table("refresh_tokens")
    with op.batch_alter_table("exchange_credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_credentials_user_id"))

    op.drop_table("exchange_credentials")
    with op.batch_alter_table("backtest_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_backtest_jobs_user_id_created_at")

    op.drop_table("backtest_jobs")
    op.drop_table("ai_decisions")
    op.drop_table("users")
    with op.batch_alter_table("training_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_training_jobs_status_created_at")

    op.drop_table("training_jobs")
    op.drop_table("regime_history")
    op.drop_table("portfolio_snapshots")
    op.drop_table("model_records")
    op.drop_table("market_data")
    op.drop_table("funding_rate_history")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_time")
        batch_op.drop_index("ix_audit_log_actor_time")

    op.drop_table("audit_log")
