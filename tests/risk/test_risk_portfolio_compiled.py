"""The compiled shared-moves paths (``risk.margin._portfolio_compiled``, ``risk._equity_compiled``) against numpy.

The numpy path of ``portfolio._chunk`` (sparse holdings product, array temporaries) is an independent second
implementation of the same arithmetic; both must give the same requirement at the distance grid's shared moves
and the same distances to liquidation, with X:PM netting (cross settlement) and without it (S:PM).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ccm.enums import MARGIN_MODELS, MarginModelName
from ccm.io.config import load_config
from ccm.pricing.market_state import resolve_market
from ccm.risk import _equity_compiled
from ccm.risk.context import RiskContext, account_equity
from ccm.risk.distance import distances_to_liquidation, excess_at
from ccm.risk.margin import _portfolio_compiled
from ccm.risk.margin.portfolio import portfolio_requirement
from ccm.synthetic import generate_venue

pytestmark = pytest.mark.skipif(not _portfolio_compiled.AVAILABLE, reason="numba not installed")


@pytest.fixture(scope="module")
def venue_parts():
    venue = generate_venue(1_500, rng=np.random.default_rng(11), n_instruments_target=400)
    book = venue.columns.build()
    book = replace(book, margin_model=np.full(book.n_accounts, MARGIN_MODELS.index(MarginModelName.PORTFOLIO),
                                              dtype=np.int8))
    return book, resolve_market(venue.market, book.assets, book.instruments)


def _context(venue_parts, cross: bool) -> RiskContext:
    book, market = venue_parts
    config = load_config(None)
    portfolio = {k: replace(v, cross_settlement=cross) for k, v in config.portfolio.items()}
    return RiskContext.build(book, market, replace(config, portfolio=portfolio))


@pytest.mark.parametrize("cross", [True, False])
def test_shared_moves_requirement_matches_numpy_path(venue_parts, cross, monkeypatch):
    moves = np.array([-0.6, -0.25, -0.05, 0.0, 0.1, 0.4])
    batched = np.broadcast_to(moves[:, None], (moves.shape[0], venue_parts[0].n_accounts))
    compiled = portfolio_requirement(_context(venue_parts, cross), batched)
    monkeypatch.setattr(_portfolio_compiled, "AVAILABLE", False)
    numpy_path = portfolio_requirement(_context(venue_parts, cross), batched)
    assert np.count_nonzero(numpy_path.maintenance) > 1_000  # the comparison covers many accounts
    for got, want in ((compiled.initial, numpy_path.initial), (compiled.maintenance, numpy_path.maintenance)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


def test_distances_match_numpy_path(venue_parts, monkeypatch):
    def distances():
        ctx = _context(venue_parts, True)
        return distances_to_liquidation(ctx, excess_at(ctx, None))

    compiled = distances()
    monkeypatch.setattr(_portfolio_compiled, "AVAILABLE", False)
    numpy_path = distances()
    assert np.isfinite(numpy_path[0]).sum() > 100
    for got, want in zip(compiled, numpy_path, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_shared_moves_position_value_matches_numpy_path(venue_parts, monkeypatch):
    """``account_equity`` at shared moves: the compiled sums against the (B, nnz) gather and row sums."""
    moves = np.array([-0.5, -0.1, 0.0, 0.3])
    batched = np.broadcast_to(moves[:, None], (moves.shape[0], venue_parts[0].n_accounts))
    compiled = account_equity(_context(venue_parts, True), batched)
    monkeypatch.setattr(_equity_compiled, "AVAILABLE", False)
    numpy_path = account_equity(_context(venue_parts, True), batched)
    assert np.count_nonzero(numpy_path.position_value) > 1_000
    np.testing.assert_allclose(compiled.position_value, numpy_path.position_value, rtol=1e-13, atol=1e-9)
    np.testing.assert_array_equal(compiled.collateral_value, numpy_path.collateral_value)


def test_per_account_moves_requirement_matches_numpy_path(venue_parts, monkeypatch):
    """The refinement's path: every account at its own move."""
    moves = np.random.default_rng(5).uniform(-0.7, 0.7, venue_parts[0].n_accounts)
    compiled = portfolio_requirement(_context(venue_parts, True), moves)
    monkeypatch.setattr(_portfolio_compiled, "AVAILABLE", False)
    numpy_path = portfolio_requirement(_context(venue_parts, True), moves)
    assert np.count_nonzero(numpy_path.maintenance) > 1_000
    np.testing.assert_allclose(compiled.maintenance, numpy_path.maintenance, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(compiled.initial, numpy_path.initial, rtol=1e-12, atol=1e-9)
