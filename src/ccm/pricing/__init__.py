"""Pure, vectorised pricing functions (no I/O, no state), and the resolution of a market snapshot onto a book's
instruments that feeds them (:mod:`ccm.pricing.market_state`)."""
