"""Price-history CSV reading: layouts, alignment, located errors; one real file when CCM_DATA_DIR exists."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ccm.errors import InputError
from ccm.io.prices import read_prices

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("CCM_DATA_DIR", ROOT / ".." / "shared" / "data"))


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_wide_csv_sorted(tmp_path):
    path = _write(tmp_path, "wide.csv", "timestamp,BTC,ETH\n2024-01-02,101,11\n2024-01-01,100,10\n")
    ts, assets, prices = read_prices(path)
    assert assets == ("BTC", "ETH")
    np.testing.assert_array_equal(ts, np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[s]"))
    np.testing.assert_array_equal(prices, [[100, 10], [101, 11]])


def test_asset_files_in_every_layout_inner_join(tmp_path):
    yahoo = _write(tmp_path, "y.csv", "Date,Close,High,Low,Open,Volume\n2024-01-01,100,1,1,1,5\n"
                   "2024-01-02,101,1,1,1,5\n2024-01-03,102,1,1,1,5\n")
    binance = _write(tmp_path, "b.csv", "timestamp,open,high,low,close,volume\n2024-01-02 00:00:00,0,0,0,20,1\n"
                     "2024-01-03 00:00:00,0,0,0,21,1\n2024-01-04 00:00:00,0,0,0,22,1\n")
    mathaszip = _write(tmp_path, "m.csv", "timestamp,open,close,volume,unix_timestamp,high,low\n"
                       "2024-01-03 00:00:00,9,3.5,1,1704240000,9,9\n2024-01-02 00:00:00,9,3,1,1704153600,9,9\n")
    gecko = _write(tmp_path, "g.csv", "snapped_at,price,market_cap,total_volume\n"
                   "2024-01-02 00:00:00 UTC,1.0,,0\n2024-01-03 00:00:00 UTC,0.99,5,0\n")
    history = read_prices([f"BTC={yahoo}", f"ETH={binance}", f"SOL={mathaszip}", f"USDC={gecko}"])
    assert history.assets == ("BTC", "ETH", "SOL", "USDC")
    np.testing.assert_array_equal(history.timestamps,
                                  np.array(["2024-01-02", "2024-01-03"], dtype="datetime64[s]"))
    np.testing.assert_array_equal(history.prices, [[101, 20, 3, 1.0], [102, 21, 3.5, 0.99]])
    assert history.posix_seconds.tolist() == [1704153600, 1704240000]


def test_posix_milliseconds_and_offsets(tmp_path):
    ms = _write(tmp_path, "ms.csv", "timestamp,close\n1704067200000,5\n")
    off = _write(tmp_path, "off.csv", "open_time,close\n2024-01-01 01:00:00+01:00,6\n")
    history = read_prices([f"A={ms}", f"B={off}"])
    assert history.posix_seconds.tolist() == [1704067200]


@pytest.mark.parametrize(("text", "row", "field"), [
    ("Date,Close\n2024-01-01,100\n2024-01-02,-1\n", "row 3", "Close"),
    ("Date,Close\n2024-01-01,nan\n", "row 2", "Close"),
    ("Date,Close\n2024-01-01,\n", "row 2", "Close"),
    ("Date,Close\n2024-01-01,abc\n", "row 2", "Close"),
    ("Date,Close\nyesterday,100\n", "row 2", "Date"),
])
def test_bad_values_name_file_row_and_column(tmp_path, text, row, field):
    path = _write(tmp_path, "bad.csv", text)
    with pytest.raises(InputError) as err:
        read_prices([f"BTC={path}"])
    assert (err.value.file, err.value.record, err.value.field) == (str(path), row, field)


def test_drop_bad_rows(tmp_path):
    path = _write(tmp_path, "bad.csv", "Date,Close\n2024-01-01,100\n2024-01-02,0\n2024-01-03,null\n2024-01-04,7\n")
    history = read_prices([f"BTC={path}"], drop_bad=True)
    assert history.prices[:, 0].tolist() == [100, 7]


def test_layout_duplicates_and_no_overlap(tmp_path):
    odd = _write(tmp_path, "odd.csv", "when,value\n2024-01-01,1\n")
    with pytest.raises(InputError, match="layout"):
        read_prices([f"BTC={odd}"])
    dup = _write(tmp_path, "dup.csv", "Date,Close\n2024-01-01,1\n2024-01-01,2\n")
    with pytest.raises(InputError, match="more than once"):
        read_prices([f"BTC={dup}"])
    a = _write(tmp_path, "a.csv", "Date,Close\n2024-01-01,1\n")
    b = _write(tmp_path, "b.csv", "Date,Close\n2024-02-01,1\n")
    with pytest.raises(InputError, match="share no timestamp"):
        read_prices([f"A={a}", f"B={b}"])
    with pytest.raises(InputError, match="not found"):
        read_prices(tmp_path / "missing.csv")


@pytest.mark.skipif(not (DATA / "budydeveloper_crypto-dataset").is_dir(), reason="CCM_DATA_DIR not present")
def test_real_files():
    btc = DATA / "budydeveloper_crypto-dataset" / "BTC-USD_1d.csv"
    eth = DATA / "maciejnems_Rebalancer" / "eth-usd-max.csv"
    history = read_prices([f"BTC={btc}", f"ETH={eth}"])
    assert history.timestamps[0] == np.datetime64("2015-08-07")  # CoinGecko ETH begins, BTC began 2014-09-17
    assert history.timestamps[-1] == np.datetime64("2022-09-14")
    assert (np.diff(history.timestamps) > np.timedelta64(0, "s")).all()
    # Black Thursday close (SOURCES.md / Yahoo): 4970.79
    day = np.flatnonzero(history.timestamps == np.datetime64("2020-03-12"))[0]
    assert history.prices[day, 0] == pytest.approx(4970.788, abs=1e-3)
