"""Storage tables (SQLAlchemy Core). The migration scripts in ``migrations/versions`` create them; this module
is the application's view of the same schema (a test checks the two agree).

Times are ``TIMESTAMP WITH TIME ZONE`` in PostgreSQL and naive UTC text in SQLite (which sorts correctly
because every stored value is UTC); in Python they are always timezone-aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from ccm.errors import InputError

# BIGINT keys in PostgreSQL; INTEGER in SQLite (where only INTEGER PRIMARY KEY aliases the rowid).
Key = BigInteger().with_variant(Integer(), "sqlite")


def as_utc(at: datetime, *, field: str = "at") -> datetime:
    """``at`` as an aware UTC datetime; a naive datetime is refused (its zone would be a guess)."""
    if not isinstance(at, datetime):
        raise InputError(f"expected a datetime, got {type(at).__name__}", field=field,
                         hint="pass a timezone-aware datetime, e.g. datetime.now(UTC)")
    if at.tzinfo is None or at.utcoffset() is None:
        raise InputError("naive datetime: the store keeps UTC times", field=field,
                         hint="pass a timezone-aware datetime, e.g. datetime(2021, 5, 19, tzinfo=UTC)")
    return at.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime in Python, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

books = Table(
    "books", metadata,
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    # the last audit seq the book already includes: records after it are to be replayed on top
    Column("through_seq", Key, nullable=False),
    Column("document", Text, nullable=False),  # the JSON book document (ccm.io.book.book_to_dict)
    sqlite_autoincrement=True,
)

# Append-only. ``seq`` is assigned by the store as max + 1 under a write lock, so it has no holes even
# when a writer dies mid-transaction (a database sequence would skip the number it had handed out).
audit_log = Table(
    "audit_log", metadata,
    Column("seq", Key, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("kind", String(16), nullable=False),  # trade | transfer
    Column("account", String(200), nullable=False),
    Column("instrument", String(200)),  # trades
    Column("asset", String(200)),  # transfers
    Column("quantity", Float(53), nullable=False),
    Column("price", Float(53)),  # trades: the traded price; transfers: NULL
    Column("book_id", Key, ForeignKey("books.id")),  # the latest book when the record was appended
    Index("ix_audit_log_account_at", "account", "at"),
)

account_snapshots = Table(
    "account_snapshots", metadata,
    Column("at", UtcDateTime(), primary_key=True),
    Column("account", String(200), primary_key=True),
    Column("adjusted_equity", Float(53), nullable=False),
    Column("maintenance_margin", Float(53), nullable=False),
    Column("initial_margin", Float(53), nullable=False),
    Column("coverage_ratio", Float(53)),  # NULL = unbounded (no requirement)
    Column("status", String(16), nullable=False),
    Index("ix_account_snapshots_account_at", "account", "at"),
)

system_snapshots = Table(
    "system_snapshots", metadata,
    Column("at", UtcDateTime(), primary_key=True),
    Column("total_adjusted_equity", Float(53), nullable=False),
    Column("total_maintenance_margin", Float(53), nullable=False),
    Column("system_coverage_ratio", Float(53)),
    Column("total_shortfall", Float(53), nullable=False),
    Column("accounts_by_status", Text, nullable=False),  # JSON object status -> count
)

alerts = Table(
    "alerts", metadata,
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("account", String(200)),  # NULL for system rules
    Column("rule", String(200), nullable=False),
    Column("values", Text, nullable=False),  # JSON object
    Index("ix_alerts_at", "at"),
    Index("ix_alerts_account_at", "account", "at"),
    sqlite_autoincrement=True,
)

# Keys of the risk service. Only a salted scrypt hash of each secret is kept, with a short non-secret prefix
# of it to find the row without hashing against every key.
api_keys = Table(
    "api_keys", metadata,
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),  # admin | risk | account
    Column("accounts", Text, nullable=False),  # JSON list of account ids (role account), else []
    Column("prefix", String(32), nullable=False),  # the secret's first characters (not enough to guess it)
    Column("salt", String(64), nullable=False),  # hex
    Column("hash", String(128), nullable=False),  # hex scrypt(secret, salt)
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime()),
    Column("last_used_at", UtcDateTime()),
    Index("ix_api_keys_prefix", "prefix"),
    sqlite_autoincrement=True,
)
