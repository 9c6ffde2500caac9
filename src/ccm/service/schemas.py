"""Request and response bodies of the API (separate from the store's tables and the io documents)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Name = Field(min_length=1, max_length=200)


class TradeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str = Name
    instrument: str = Name
    quantity: float
    price: float
    at: AwareDatetime | None = None


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str = Name
    asset: str = Name
    quantity: float
    at: AwareDatetime | None = None


class MarketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: dict[str, float] = Field(max_length=10_000)
    vols: dict[str, float] | None = Field(None, max_length=100_000)
    at: AwareDatetime | None = None


class StressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenarios: Literal["historical", "hypothetical", "montecarlo"] = "historical"
    paths: int = Field(1000, ge=1, le=100_000)
    seed: int = Field(7, ge=0, le=2**32 - 1)
    fund: float | None = Field(None, ge=0, le=1e15)


class Seq(BaseModel):
    seq: int


class Health(BaseModel):
    status: str
    accounts: int
    as_of: str


class BookOut(BaseModel):
    accounts: int
    book_id: int


class SystemOut(BaseModel):
    system: dict[str, Any]


class Page(BaseModel):
    total: int
    items: list[dict[str, Any]]


class Items(BaseModel):
    items: list[dict[str, Any]]


class JobOut(BaseModel):
    job_id: str
    status: Literal["running", "done", "failed"]


class JobStatus(BaseModel):
    status: Literal["running", "done", "failed"]
    result: dict[str, Any] | None = None
    error: str | None = None
