"""Build ``derive_pmrm_vectors.json`` from Derive's published PMRM portfolio test cases.

Usage: ``python tests/conformance/build_derive_vectors.py PATH/TO/test-cases-portfolio-pm.json``
(the file of derivexyz/v2-core at ``COMMIT``; other commits hold other cases and expected values).

Each published case holds options, perps, base and cash in 1e8 units and the expected IM and MM, which the
Solidity test computes as ``margin / 1e18`` (integer division: whole USDC, truncated toward zero) of Derive's
*margin* = cash + mark-to-market − requirement. The market is not in the JSON: it is the test contract's
set-up, transcribed here from, at the same commit,

- test/risk-managers/unit-tests/TestCaseExpiries.t.sol: expiries at now + N days + 8 hours, ETH spot 2000,
  forwards 2000 + a per-expiry add, rate 0.02 at confidence 1 for every expiry;
- test/risk-managers/unit-tests/PMRM/TestPMRM_ProtfolioCases.t.sol: perp price 2001 (conf 1), the per-case
  feed overrides of testCase39–44, quantities × 1e10 (1e8 → 1e18), every option's vol 0.5 at confidence 1
  unless set before (MockFeeds keeps one vol confidence per expiry: the last one set);
- scripts/config.sol + that setUp: the parameters (ccm/presets/derive-pmrm-test.yaml).

The output is in ccm's own formats: per case a book document and a market document (``ccm.io``), so the
conformance test runs them through the real input path.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPOSITORY = "derivexyz/v2-core"
PATH = "test/risk-managers/unit-tests/PMRM/test-cases-portfolio-pm.json"
COMMIT = "f46a7bc8187b0c29c95c39ea338c6d67e31cb73b"
UNIT = 1e8  # the JSON's fixed point (TestCaseExpiries.t.sol: "int amount; // 1e8")
AS_OF = datetime(2023, 1, 1, tzinfo=UTC)  # the test's block.timestamp; expiries are AS_OF + days + 8 h
EXPIRY_DAYS = {"20230104": 3, "20230111": 10, "20230118": 17, "20230227": 57, "20230804": 215, "20230811": 222,
               "20230818": 229, "20230825": 238}
FORWARD_ADD = {"20230104": 0.91345, "20230111": 2.83305, "20230118": 4.7545, "20230227": 15.7696,
               "20230804": 59.87416, "20230811": 61.85933, "20230818": 63.8284, "20230825": 66.3744}
SPOT, PERP_PRICE, RATE, DEFAULT_VOL = 2000.0, 2001.0, 0.02, 0.5
PERP = "ETH-PERP"


def _feeds(name: str) -> dict:
    """The mock feeds of one case: the defaults, then testCase39–44's overrides (in the Solidity order)."""
    f = {"spot": SPOT, "spot_conf": 1.0, "stable": 1.0, "perp": PERP_PRICE, "perp_conf": 1.0,
         "forward": {d: SPOT + a for d, a in FORWARD_ADD.items()}, "forward_conf": dict.fromkeys(EXPIRY_DAYS, 1.0),
         "vol": {}, "vol_conf": {}}

    def set_vol(date: str, strike: float, vol: float, conf: float) -> None:
        f["vol"][(date, strike)] = vol
        f["vol_conf"][date] = conf  # MockFeeds.setVol: one confidence per expiry

    if name == "test_depeg_contingency_pm":
        f["stable"] = 0.2
    elif name in ("test_oracle_cont_long_call_pm", "test_oracle_cont_short_call_pm"):
        f["spot_conf"] = 0.1
        set_vol("20230118", 1700.0, 0.5, 0.3 if name == "test_oracle_cont_long_call_pm" else 0.1)
        f["forward"]["20230118"], f["forward_conf"]["20230118"] = SPOT + 4.75, 0.4
    elif name == "test_oracle_cont_base_asset_pm":
        f["spot_conf"] = 0.1
        set_vol("20230118", 1700.0, 0.01, 0.1)
        f["forward"]["20230118"], f["forward_conf"]["20230118"] = SPOT + 4.75, 0.02
    elif name == "test_oracle_cont_long_perp_asset_pm":
        f["spot_conf"] = 0.3
        set_vol("20230118", 1700.0, 0.5, 0.1)
        f["forward"]["20230118"], f["forward_conf"]["20230118"] = SPOT + 4.75, 0.02
        f["perp"], f["perp_conf"] = 2001.0, 0.1
    elif name == "test_general_portfolio_pm":
        f["spot"], f["spot_conf"] = 2004.0, 0.3
        for strike, vol in ((1700.0, 0.15), (2100.0, 1.01), (1000.0, 0.33)):
            set_vol("20230118", strike, vol, 0.1)
        f["forward"]["20230227"], f["forward_conf"]["20230227"] = 2014.7545, 0.2
        f["perp"], f["perp_conf"] = 2017.0, 0.3
    return f


def _stamp(date: str) -> str:
    return (AS_OF + timedelta(days=EXPIRY_DAYS[date], hours=8)).isoformat().replace("+00:00", "Z")


def convert_case(name: str, case: dict) -> dict:
    """One published case as {name, book, market, expected} in ccm's book and market formats."""
    f = _feeds(name)
    instruments, positions, vols, forwards, confidences = [], [], {}, {}, {}
    for leg in case["options"]:
        date, strike, right = leg["expiry"], float(leg["strike"]), leg["type"]
        if f["vol"].get((date, strike), 0.0) == 0.0:  # _loadTestData: setVol(expiry, strike, 0.5, 1) if unset
            f["vol"][(date, strike)], f["vol_conf"][date] = DEFAULT_VOL, 1.0
        ident = f"ETH-{date}-{strike:g}-{right[0].upper()}"
        instruments.append({"id": ident, "type": "option", "underlying": "ETH", "settlement": "linear",
                            "settlement_asset": "USDC", "expiry": _stamp(date), "strike": strike, "right": right})
        positions.append({"instrument": ident, "quantity": leg["amount"] / UNIT})
    for leg in case["options"]:  # after every setVol: the confidences the manager reads
        date, strike, right = leg["expiry"], float(leg["strike"]), leg["type"]
        ident = f"ETH-{date}-{strike:g}-{right[0].upper()}"
        vols[ident], forwards[ident] = f["vol"][(date, strike)], f["forward"][date]
        confidences[ident] = min(f["forward_conf"][date], 1.0, f["vol_conf"][date])  # forward, rate, vol feeds
    for leg in case["perps"]:
        if not any(i["id"] == PERP for i in instruments):
            instruments.append({"id": PERP, "type": "perpetual", "underlying": "ETH", "settlement": "linear",
                                "settlement_asset": "USDC"})
        positions.append({"instrument": PERP, "quantity": leg["amount"] / UNIT,
                          "entry_price": leg["entryPrice"] / UNIT})
    collateral = {}
    if case["cash"]:
        collateral["USDC"] = case["cash"] / UNIT
    base = sum(b["amount"] for b in case["bases"]) / UNIT
    if base:
        collateral["ETH"] = base
    book = {"instruments": instruments,
            "accounts": [{"id": name, "margin_model": "derive-pmrm", "collateral": collateral, "positions": positions}]}
    market = {"as_of": AS_OF.isoformat().replace("+00:00", "Z"), "index": {"ETH": f["spot"], "USDC": f["stable"]},
              "rates": {"ETH": RATE}, "confidences": {"ETH": f["spot_conf"], **confidences}}
    if vols:
        market["vols"], market["forwards"] = vols, forwards
    if case["perps"]:
        market["marks"] = {PERP: f["perp"]}
        market["confidences"][PERP] = f["perp_conf"]
    result = case.get("results", case.get("result"))
    expected = {"im": int(result["im"]), "mm": int(result["mm"])}
    return {"name": name, "book": book, "market": market, "expected": expected}


def build(source: Path) -> dict:
    cases = json.loads(source.read_text())
    return {
        "source": {"repository": REPOSITORY, "path": PATH, "commit": COMMIT,
                   "set_up": ["test/risk-managers/unit-tests/TestCaseExpiries.t.sol",
                              "test/risk-managers/unit-tests/PMRM/TestPMRM_ProtfolioCases.t.sol",
                              "test/risk-managers/unit-tests/PMRM/utils/PMRMTestBase.sol", "scripts/config.sol"],
                   "built_by": "tests/conformance/build_derive_vectors.py"},
        "preset": "derive-pmrm-test",
        "expected_is": "Derive's margin (cash + mark-to-market − requirement) in whole USDC, truncated toward zero "
                       "(Solidity int division margin / 1e18); ccm: (equity − requirement) ÷ USDC index",
        "cases": [convert_case(name, case) for name, case in cases.items()],
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(__file__).with_name("derive_pmrm_vectors.json")
    out.write_text(json.dumps(build(Path(argv[1])), indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
