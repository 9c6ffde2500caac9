"""Risk layer: haircuts, margin models, coverage metrics and distance to liquidation."""
