"""ccm — Collateral Coverage Metrics.

A vectorised risk engine that measures, for every account of a crypto derivatives venue, how well
posted collateral covers the exposure: haircut collateral against initial and maintenance margin,
coverage ratio, status and distance to liquidation (see README and DESIGN.md §2).
"""

__version__ = "0.1.0"
