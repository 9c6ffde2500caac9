"""Scale-out on Dask (a shell, DESIGN.md §3): ``ccm metrics`` and ``ccm stress`` over shards of accounts
(and chunks of scenarios) on a cluster, reduced to the same results as the single-process commands.

- :mod:`ccm.dist.cluster`: connect to ``tcp://HOST:PORT`` or start a local cluster; run tasks with retries.
- :mod:`ccm.dist.shards`: contiguous account shards and scenario chunks.
- :mod:`ccm.dist.metrics`: coverage metrics per shard, concatenated, then ``system_metrics``.
- :mod:`ccm.dist.stress`: ``run_stress`` per shard × chunk, merged into one ``StressResult``.
"""
