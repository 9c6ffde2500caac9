"""Service settings: one frozen object, read from ``CCM_SERVICE_*`` environment variables and CLI overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ccm.errors import InputError

ENV_PREFIX = "CCM_SERVICE_"


class ServiceSettings(BaseModel):
    """Everything the app needs to start; nothing is read at import time.

    ``rate_limit``: requests per second per API key (token bucket of ``rate_burst`` tokens); 0 disables it.
    ``stress_sync_max``: a stress run of accounts × scenarios up to this answers 200 synchronously, larger runs
    answer 202 with a job id.
    ``distance``: compute distance to liquidation on every recompute (a 10k-account tick costs ~0.2 s with it
    instead of ~15 ms; reads do not wait for ticks).
    ``gc_freeze``: after start-up, move every object to the garbage collector's permanent generation
    (``gc.freeze``), so that full collections do not stall the event loop; for a process that serves one app
    (``ccm serve`` sets it), not for tests that create many.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    store: str | None = None
    config: str | None = None
    book: str | None = None
    market: str | None = None
    demo: bool = False
    demo_accounts: int = Field(2000, ge=1)
    demo_seed: int = 7
    feed_interval: float = Field(1.0, gt=0)
    fund_usd: float | None = Field(None, ge=0)
    max_body_bytes: int = Field(20 * 1024 * 1024, ge=1)
    rate_limit: float = Field(200.0, ge=0)
    rate_burst: float = Field(400.0, ge=1)
    cors_origins: tuple[str, ...] = ()
    stress_sync_max: int = Field(200_000, ge=0)
    stress_workers: int = Field(2, ge=1)
    writer_interval: float = Field(1.0, gt=0)
    gc_freeze: bool = False
    distance: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ServiceSettings:
        """Settings from ``CCM_SERVICE_<FIELD>`` variables, then ``overrides`` (None values are ignored)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = environ.get(ENV_PREFIX + name.upper())
            if raw is None:
                continue
            if name == "cors_origins":
                values[name] = tuple(o.strip() for o in raw.split(",") if o.strip())
            elif name in ("demo", "gc_freeze", "distance"):
                values[name] = raw.strip().lower() in ("1", "true", "yes", "on")
            else:
                values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise InputError(first["msg"], file="service settings", field=field,
                             hint=f"set {ENV_PREFIX}{field.upper()} or the matching ccm serve option") from None
