"""End-to-end checks of ``ccm reserves`` and ``ccm por build/prove/verify`` on a hand-sized issuer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ccm.cli.main import app

runner = CliRunner()

CSV = """customer_id,asset,balance
c1,BTC,4
c1,USDT,20000
c2,BTC,6
c2,ETH,60.5
c3,ETH,39.5
c3,USDT,30000
"""
# Static haircuts only (the default config's volatility haircut, liquidity add-on and BTC ladder removed).
CONFIG = """assets:
  BTC: {haircut: 0.1, volatility: null, adv_usd: null, tiers: null}
  ETH: {haircut: 0.2, volatility: null, adv_usd: null}
  USDT: {haircut: 0.0}
"""
MARKET = {"as_of": "2025-02-10T08:00:00Z", "index": {"BTC": 50000, "ETH": 2000, "USDT": 1.0}}
RESERVES = {"BTC": 12, "ETH": 90, "USDT": 50000}


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {"csv": tmp_path / "liabilities.csv", "config": tmp_path / "config.yaml",
             "market": tmp_path / "market.json", "reserves": tmp_path / "reserves.json", "dir": tmp_path / "por"}
    paths["csv"].write_text(CSV)
    paths["config"].write_text(CONFIG)
    paths["market"].write_text(json.dumps(MARKET))
    paths["reserves"].write_text(json.dumps(RESERVES))
    return paths


def reserves_json(files, liabilities: Path, *extra: str) -> dict:
    result = runner.invoke(app, ["reserves", str(liabilities), "-r", str(files["reserves"]), "-m",
                                 str(files["market"]), "-c", str(files["config"]), "-f", "json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_reserves_by_hand(files):
    """Liabilities BTC 10, ETH 100, USDT 50,000 at 50,000 / 2,000 / 1 → 500,000 / 200,000 / 50,000 USD;
    reserves 600,000 / 180,000 / 50,000; after 10% / 20% / 0% haircuts 540,000 / 144,000 / 50,000."""
    doc = reserves_json(files, files["csv"])
    by_asset = {a["asset"]: a for a in doc["assets"]}
    assert [by_asset[a]["liabilities"] for a in ("BTC", "ETH", "USDT")] == [10, 100, 50_000]
    assert [by_asset[a]["reserve_ratio"] for a in ("BTC", "ETH", "USDT")] == pytest.approx([1.2, 0.9, 1.0])
    assert [by_asset[a]["haircut_reserve_ratio"] for a in ("BTC", "ETH", "USDT")] == pytest.approx([1.08, 0.72, 1.0])
    assert doc["total"]["reserve_ratio"] == pytest.approx(830_000 / 750_000)
    assert doc["total"]["haircut_reserve_ratio"] == pytest.approx(734_000 / 750_000)
    assert doc["scenarios"] is None


def test_reserves_under_scenarios(files, tmp_path):
    doc = reserves_json(files, files["csv"], "-s", "hypothetical")
    scen = doc["scenarios"]
    assert scen["count"] == len(scen["by_scenario"]) > 5
    worst = min(s["haircut_reserve_ratio"] for s in scen["by_scenario"])
    assert scen["worst"]["total"]["haircut_reserve_ratio"] == pytest.approx(worst)
    zero = tmp_path / "zero.json"
    zero.write_text(json.dumps({"scenarios": [{"name": "nothing happens", "returns": {"BTC": 0.0}}]}))
    doc = reserves_json(files, files["csv"], "-s", str(zero))
    assert doc["scenarios"]["worst"]["total"]["haircut_reserve_ratio"] == pytest.approx(734_000 / 750_000)
    # BTC −50%: BTC owed 10 × 25,000 = 250,000, held 12 × 25,000 × 0.9 = 270,000 after the 10% haircut; ETH
    # 144,000 / 200,000 and USDT 50,000 / 50,000 unchanged → total 464,000 / 500,000 = 0.928, the worst of the two.
    crash = tmp_path / "crash.json"
    crash.write_text(json.dumps({"scenarios": [{"name": "calm", "returns": {"BTC": 0.0, "ETH": 0.0, "USDT": 0.0}},
                                               {"name": "btc -50%", "returns": {"BTC": -0.5, "ETH": 0.0,
                                                                                "USDT": 0.0}}]}))
    worst = reserves_json(files, files["csv"], "-s", str(crash))["scenarios"]["worst"]
    assert worst["total"]["scenario"] == "btc -50%"
    assert worst["total"]["haircut_reserve_ratio"] == pytest.approx(464_000 / 500_000)
    assert worst["total"]["liabilities_usd"] == pytest.approx(500_000)
    # BTC's own ratios do not move with its price under a static haircut (1.2 and 1.08 in both): a tie, and the
    # first scenario is reported
    assert worst["assets"][0] == {"asset": "BTC", "scenario": "calm", "reserve_ratio": pytest.approx(1.2),
                                  "haircut_reserve_ratio": pytest.approx(1.08), "unbounded": False}


def test_table_output(files):
    result = runner.invoke(app, ["reserves", str(files["csv"]), "-r", str(files["reserves"]), "-m",
                                 str(files["market"]), "-c", str(files["config"]), "-s", "historical"])
    assert result.exit_code == 0, result.output
    assert "108.0%" in result.stdout and "Worst of" in result.stdout


def test_por_build_prove_verify_and_exit_codes(files, tmp_path):
    out = files["dir"]
    result = runner.invoke(app, ["por", "build", str(files["csv"]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    root = json.loads((out / "root.json").read_text())
    assert root["liabilities"] == {"BTC": "10", "ETH": "100", "USDT": "50000"}
    assert root["customers"] == 3

    # the published root gives the same backing as the CSV
    assert reserves_json(files, out / "root.json")["total"] == reserves_json(files, files["csv"])["total"]

    proof_path = tmp_path / "c2.json"
    result = runner.invoke(app, ["por", "prove", str(out), "c2", "--out", str(proof_path)])
    assert result.exit_code == 0, result.output
    proof = json.loads(proof_path.read_text())
    assert proof["balances"] == {"BTC": "6", "ETH": "60.5", "USDT": "0"}

    verify = ["por", "verify", str(proof_path), "--root", str(out / "root.json")]
    result = runner.invoke(app, verify)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("valid")

    proof["balances_units"][0] -= 1  # the custodian shaves 1e-8 BTC off c2
    proof_path.write_text(json.dumps(proof))
    result = runner.invoke(app, verify)
    assert result.exit_code == 1
    assert result.stdout.startswith("invalid:")

    proof["balances_units"][0] += 1
    proof["path"][0]["sums_units"][1] = -5
    proof_path.write_text(json.dumps(proof))
    result = runner.invoke(app, [*verify, "-f", "json"])
    assert result.exit_code == 1
    assert "negative" in json.loads(result.stdout)["reason"]

    proof_path.write_text("{not json")
    assert runner.invoke(app, verify).exit_code == 2
    assert runner.invoke(app, ["por", "verify", str(tmp_path / "missing.json"), "--root",
                               str(out / "root.json")]).exit_code == 2
    assert runner.invoke(app, ["por", "prove", str(out), "nobody"]).exit_code == 2

    root["root_hash"] = "00" * 32  # root.json no longer matches tree.npz (e.g. a half-replaced directory)
    (out / "root.json").write_text(json.dumps(root))
    result = runner.invoke(app, ["por", "prove", str(out), "c2"])
    assert result.exit_code == 2 and "does not match" in result.output


@pytest.mark.parametrize(("text", "message"), [
    ("customer_id,asset,balance\nc1,BTC,1\nc2,BTC,-1\n", "line 3"),
    ("customer_id,asset,balance\nc1,BTC,1\nc1,BTC,2\n", "second BTC row"),
    ("customer_id,asset,balance\nc1,BTC,0.123456789\n", "more than 8 decimal places"),
    ("customer_id,asset,balance\nc1,BTC,abc\n", "not a number"),
    ("customer,asset,amount\nc1,BTC,1\n", "expected customer_id,asset,balance"),
    ("customer_id,asset,balance\n", "no rows"),
])
def test_bad_liabilities_exit_2_with_a_located_message(files, text, message):
    files["csv"].write_text(text)
    for args in (["por", "build", str(files["csv"]), "--out", str(files["dir"])],
                 ["reserves", str(files["csv"]), "-r", str(files["reserves"]), "-m", str(files["market"])]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert message in result.output and "liabilities.csv" in result.output
    assert not files["dir"].exists()  # nothing written


def test_missing_price_and_bad_reserves_exit_2(files):
    files["reserves"].write_text(json.dumps({**RESERVES, "SOL": 5}))
    result = runner.invoke(app, ["reserves", str(files["csv"]), "-r", str(files["reserves"]), "-m",
                                 str(files["market"])])
    assert result.exit_code == 2 and "SOL" in result.output
    files["reserves"].write_text(json.dumps({"BTC": -1}))
    result = runner.invoke(app, ["reserves", str(files["csv"]), "-r", str(files["reserves"]), "-m",
                                 str(files["market"])])
    assert result.exit_code == 2 and "BTC" in result.output



@pytest.mark.parametrize("source", ["nosuch.yaml", "scen.JSON", "shocks.csv", "dir/scenarios"])
def test_missing_scenario_file_is_file_not_found(files, tmp_path, source):
    missing = str(tmp_path / source) if "/" in source else source
    result = runner.invoke(app, ["reserves", str(files["csv"]), "-r", str(files["reserves"]), "-m",
                                 str(files["market"]), "-s", missing])
    assert result.exit_code == 2, result.output
    assert "scenario file not found" in result.output and source.split("/")[-1] in result.output
    assert "unknown scenario source" not in result.output


def test_unknown_library_name_is_still_unknown_source(files):
    result = runner.invoke(app, ["reserves", str(files["csv"]), "-r", str(files["reserves"]), "-m",
                                 str(files["market"]), "-s", "historic"])
    assert result.exit_code == 2 and "unknown scenario source 'historic'" in result.output


BALANCES = [("1.5", 150_000_000), ("0.00000001", 1), ("1e-8", 1), ("12", 12 * 10**8), ("1.", 10**8),
            (" .25 ", 25_000_000), ("0", 0), ("007.10", 710_000_000), ("9999999999.99999999", 10**18 - 1)]


def test_balances_are_read_exactly_in_base_units(tmp_path):
    """Plain digits (the reader's fast path) and other decimal spellings (exponents, spaces) alike."""
    from ccm.io.liabilities import read_liabilities

    path = tmp_path / "l.csv"
    path.write_text("customer_id,asset,balance\n" + "".join(f"c{k},BTC,{t}\n" for k, (t, _) in enumerate(BALANCES)))
    table = read_liabilities(path)
    assert table.units[:, 0].tolist() == [u for _, u in BALANCES]


def test_written_liabilities_read_back_exactly(tmp_path):
    """Ids with commas and quotes survive the CSV round trip; a spreadsheet's byte-order mark is ignored."""
    import numpy as np

    from ccm.io.liabilities import liabilities_csv, read_liabilities

    ids = ['plain', 'with,comma', 'with "quote"']
    balances = np.array([[1.5, 0.0], [0.0, 2.25], [0.00000001, 3.0]])
    path = tmp_path / "l.csv"
    path.write_text("\ufeff" + liabilities_csv(ids, ["BTC", "ETH"], balances), encoding="utf-8")
    table = read_liabilities(path)
    assert table.customer_ids == tuple(ids)
    assert table.units.tolist() == [[150_000_000, 0], [0, 225_000_000], [1, 300_000_000]]


# --- review: forged proofs that verified before (the custodian controls every byte of root and proof) ------
def _build_forged(tmp_path: Path, assets: tuple[str, ...], units: list[list[int]]) -> tuple[Path, Path]:
    """A tree the custodian builds by hand (not through ccm por build), its root.json and c1's proof."""
    import numpy as np

    from ccm.io.por import write_proof, write_tree
    from ccm.reserves.merkle_sum import build_tree, prove, salts_from_rng

    tree = build_tree(["c1", "c2"], assets, np.array(units), salts_from_rng(2, np.random.default_rng(0)))
    write_tree(tmp_path / "forged", tree, 8)
    write_proof(tmp_path / "c1.json", prove(tree, 0), 8)
    return tmp_path / "forged" / "root.json", tmp_path / "c1.json"


def test_root_with_a_duplicate_asset_is_refused(files, tmp_path, monkeypatch):
    """BTC 10 of liabilities in a first 'BTC' column, 0 in a second: keyed by name, the backing ratio read
    0 BTC of liabilities. The reader refuses the ambiguous root (exit 2 naming the field)."""
    from ccm.reserves import merkle_sum

    monkeypatch.setattr(merkle_sum, "_check_assets", lambda assets: None)  # the custodian's own build
    root, proof = _build_forged(tmp_path, ("BTC", "BTC"), [[4 * 10**8, 0], [6 * 10**8, 0]])
    result = runner.invoke(app, ["reserves", str(root), "-r", str(files["reserves"]), "-m", str(files["market"]),
                                 "-c", str(files["config"]), "-f", "json"])
    assert result.exit_code == 2 and "assets" in result.output and "twice" in result.output
    result = runner.invoke(app, ["por", "verify", str(proof), "--root", str(root)])
    assert result.exit_code == 2 and "twice" in result.output


def test_readable_balances_must_match_the_committed_units(tmp_path):
    """The tree commits 0.5 BTC for c1 but the proof's readable 'balances' says 1.5: refused."""
    root, proof = _build_forged(tmp_path, ("BTC", "USDT"), [[5 * 10**7, 0], [25 * 10**6, 10**11]])
    doc = json.loads(proof.read_text())
    assert doc["balances"] == {"BTC": "0.5", "USDT": "0"}
    doc["balances"]["BTC"] = "1.5"
    proof.write_text(json.dumps(doc))
    result = runner.invoke(app, ["por", "verify", str(proof), "--root", str(root)])
    assert result.exit_code == 1 and result.stdout.startswith("invalid:") and "1.5" in result.stdout
    published = json.loads(root.read_text())
    published["liabilities"]["BTC"] = "0.1"  # the readable total understated, sums_units untouched
    root.write_text(json.dumps(published))
    result = runner.invoke(app, ["por", "verify", str(proof), "--root", str(root)])
    assert result.exit_code == 2 and "liabilities" in result.output


def test_expected_balance_and_customer_are_checked(tmp_path):
    """A valid proof of a reduced balance (0.5 committed, the customer owns 1.5) passes on its own; with the
    customer's own figures (--expect, --customer) it is invalid, exit 1."""
    root, proof = _build_forged(tmp_path, ("BTC", "USDT"), [[5 * 10**7, 0], [25 * 10**6, 10**11]])
    verify = ["por", "verify", str(proof), "--root", str(root)]
    assert runner.invoke(app, verify).exit_code == 0
    ok = runner.invoke(app, [*verify, "--customer", "c1", "--expect", "BTC=0.5", "--expect", "USDT=0"])
    assert ok.exit_code == 0, ok.output
    short = runner.invoke(app, [*verify, "--expect", "BTC=1.5"])
    assert short.exit_code == 1 and short.stdout.startswith("invalid:") and "BTC" in short.stdout
    other = runner.invoke(app, [*verify, "--customer", "c2", "-f", "json"])
    assert other.exit_code == 1 and "c2" in json.loads(other.stdout)["reason"]
    missing = runner.invoke(app, [*verify, "--expect", "ETH=1"])  # an asset the root does not list
    assert missing.exit_code == 1 and "ETH" in missing.stdout
    assert runner.invoke(app, [*verify, "--expect", "BTC"]).exit_code == 2
    assert runner.invoke(app, [*verify, "--expect", "BTC=-1"]).exit_code == 2


@pytest.mark.parametrize(("field", "value"), [
    ("customers", -3), ("customers", 0), ("depth", -1), ("depth", 5), ("root_hash", "abcd"),
    ("sums_units", [10**9, -1, 5 * 10**12]), ("sums_units", [2**63, 0, 0]),
])
def test_malformed_root_is_refused_naming_the_field(files, tmp_path, field, value):
    """A root with a negative or zero customer count, a depth that does not fit the count (3 customers:
    ⌈log2 3⌉ = 2), a short hash or sums outside 0 … 2^63 − 1 is bad input (exit 2), not a valid proof or a
    negative liability. The readable totals are dropped so that only the checked field is wrong."""
    out = files["dir"]
    assert runner.invoke(app, ["por", "build", str(files["csv"]), "--out", str(out)]).exit_code == 0
    proof = tmp_path / "c1.json"
    assert runner.invoke(app, ["por", "prove", str(out), "c1", "--out", str(proof)]).exit_code == 0
    root = json.loads((out / "root.json").read_text())
    assert root["depth"] == 2 and root["customers"] == 3
    del root["liabilities"]
    root[field] = value
    bad = tmp_path / "root.json"
    bad.write_text(json.dumps(root))
    for args in (["por", "verify", str(proof), "--root", str(bad)],
                 ["reserves", str(bad), "-r", str(files["reserves"]), "-m", str(files["market"])]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert f"'{field}'" in result.output


def test_damaged_tree_is_refused_by_prove(files, tmp_path):
    """tree.npz whose arrays no longer fit together (a level cut short) gave a traceback; one whose balance was
    changed in place (same shapes, root.json untouched) gave a proof that does not verify. Both: exit 2, nothing
    written."""
    import numpy as np

    out = files["dir"]
    assert runner.invoke(app, ["por", "build", str(files["csv"]), "--out", str(out)]).exit_code == 0
    original = dict(np.load(out / "tree.npz"))
    for name, change in (("cut", lambda d: d.update(sums_0=d["sums_0"][:1])),
                         ("edited", lambda d: d["sums_0"].__setitem__((1, 0), d["sums_0"][1, 0] - 1))):
        damaged = {k: v.copy() for k, v in original.items()}
        change(damaged)
        np.savez(out / "tree.npz", **damaged)
        proof = tmp_path / f"{name}.json"
        result = runner.invoke(app, ["por", "prove", str(out), "c2", "--out", str(proof)])
        assert result.exit_code == 2, (name, result.output)
        assert "tree.npz" in result.output and "Traceback" not in result.output
        assert not proof.exists()
