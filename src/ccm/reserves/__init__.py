"""Reserves (numpy only, no I/O): backing ratios of an issuer's reserves against its liabilities, now and under
scenarios, Synthetix-style staker c-ratios, and proof of liabilities with a Merkle sum tree."""
