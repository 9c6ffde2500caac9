"""Independent reference implementations used by the tests and by ``benchmarks/bench_metrics.py``."""
