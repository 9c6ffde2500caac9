"""What the store hands back: frozen value objects, separate from the storage tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRecord:
    """One acknowledged trade or transfer, in ``seq`` order (1, 2, 3, … without holes)."""

    seq: int
    at: datetime
    kind: Literal["trade", "transfer"]
    account: str
    instrument: str | None  # trades
    asset: str | None  # transfers
    quantity: float
    price: float | None  # trades
    book_id: int | None  # the latest book when the record was appended


@dataclass(frozen=True, slots=True, kw_only=True)
class BookInfo:
    id: int
    name: str
    created_at: datetime
    through_seq: int  # the last audit seq the book includes


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountSnapshot:
    at: datetime
    account: str
    adjusted_equity: float
    maintenance_margin: float
    initial_margin: float
    coverage_ratio: float | None  # None = unbounded (no requirement)
    status: str  # a ccm.enums.Status value


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemSnapshot:
    at: datetime
    total_adjusted_equity: float
    total_maintenance_margin: float
    system_coverage_ratio: float | None
    total_shortfall: float
    accounts_by_status: dict[str, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRecord:
    id: int
    at: datetime
    account: str | None  # None for system rules
    rule: str
    values: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKeyRecord:
    """An API key of the risk service, without its secret (the store never holds it)."""

    id: int
    name: str
    role: Literal["admin", "risk", "account"]
    accounts: tuple[str, ...]  # the account ids a role-``account`` key may see; () for the other roles
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    prefix: str  # the secret's first characters, to tell keys apart in listings

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None
