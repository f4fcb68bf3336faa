"""The benchmark suite's report reads the records its measurements write (a full `make bench` is not
run in CI: it takes minutes; this catches a key one side renamed, as happened to the memory check)."""

from __future__ import annotations

from benchmarks.common import machine
from benchmarks.size_run import measure
from benchmarks.suite import extra_lines, table_rows, targets


def test_the_report_reads_what_a_size_run_records():
    rec = measure(1_000, 5, 1)
    res = {"sizes": [rec], "machine": machine(), "load_average_at_end": None,
           "memory_growth": {"residents": 1_000, "short": rec, "long": rec, "growth_mib": 0.0, "growth_ratio": 1.0}}
    res["targets"] = targets(res)
    lines = extra_lines(res)
    assert any(line.startswith("Memory vs finished cases") for line in lines)
    size_rows, target_rows = table_rows(res)
    assert len(size_rows) == 2 and len(target_rows) > 1
