"""MarketUpdate laid over a MarketSnapshot."""

from datetime import UTC, datetime

from ccm.feeds import MarketUpdate
from ccm.market.snapshot import MarketSnapshot


def test_apply_to_overlays_and_keeps_the_rest():
    base = MarketSnapshot(as_of=datetime(2024, 1, 1, tzinfo=UTC), index={"BTC": 40_000.0, "ETH": 2_000.0},
                          marks={"BTC-PERPETUAL": 40_010.0}, vols={"OPT": 0.5}, rates={"BTC": 0.01})
    at = datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC)
    new = MarketUpdate(at=at, index={"BTC": 39_000.0}, vols={"OPT": 0.6}).apply_to(base)
    assert new.as_of == at
    assert dict(new.index) == {"BTC": 39_000.0, "ETH": 2_000.0}
    assert dict(new.marks) == {"BTC-PERPETUAL": 40_010.0} and dict(new.vols) == {"OPT": 0.6}
    assert dict(new.rates) == {"BTC": 0.01}
    assert dict(base.index) == {"BTC": 40_000.0, "ETH": 2_000.0} and dict(base.vols) == {"OPT": 0.5}
