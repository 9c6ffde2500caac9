"""Risk configuration: the packaged default, deep merge of user files, round trip, and range errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ccm.enums import MarginModelName
from ccm.errors import InputError
from ccm.io import config_to_dict, load_config, write_config_yaml
from ccm.lending.rules import LendingParams
from ccm.risk.config import AssetRisk, HaircutTier, PortfolioParams, RiskConfig, StandardParams


def user_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "risk.yaml"
    path.write_text(text)
    return path


def error_of(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        load_config(path)
    return info.value


def test_default_has_the_documented_values() -> None:
    """Figures from reference/exchanges.md §1.3–1.5, §2 and defi.md, as the issue lists them."""
    c = load_config(None)
    assert (c.currency, c.default_model, c.contributors_top) == ("USD", MarginModelName.STANDARD, 3)
    assert (c.thresholds.warning, c.thresholds.margin_call, c.thresholds.liquidation) == (1.5, 1.2, 1.0)
    btc = c.standard_for("BTC")
    assert (btc.future_im_base, btc.future_mm_base, btc.future_size_slope) == (0.02, 0.01, 0.00005)
    assert (btc.option_im_max, btc.option_im_min, btc.option_mm) == (0.15, 0.10, 0.075)
    assert c.standard_for("ETH").future_size_slope == 0.000004
    sol = c.standard_for("SOL")
    assert (sol.future_im_base, sol.future_mm_base, sol.future_size_slope) == (0.04, 0.02, 0.000005)
    assert c.standard_for("DOGE") == btc  # `default` equals BTC
    pb, pe = c.portfolio_for("BTC"), c.portfolio_for("ETH")
    assert (pb.price_range, pb.buckets, pb.vol_up, pb.vol_down, pb.mm_factor) == (0.16, 4, 0.50, 0.25, 0.8)
    assert (pb.vega_power_short, pb.vega_power_long, pb.min_vol_up) == (0.30, 0.13, 0.50)
    assert pb.extended_moves == (-0.66, -0.33, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0)
    assert (pb.extended_dampener, pb.pnl_offset, pb.min_annualised_move, pb.annualised_move_risk) == (
        100000,
        0,
        0.01,
        0.075,
    )
    assert (pe.price_range, pe.vol_up, pe.extended_dampener, pe.pnl_offset) == (0.18, 0.40, 200000, 0.6)
    assert (pe.min_annualised_move, pe.annualised_move_risk) == (0.005, 0.05)
    ps = c.portfolio_for("SOL")
    assert ps.price_range == 0.25 and ps == PortfolioParams(**{**_fields(pe), "price_range": 0.25})
    assert c.portfolio_for("XRP") == ps
    assert [(t.up_to_usd, t.rate) for t in c.asset("BTC").tiers] == [
        (100e6, 1.0),
        (120e6, 0.975),
        (150e6, 0.95),
        (180e6, 0.90),
        (200e6, 0.85),
        (float("inf"), 0.80),
    ]
    assert (c.asset("BTC").haircut, c.asset("ETH").haircut, c.asset("SOL").haircut) == (0.02, 0.05, 0.10)
    assert (c.asset("BTC").volatility, c.asset("ETH").adv_usd) == (0.55, 1e10)
    assert all(c.asset(s).stable for s in ("USD", "USDC", "USDT", "DAI")) and not c.asset("BTC").stable
    assert c.lending_for("ETH") == LendingParams(
        ltv=0.80, liquidation_threshold=0.825, liquidation_bonus=0.05
    )
    assert c.lending_for("BTC") == LendingParams(ltv=0.73, liquidation_threshold=0.78, liquidation_bonus=0.05)
    assert c.lending_for("USDC") == LendingParams(
        ltv=0.75, liquidation_threshold=0.78, liquidation_bonus=0.045
    )
    assert c.lending_for("SOL") == LendingParams(ltv=0.6, liquidation_threshold=0.7, liquidation_bonus=0.1)
    assert c.lending_for("PEPE") == LendingParams(ltv=0, liquidation_threshold=0, liquidation_bonus=0)


def _fields(obj) -> dict:
    return {name: getattr(obj, name) for name in obj.__slots__}


def test_default_round_trips_through_yaml(tmp_path: Path) -> None:
    default = load_config(None)
    write_config_yaml(default, tmp_path / "out" / "risk.yaml")
    back = load_config(tmp_path / "out" / "risk.yaml")
    assert back == default
    assert config_to_dict(back) == config_to_dict(default)
    assert yaml.safe_load((tmp_path / "out" / "risk.yaml").read_text())["inherit_default"] is False


def test_complete_file_is_not_merged_over_the_default(tmp_path: Path) -> None:
    custom = RiskConfig(
        currency="USDT",
        default_model=MarginModelName.PORTFOLIO,
        assets={"X": AssetRisk(haircut=0.3, tiers=(HaircutTier(up_to_usd=float("inf"), rate=0.9),))},
        standard={"default": StandardParams(future_im_base=0.05)},
        portfolio={"X": PortfolioParams(buckets=7, extended_moves=())},
        lending={},
    )
    write_config_yaml(custom, tmp_path / "c.yaml")
    back = load_config(tmp_path / "c.yaml")
    assert back == custom
    assert "BTC" not in back.assets and back.lending == {}


def test_partial_user_file_keeps_the_rest_of_the_default(tmp_path: Path) -> None:
    default = load_config(None)
    c = load_config(user_config(tmp_path, "thresholds:\n  warning: 2.0\n"))
    assert (c.thresholds.warning, c.thresholds.margin_call, c.thresholds.liquidation) == (2.0, 1.2, 1.0)
    assert c.assets == default.assets and c.portfolio == default.portfolio and c.lending == default.lending


def test_deep_merge_inside_named_entries(tmp_path: Path) -> None:
    default = load_config(None)
    c = load_config(
        user_config(
            tmp_path,
            """
assets:
  BTC: {haircut: 0.03}
  ETH: {volatility: null}
  SOL: null
  DOGE: {haircut: 0.5}
margin:
  portfolio:
    BTC: {extended_moves: [-0.5, 1.0]}
""",
        )
    )
    assert c.asset("BTC").haircut == 0.03
    assert c.asset("BTC").tiers == default.asset("BTC").tiers  # untouched keys survive
    assert c.asset("BTC").volatility == 0.55
    assert (
        c.asset("ETH").volatility is None and c.asset("ETH").haircut == 0.05
    )  # null = built-in default (off)
    assert "SOL" not in c.assets
    assert c.asset("DOGE") == AssetRisk(haircut=0.5)
    assert c.portfolio_for("BTC").extended_moves == (-0.5, 1.0)  # lists replace
    assert c.portfolio_for("BTC").price_range == 0.16


def test_empty_user_file_is_the_default(tmp_path: Path) -> None:
    assert load_config(user_config(tmp_path, "# nothing\n")) == load_config(None)


@pytest.mark.parametrize(
    ("text", "record", "field", "fragment"),
    [
        ("thresholds: {warning: 1.1}", "thresholds", "warning", "must be below warning"),
        ("thresholds: {liquidation: 1.3}", "thresholds", "liquidation", "must be below margin_call"),
        ("thresholds: {liquidation: 0}", "thresholds", "liquidation", "greater than 0"),
        ("assets: {BTC: {haircut: 1.5}}", "assets.BTC", "haircut", "less than or equal to 1"),
        (
            "assets: {ETH: {tiers: [{up_to_usd: 1.0e+6, rate: 1}, {up_to_usd: 5.0e+5, rate: 0.5}]}}",
            "assets.ETH.tiers[1]",
            "up_to_usd",
            "increase",
        ),
        (
            "assets: {ETH: {tiers: [{up_to_usd: 1.0e+6, rate: 1.2}]}}",
            "assets.ETH.tiers[0]",
            "rate",
            "less than",
        ),
        ("assets: {ETH: {adv_usd: 2e10}}", "assets.ETH", "adv_usd", "text '2e10'"),
        ("lending: {ETH: {ltv: 0.9}}", "lending.ETH", "ltv", "exceeds liquidation_threshold"),
        ("lending: {BTC: {liquidation_threshold: 1.1}}", "lending.BTC", "liquidation_threshold", "less than"),
        (
            "margin: {portfolio: {BTC: {buckets: 0}}}",
            "margin.portfolio.BTC",
            "buckets",
            "greater than or equal to 1",
        ),
        ("margin: {portfolio: {BTC: {buckets: 4.5}}}", "margin.portfolio.BTC", "buckets", "integer"),
        (
            "margin: {portfolio: {ETH: {price_range: 1.0}}}",
            "margin.portfolio.ETH",
            "price_range",
            "less than 1",
        ),
        (
            "margin: {portfolio: {ETH: {extended_moves: [0.5, 0]}}}",
            "margin.portfolio.ETH",
            "extended_moves[1]",
            "cannot be 0",
        ),
        (
            "margin: {standard: {SOL: {future_im_base: 0.01}}}",
            "margin.standard.SOL",
            "future_im_base",
            "below",
        ),
        (
            "margin: {standard: {BTC: {future_mm_rate: 0.01}}}",
            "margin.standard.BTC",
            "future_mm_rate",
            "unknown field",
        ),
        ("distance: {grid: [0.1, 0.05]}", "distance", "grid[1]", "increase"),
        ("default_model: cross", None, "default_model", "'standard', 'portfolio', 'lending', 'var' or 'derive-pmrm'"),
        ("threshold: {warning: 2}", None, "threshold", "unknown field"),
        ("inherit_default: maybe", None, "inherit_default", "true or false"),
    ],
)
def test_bad_values_name_file_key_path_and_field(tmp_path: Path, text, record, field, fragment) -> None:
    path = user_config(tmp_path, text + "\n")
    err = error_of(path)
    assert (err.file, err.record, err.field) == (str(path), record, field)
    assert fragment in err.message


def test_typo_hint_suggests_the_key(tmp_path: Path) -> None:
    err = error_of(user_config(tmp_path, "threshold: {warning: 2}\n"))
    assert "did you mean 'thresholds'" in err.hint


def test_relation_error_blames_the_default_when_the_user_did_not_touch_it(tmp_path: Path) -> None:
    # a standalone file that omits margin_call gets the dataclass default 1.2 — the conflict is in the file
    path = user_config(tmp_path, "inherit_default: false\nthresholds: {warning: 1.1, liquidation: 1.0}\n")
    err = error_of(path)
    assert (err.file, err.field) == (str(path), "warning")
    # a user value that is fine on its own, conflicting with a default-only key, still names the user's file
    path = user_config(tmp_path, "lending: {ETH: {liquidation_threshold: 0.5}}\n")
    err = error_of(path)
    assert (err.file, err.record, err.field) == (str(path), "lending.ETH", "liquidation_threshold")


def test_missing_and_unparsable_config(tmp_path: Path) -> None:
    err = error_of(tmp_path / "none.yaml")
    assert err.file == str(tmp_path / "none.yaml") and "not found" in err.message
    err = error_of(user_config(tmp_path, "thresholds: [1,\n"))
    assert "line" in err.message and "column" in err.message
    err = error_of(user_config(tmp_path, "- 1\n- 2\n"))
    assert "mapping" in err.message
