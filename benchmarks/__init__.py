"""govsim benchmark suite (issue 5): ``python -m benchmarks`` or ``make bench``.

Modules:

- :mod:`benchmarks.suite` runs everything, prints the table, writes JSON (and ``RESULTS.md``);
- :mod:`benchmarks.size_run` times one community size in its own process (so peak RSS is per size);
- :mod:`benchmarks.mesa_reference` is the plain Mesa model: the same daily resident update written
  as a per-agent ``step()`` called through ``AgentSet.shuffle_do``;
- :mod:`benchmarks.sweep` measures runs per minute with 1 and 2 warm worker processes;
"""
