"""Persistence: books, the append-only audit log, metric snapshots and alerts in SQLite or PostgreSQL.

>>> store = open_store("ccm.sqlite")              # doctest: +SKIP
>>> book_id = store.save_book(columns, "venue")   # doctest: +SKIP
>>> seq = store.append_trade("acc-1", "BTC-PERP", 0.5, 65_000.0)  # doctest: +SKIP
>>> columns, records = rebuild(store)             # doctest: +SKIP

Schema changes go into a new script under ``migrations/versions`` (``open_store`` applies it on the next
start). To draft one against a database at the previous head::

    from alembic import command
    from ccm.store import alembic_config
    config = alembic_config()
    config.set_main_option("sqlalchemy.url", "sqlite:////tmp/ccm.sqlite")
    command.revision(config, "add column x", autogenerate=True, rev_id="0002")
"""

from ccm.store.keys import ROLES
from ccm.store.records import AccountSnapshot, AlertRecord, ApiKeyRecord, AuditRecord, BookInfo, SystemSnapshot
from ccm.store.store import (
    DEFAULT_PATH,
    STORE_ENV,
    Store,
    StoreError,
    alembic_config,
    migrate,
    open_store,
    rebuild,
    store_url,
)

__all__ = [
    "DEFAULT_PATH",
    "ROLES",
    "STORE_ENV",
    "AccountSnapshot",
    "AlertRecord",
    "ApiKeyRecord",
    "AuditRecord",
    "BookInfo",
    "Store",
    "StoreError",
    "SystemSnapshot",
    "alembic_config",
    "migrate",
    "open_store",
    "rebuild",
    "store_url",
]
