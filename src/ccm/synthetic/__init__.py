"""Synthetic venues: realistic crypto derivatives books and markets for tests, examples and benchmarks.

``generate_venue(n_accounts, rng=...)`` lists BTC/ETH/SOL perpetuals, dated futures, options and spot
pairs in Deribit style and fills accounts by archetype (option market makers, directional traders,
basis traders, option buyers and sellers, borrowers, idle accounts) with heavy-tailed sizes. Numpy only,
no file I/O, vectorised: a million accounts take seconds.
"""

from ccm.synthetic.accounts import ARCHETYPES, LENDING_THRESHOLDS
from ccm.synthetic.universe import ASSETS, UNDERLYINGS, UnderlyingSpec
from ccm.synthetic.venue import DEFAULT_AS_OF, SyntheticVenue, account_ids, generate_venue

__all__ = ["ARCHETYPES", "ASSETS", "DEFAULT_AS_OF", "LENDING_THRESHOLDS", "UNDERLYINGS", "SyntheticVenue",
           "UnderlyingSpec", "account_ids", "generate_venue"]
