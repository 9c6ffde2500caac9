"""Initial store: books, audit log, account and system snapshots, alerts.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the types at this revision (migrations never import the live table module).
Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)
Number = sa.Float(53)


def upgrade() -> None:
    op.create_table(
        "books",
        sa.Column("id", Key, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("through_seq", Key, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", Key, primary_key=True, autoincrement=False),
        sa.Column("at", Time, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("instrument", sa.String(200)),
        sa.Column("asset", sa.String(200)),
        sa.Column("quantity", Number, nullable=False),
        sa.Column("price", Number),
        sa.Column("book_id", Key, sa.ForeignKey("books.id")),
    )
    op.create_index("ix_audit_log_account_at", "audit_log", ["account", "at"])
    op.create_table(
        "account_snapshots",
        sa.Column("at", Time, primary_key=True),
        sa.Column("account", sa.String(200), primary_key=True),
        sa.Column("adjusted_equity", Number, nullable=False),
        sa.Column("maintenance_margin", Number, nullable=False),
        sa.Column("initial_margin", Number, nullable=False),
        sa.Column("coverage_ratio", Number),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_index("ix_account_snapshots_account_at", "account_snapshots", ["account", "at"])
    op.create_table(
        "system_snapshots",
        sa.Column("at", Time, primary_key=True),
        sa.Column("total_adjusted_equity", Number, nullable=False),
        sa.Column("total_maintenance_margin", Number, nullable=False),
        sa.Column("system_coverage_ratio", Number),
        sa.Column("total_shortfall", Number, nullable=False),
        sa.Column("accounts_by_status", sa.Text, nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("id", Key, primary_key=True, autoincrement=True),
        sa.Column("at", Time, nullable=False),
        sa.Column("account", sa.String(200)),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("values", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_alerts_at", "alerts", ["at"])
    op.create_index("ix_alerts_account_at", "alerts", ["account", "at"])


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_table("system_snapshots")
    op.drop_table("account_snapshots")
    op.drop_table("audit_log")
    op.drop_table("books")
