"""The ``alerts:`` config section parses into the engine's rules, with located errors."""

from __future__ import annotations

import pytest

from ccm.engine import AlertConfig
from ccm.errors import InputError
from ccm.io.alerts_config import load_alert_config
from ccm.io.config import load_config


def test_missing_section_keeps_engine_defaults(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("thresholds: {warning: 1.6, margin_call: 1.2, liquidation: 1.0}\n")
    assert load_alert_config(path) == AlertConfig()
    assert load_config(path).thresholds.warning == 1.6  # the risk loader accepts the file too


def test_rules_are_parsed(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("alerts:\n  thresholds: null\n  decline: {drop: 0.3, window_s: 600}\n"
                    "  system: {min_system_coverage: 1.2, fund_usd: 5.0e+7, min_fund_coverage: 1.0}\n")
    rules = load_alert_config(path)
    assert rules.thresholds is None
    assert (rules.decline.drop, rules.decline.window_s, rules.decline.buffer) == (0.3, 600.0, 16)
    assert (rules.system.min_system_coverage, rules.system.fund_usd) == (1.2, 5e7)
    assert load_config(path).currency == "USD"


def test_bad_rule_names_the_field(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("alerts:\n  decline: {drop: 2}\n")
    with pytest.raises(InputError) as err:
        load_alert_config(path)
    assert err.value.file == str(path) and "drop" in (err.value.field or "")
