"""Settings written in another well-known convention are refused with what was meant (expectations by hand)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccm.errors import InputError
from ccm.io.config import load_config
from ccm.lending.rules import PROTOCOLS


def error_of(tmp_path: Path, text: str) -> InputError:
    path = tmp_path / "risk.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_config(path)
    return info.value


@pytest.mark.parametrize(("text", "record", "field", "hint"), [
    # Aave quotes the bonus as LB 105 % (on chain 10500); ccm wants the bonus alone
    ("lending: {ETH: {liquidation_bonus: 1.05}}", "lending.ETH", "liquidation_bonus",
     "did you mean 0.05, i.e. LB 105 %?"),
    ("lending: {ETH: {liquidation_bonus: 10500}}", "lending.ETH", "liquidation_bonus",
     "did you mean 0.05, i.e. LB 105 % (Aave's on-chain 10500)?"),
    ("protocol: {name: aave-v3, aave: {emode: {stable: {ltv: 0.9, liquidation_threshold: 0.93, "
     "liquidation_bonus: 1.01, assets: [USDC]}}}}", "protocol.aave.emode.stable", "liquidation_bonus",
     "did you mean 0.01, i.e. LB 101 %?"),
    # percentages and basis points where ccm writes decimals
    ("assets: {BTC: {haircut: 15}}", "assets.BTC", "haircut", "did you mean 0.15, i.e. 15 %?"),
    ("lending: {ETH: {liquidation_threshold: 80}}", "lending.ETH", "liquidation_threshold",
     "did you mean 0.8, i.e. 80 %?"),
    ("lending: {ETH: {ltv: 8000}}", "lending.ETH", "ltv", "did you mean 0.8, i.e. 8000 basis points = 80 %?"),
    ("margin: {var: {confidence: 99}}", "margin.var", "confidence", "did you mean 0.99, i.e. 99 %?"),
    ("margin: {portfolio: {BTC: {price_range: 16}}}", "margin.portfolio.BTC", "price_range",
     "did you mean 0.16, i.e. 16 %?"),
    # fields without an upper bound, which would otherwise be taken at face value
    ("thresholds: {warning: 150, margin_call: 120, liquidation: 100}", "thresholds", "warning",
     "did you mean 1.5, i.e. 150 %?"),
    ("assets: {BTC: {volatility: 55}}", "assets.BTC", "volatility", "did you mean 0.55, i.e. 55 %?"),
    ("haircut_confidence_z: 99", None, "haircut_confidence_z",
     "did you mean 2.32635, i.e. the 99 % one-tailed quantile?"),
    ("margin: {var: {buffer: 25}}", "margin.var", "buffer", "did you mean 0.25, i.e. +25 %?"),
    ("protocol: {name: maker, maker: {ilks: {ETH: {liquidation_ratio: 150}}}}", "protocol.maker.ilks.ETH",
     "liquidation_ratio", "did you mean 1.5, i.e. 150 %?"),
    ("protocol: {name: maker, maker: {ilks: {ETH: {liquidation_ratio: 1.5, penalty: 1.13}}}}",
     "protocol.maker.ilks.ETH", "penalty", "did you mean 0.13, i.e. chop 1.13, a 13 % penalty?"),
    ("protocol: {name: liquity-v1, liquity: {mcr: 110, ccr: 150}}", "protocol.liquity", "mcr",
     "did you mean 1.1, i.e. 110 %?"),
])
def test_a_misread_convention_says_what_was_meant(tmp_path: Path, text, record, field, hint) -> None:
    err = error_of(tmp_path, text)
    assert (err.file, err.record, err.field) == (str(tmp_path / "risk.yaml"), record, field)
    assert err.hint == hint
    assert "ccm writes" in err.message or "not a confidence level" in err.message


@pytest.mark.parametrize("text", [
    "assets: {BTC: {haircut: 1.5}}",  # 1.5 % or a mistaken 150 %? the schema's range message, no guess
    "lending: {BTC: {liquidation_threshold: 1.1}}",
])
def test_an_ambiguous_value_gets_no_guess(tmp_path: Path, text) -> None:
    err = error_of(tmp_path, text)
    assert err.hint is None and "less than" in err.message


@pytest.mark.parametrize("text", [
    "thresholds: {warning: 5.0, margin_call: 2.0, liquidation: 1.0}",  # a strict venue, not percentages
    "assets: {BTC: {volatility: 3.0}}",  # a very volatile asset, possible
    "lending: {ETH: {liquidation_bonus: 0.15}}",
    "haircut_confidence_z: 3.09",
])
def test_plausible_values_in_ccm_convention_are_accepted(tmp_path: Path, text) -> None:
    path = tmp_path / "risk.yaml"
    path.write_text(text)
    load_config(path)


@pytest.mark.parametrize("preset", PROTOCOLS)
def test_the_packaged_default_and_presets_trip_no_convention_check(preset) -> None:
    load_config(None, preset=preset)
