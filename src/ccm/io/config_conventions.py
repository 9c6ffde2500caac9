"""Values a user wrote in another well-known convention than ccm's, refused with what was meant.

ccm writes every fraction as a decimal (a 15 % haircut is ``0.15``), a liquidation bonus as the bonus alone
(Aave's "LB 105 %" is ``0.05``), Maker's penalty as ``chop − 1`` (``chop 1.13`` is ``0.13``), ratios above one as
multiples (a 150 % liquidation ratio is ``1.5``) and the haircut's confidence as a z (99 % one-tailed is
``2.326``). A value that only makes sense in one of the other conventions — ``liquidation_bonus: 1.05``,
``haircut: 15``, ``liquidation_threshold: 80``, ``thresholds: {warning: 150}``, ``volatility: 55`` — is an error
whose hint says the value that was meant. Values whose intent is ambiguous are left to the schema's ranges.

Two kinds of field:

- fields the schema bounds by 1 (``le=1`` / ``lt=1``): the schema refuses 15 anyway; :func:`bounded_misreading`
  turns that refusal into "did you mean 0.15 (15 %)?" (percent up to 100, Aave-style basis points up to 10,000);
- fields without an upper bound, where a misread value would be accepted silently (a 5,500 % volatility):
  :func:`unbounded_problem` checks them by key path (:data:`UNBOUNDED`) before the schema runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from ccm.io.validation import Loc


@dataclass(frozen=True, slots=True, kw_only=True)
class Misreading:
    """What a value written in another convention meant: ``meant`` in ccm's convention, ``reading`` in words."""

    meant: float
    reading: str
    convention: str  # how ccm writes this kind of value, for the message

    def hint(self) -> str:
        return f"did you mean {_num(self.meant)}, i.e. {self.reading}?"


def _num(x: float) -> str:
    return f"{round(x, 10):.6g}"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


FRACTION = "ccm writes fractions as decimals (15 % is 0.15)"


def fraction(v: float) -> Misreading | None:
    """A decimal fraction (≤ 1) written as a percentage (15) or in basis points (1500). Between 1 and 2 the intent
    is not clear (1.5 %, or a mistaken 150 %?): left to the schema's message."""
    if 2 <= v <= 100:
        return Misreading(meant=v / 100, reading=f"{_num(v)} %", convention=FRACTION)
    if 100 < v <= 10_000:
        return Misreading(meant=v / 10_000, reading=f"{_num(v)} basis points = {_num(v / 100)} %",
                          convention=FRACTION)
    return None


BONUS = "ccm writes the liquidation bonus as the bonus alone (Aave's LB 105 % is 0.05)"


def bonus(v: float) -> Misreading | None:
    """A liquidation bonus written Aave's way: LB 1.05 (105 %) or on-chain 10500, meaning 0.05."""
    if 1 < v < 2:
        return Misreading(meant=v - 1, reading=f"LB {_num(100 * v)} %", convention=BONUS)
    if 10_000 < v < 20_000:
        return Misreading(meant=v / 10_000 - 1, reading=f"LB {_num(v / 100)} % (Aave's on-chain {_num(v)})",
                          convention=BONUS)
    return fraction(v)


PENALTY = "ccm writes Maker's liquidation penalty as chop − 1 (chop 1.13 is 0.13)"


def penalty(v: float) -> Misreading | None:
    """Maker's penalty written as ``chop`` (1.13) or as a percentage (13), meaning 0.13."""
    if 1 < v < 2:
        return Misreading(meant=v - 1, reading=f"chop {_num(v)}, a {_num(100 * (v - 1))} % penalty",
                          convention=PENALTY)
    if 2 <= v <= 100:
        return Misreading(meant=v / 100, reading=f"a {_num(v)} % penalty", convention=PENALTY)
    return None


RATIO = "ccm writes ratios as multiples (150 % is 1.5)"


def ratio(v: float) -> Misreading | None:
    """A ratio around 1 (coverage thresholds, collateral ratios) written as a percentage: 150 meaning 1.5."""
    if 10 <= v <= 1_000:
        return Misreading(meant=v / 100, reading=f"{_num(v)} %", convention=RATIO)
    return None


VOLATILITY = "ccm writes volatilities and relative shocks as decimals (55 % is 0.55)"


def volatility(v: float) -> Misreading | None:
    """An annualised volatility (or a relative vol shock) written in percent, as DVOL quotes it: 55 meaning 0.55."""
    if 5 <= v <= 500:
        return Misreading(meant=v / 100, reading=f"{_num(v)} %", convention=VOLATILITY)
    return None


def percent_multiplier(v: float) -> Misreading | None:
    """A proportional add-on (the VaR buffer, 0.25 = +25 %) written in percent: 25 meaning 0.25."""
    if 5 <= v <= 500:
        return Misreading(meant=v / 100, reading=f"+{_num(v)} %", convention=FRACTION)
    return None


Z = "haircut_confidence_z is a standard-normal quantile z, not a confidence level (99 % one-tailed is 2.326)"


def confidence_z(v: float) -> Misreading | None:
    """A confidence level in percent (99) where a z is expected: z = Φ⁻¹(0.99) = 2.326."""
    if 50 <= v < 100:
        return Misreading(meant=NormalDist().inv_cdf(v / 100), reading=f"the {_num(v)} % one-tailed quantile",
                          convention=Z)
    return None


#: Fields without an upper bound in the schema, by key-path pattern (``*``: any one key), and their check.
UNBOUNDED: tuple[tuple[str, Callable[[float], Misreading | None]], ...] = (
    ("thresholds.*", ratio),
    ("haircut_confidence_z", confidence_z),
    ("assets.*.volatility", volatility),
    ("margin.portfolio.*.vol_up", volatility),
    ("margin.portfolio.*.min_vol_up", volatility),
    ("margin.var.buffer", percent_multiplier),
    ("protocol.maker.ilks.*.liquidation_ratio", ratio),
    ("protocol.maker.ilks.*.penalty", penalty),
    ("protocol.liquity.mcr", ratio),
    ("protocol.liquity.ccr", ratio),
    ("protocol.liquity.system_tcr", ratio),
)

#: Bounded-by-1 fields with their own convention (the rest of them are plain fractions).
BOUNDED: tuple[tuple[str, Callable[[float], Misreading | None]], ...] = (
    ("lending.*.liquidation_bonus", bonus),
    ("protocol.aave.emode.*.liquidation_bonus", bonus),
)


def _matches(loc: Loc, pattern: str) -> bool:
    parts = pattern.split(".")
    return len(parts) == len(loc) and all(p in ("*", str(k)) for k, p in zip(loc, parts, strict=True))


def _leaves(data: Any, loc: Loc = ()) -> list[tuple[Loc, Any]]:
    if isinstance(data, Mapping):
        return [leaf for k, v in data.items() for leaf in _leaves(v, loc + (k,))]
    return [(loc, data)]


def unbounded_problem(document: Mapping[str, Any]) -> tuple[Loc, str, str] | None:
    """(key path, message, hint) of the first value of ``document`` (a config mapping) that the schema would
    accept but that only makes sense in another convention; None when there is none."""
    for loc, value in _leaves(document):
        if not _is_number(value):
            continue
        for pattern, check in UNBOUNDED:
            if _matches(loc, pattern):
                found = check(float(value))
                if found is not None:
                    return loc, f"got {_num(value)}: {found.convention}", found.hint()
    return None


def bounded_misreading(loc: Loc, value: Any, bound: Any) -> tuple[str, str] | None:
    """(message, hint) for a value the schema refused for exceeding its bound of 1, when it is a percentage, basis
    points or Aave's LB convention; None otherwise."""
    if not _is_number(value) or bound != 1:
        return None
    check = next((c for pattern, c in BOUNDED if _matches(loc, pattern)), fraction)
    found = check(float(value))
    if found is None:
        return None
    return f"must be at most 1, got {_num(value)}: {found.convention}", found.hint()


