"""User scenario files: JSON/YAML and CSV into a ScenarioSet, with located errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ccm.errors import InputError
from ccm.io.scenarios import load_scenarios


def test_json_scenarios_fill_missing_assets_neutrally(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"scenarios": [
        {"name": "crash", "date": "2022-11-08", "returns": {"BTC": -0.4, "ETH": -0.55}, "vol_shifts": {"BTC": 0.8}},
        {"name": "depeg", "returns": {"USDC": -0.12}, "haircut_multipliers": {"USDC": 3}},
    ]}))
    s = load_scenarios(path)
    assert s.assets == ("BTC", "ETH", "USDC") and s.names == ("crash", "depeg")
    np.testing.assert_array_equal(s.price_returns, [[-0.4, -0.55, 0.0], [0.0, 0.0, -0.12]])
    np.testing.assert_array_equal(s.vol_shifts, [[0.8, 0.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(s.haircut_multipliers, [[1, 1, 1], [1, 1, 3]])
    assert s.dates == ("2022-11-08", None)


def test_csv_scenarios(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("name,BTC,ETH\ndown,-0.2,-0.3\nup,0.1,0.15\n")
    s = load_scenarios(path)
    np.testing.assert_array_equal(s.price_returns, [[-0.2, -0.3], [0.1, 0.15]])


@pytest.mark.parametrize(
    ("content", "record", "field"),
    [
        ({"scenarios": [{"name": "x", "returns": {"BTC": -1.5}}]}, "scenario 'x'", "BTC"),
        ({"scenarios": [{"name": "x", "returns": {"BTC": "lots"}}]}, "scenarios[0].returns", "BTC"),
        ({"scenarios": [{"name": "x", "shocks": {}}]}, "scenarios[0]", "shocks"),
        ({"scenarios": []}, None, "scenarios"),
    ],
)
def test_bad_scenarios_name_record_and_field(tmp_path, content, record, field):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(content))
    with pytest.raises(InputError) as err:
        load_scenarios(path)
    assert err.value.file == str(path)
    assert err.value.field == field
    if record is not None:
        assert err.value.record == record


def test_bad_csv_cell_names_row_and_column(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("name,BTC\nok,-0.1\nbad,abc\n")
    with pytest.raises(InputError) as err:
        load_scenarios(path)
    assert (err.value.record, err.value.field) == ("row 2", "BTC")
