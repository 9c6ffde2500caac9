"""Pure, vectorised pricing functions (no I/O, no state)."""
