"""DeFi lending (numpy only, no I/O): protocol rules (Aave v3, Compound III, MakerDAO, Liquity v1), the one
parameter resolver (eMode, LT × LB ≤ 1, Recovery Mode), the health-factor kernel, lending metrics, one
liquidation step per protocol and the protocol's liquidation cascade over price paths.

It works on plain arrays and knows nothing of a RiskContext: the lending margin model
(:mod:`ccm.risk.margin.lending`) adapts it to a book.
"""
