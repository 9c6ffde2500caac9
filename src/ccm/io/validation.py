"""Pydantic validation errors → :class:`InputError` naming file, record and field."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from ccm.errors import InputError

Loc = tuple[str | int, ...]
#: Splits a pydantic ``loc`` into (record, field).
Locate = Callable[[Loc], tuple[str | None, str | None]]

STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
"""Model config of every input schema: unknown fields are errors, no type coercion, no NaN/inf."""


UTC_HINT = "write times in UTC with a Z suffix, e.g. 2025-03-28T08:00:00Z"


class TimeFormatError(ValueError):
    """A time that is not an ISO-8601 UTC timestamp; ``reason`` and ``hint`` go into the InputError."""

    def __init__(self, reason: str, hint: str = UTC_HINT) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


def parse_utc(value: object) -> datetime:
    """An ISO-8601 time with ``Z`` or ``+00:00`` (or a UTC datetime) → aware UTC datetime.

    Naive times and other offsets are refused rather than guessed: the formats are UTC by contract.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        raise TimeFormatError(f"{value.isoformat()} is a date without a time and time zone")
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise TimeFormatError(f"{value!r} is not an ISO-8601 time") from None
    else:
        raise TimeFormatError(f"expected an ISO-8601 time string, got {type(value).__name__} {value!r}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise TimeFormatError(f"{str(value)!r} has no time zone (naive time)")
    if parsed.utcoffset() != timedelta(0):
        raise TimeFormatError(f"{str(value)!r} is not in UTC (offset {parsed.strftime('%z')})",
                              "convert it to UTC and write it with a Z suffix, e.g. 2025-03-28T08:00:00Z")
    return parsed.astimezone(UTC)


def _utc_field(value: object) -> datetime:
    try:
        return parse_utc(value)
    except TimeFormatError as err:
        raise PydanticCustomError("utc_time", "{reason}", {"reason": err.reason, "hint": err.hint}) from None


UtcTime = Annotated[datetime, BeforeValidator(_utc_field)]
"""Schema type of every timestamp: ISO-8601 in UTC, naive times refused with a hint."""


def path_text(loc: Sequence[str | int]) -> str:
    """``("assets", "BTC", "tiers", 2)`` → ``"assets.BTC.tiers[2]"``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def locate_by_parent(loc: Loc) -> tuple[str | None, str | None]:
    """Record = path of the enclosing object, field = last key (list indices stay with the field)."""
    cut = len(loc) - 1
    while cut > 0 and isinstance(loc[cut], int):
        cut -= 1
    return (path_text(loc[:cut]) or None), (path_text(loc[cut:]) or None)


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            tp = next(a for a in typing.get_args(tp) if a is not type(None))
        else:
            return tp


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The schema class that holds the object at ``loc`` (for listing its allowed fields)."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return None
            tp = field.annotation
        else:
            args = typing.get_args(tp)
            if not args:
                return None
            tp = args[-1] if typing.get_origin(tp) in (dict, Mapping) else args[0]
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _message(err: Mapping[str, Any], model: type[BaseModel]) -> tuple[str, str | None]:
    kind, loc = err["type"], tuple(err["loc"])
    if kind == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        allowed = sorted(owner.model_fields) if owner is not None else []
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}? " if close else ""
        listing = f"allowed fields: {', '.join(allowed)}" if allowed else None
        return f"unknown field {loc[-1]!r}", (hint + listing) if listing else None
    if kind == "missing":
        return "required field is missing", None
    if kind == "utc_time":
        return err["ctx"]["reason"], err["ctx"]["hint"]
    if kind == "float_type" and isinstance(err.get("input"), str) and _looks_numeric(err["input"]):
        return f"expected a number, got the text {_shown(err['input'])}", (
            "write the number without quotes; in YAML an exponent needs a dot and a sign, e.g. 2.0e+10")
    if kind == "finite_number":
        return f"must be a finite number, got {_shown(err.get('input'))}", None
    return f"{err['msg']}, got {_shown(err.get('input'))}", None


def input_error(exc: ValidationError, model: type[BaseModel], *, file: str, locate: Locate) -> InputError:
    """The first problem of ``exc`` as an InputError; the count of further problems goes in the hint."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    message, hint = _message(first, model)
    record, field = locate(tuple(first["loc"]))
    if len(errors) > 1:
        more = f"{len(errors) - 1} more problem{'s' if len(errors) > 2 else ''} in this file"
        hint = f"{hint}; {more}" if hint else more
    return InputError(message, file=file, record=record, field=field, hint=hint)


def validate(model: type[BaseModel], data: Any, *, file: str, locate: Locate = locate_by_parent) -> Any:
    """``model.model_validate(data)`` with errors translated to InputError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise input_error(exc, model, file=file, locate=locate) from None
