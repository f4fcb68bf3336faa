"""govsim benchmark suite (issue 5): sizes, the plain Mesa reference, sweep throughput, memory.

    python -m benchmarks                      # 1k, 10k, 100k, 1M residents × 365 days; 20 sweep runs
    python -m benchmarks --quick              # 1k, 10k, 100k; 8 sweep runs; no 3-year memory check
    python -m benchmarks --sizes 1000 100000 --out results.json
    python -m benchmarks --compare 13b1196    # also time the model before issue 5's work (same outputs)

Each community size runs in a fresh subprocess (:mod:`benchmarks.size_run`), so its peak RSS is its
own. The machine's load average is recorded at start and end: on a shared 2-core machine other
processes' load shows directly in wall-clock times and in the 2-worker scaling, so the sweep also
measures a pure-Python task the same way (the scaling the machine itself allows at that moment). Results go to ``benchmarks/results/bench-<time>.json`` (or ``--out``); a full run also writes
the table to ``benchmarks/RESULTS.md`` (``--md`` to choose the file, ``--md ''`` for none).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from benchmarks.common import ROOT, describe, load_average, machine

HERE = Path(__file__).resolve().parent
FULL_SIZES = (1_000, 10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000, 100_000)
DAYS = 365
MESA_RESIDENTS, MESA_DAYS, MESA_REPS = 10_000, 10, 3

# Issue 5 targets
T_RATE_100K = 20e6          # resident-days per second at 100,000 residents
T_MESA_RATIO = 50.0         # times the plain Mesa reference
T_BUILD_1M, T_RUN_1M, T_RSS_1M = 20.0, 60.0, 4 * 1024   # s, s, MiB
T_RUN_5K = 0.3              # s, end to end in a warm worker
T_SCALING = 1.8             # runs/min with 2 workers over 1


def reps_for(residents: int) -> int:
    return 7 if residents <= 10_000 else 3 if residents <= 100_000 else 1


def run_size(residents: int, days: int = DAYS, reps: int | None = None) -> dict:
    """Time one size in a fresh interpreter; returns its JSON record."""
    return _child("benchmarks.size_run", "--residents", str(residents), "--days", str(days),
                  "--reps", str(reps or reps_for(residents)))


def _child(module: str, *args: str) -> dict:
    cmd = [sys.executable, "-m", module, *args]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fmt_s(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def targets(res: dict) -> list[dict]:
    """Each issue-5 target with its measured value and PASS/FAIL (None: not measured in this run)."""
    by_n = {s["residents"]: s for s in res["sizes"]}
    out = []

    def add(name, value, target, ok, unit=""):
        out.append({"target": name, "value": value, "goal": target, "unit": unit,
                    "pass": None if value is None else bool(ok)})

    s100 = by_n.get(100_000)
    rate = s100["resident_days_per_s"] if s100 else None
    add("resident-days/s at 100,000 residents", rate, f"≥ {T_RATE_100K / 1e6:.0f} M", rate is not None and rate >= T_RATE_100K)
    paired = res.get("mesa_reference", {}).get("paired")
    ratio = paired["ratio"] if paired else None
    add("speed-up over plain Mesa (100k resident-days/s ÷ Mesa agent-steps/s, measured in pairs)", ratio,
        f"≥ {T_MESA_RATIO:.0f}×", ratio is not None and ratio >= T_MESA_RATIO)
    s1m = by_n.get(1_000_000)
    add("1,000,000 residents: build", s1m and s1m["build_s"], f"< {T_BUILD_1M:.0f} s", s1m and s1m["build_s"] < T_BUILD_1M, "s")
    add("1,000,000 residents: run 365 days", s1m and s1m["run_s"], f"< {T_RUN_1M:.0f} s", s1m and s1m["run_s"] < T_RUN_1M, "s")
    add("1,000,000 residents: peak RSS", s1m and s1m["peak_rss_mib"], "< 4 GiB", s1m and s1m["peak_rss_mib"] < T_RSS_1M, "MiB")
    sw = res.get("sweep", {}).get("by_workers", {})
    one = sw.get("1")
    add("5,000 residents × 365 days, end to end in a warm worker (median)", one and one["run_s_median"],
        f"< {T_RUN_5K} s", one and one["run_s_median"] < T_RUN_5K, "s")
    scal = res.get("sweep", {}).get("scaling_2_vs_1")
    add("runs/min with 2 workers ÷ 1 worker", scal, f"≥ {T_SCALING}", scal is not None and scal >= T_SCALING, "×")
    mg = res.get("memory_growth")
    if mg:
        add("peak RSS, 100k residents: 1,095 days over 365 days", mg["growth_mib"], "no growth (< 5%)",
            mg["growth_ratio"] < 1.05, "ΔMiB")
        out[-1]["ratio"] = mg["growth_ratio"]
    return out


def table_rows(res: dict) -> tuple[list[list[str]], list[list[str]]]:
    sizes = [["Residents", "Structure", "Build s", "Run s (365 d)", "Best s", "CPU s", "Resident-days/s",
              "Cases closed/s", "Peak RSS MiB"]]
    for s in res["sizes"]:
        sizes.append([f"{s['residents']:,}", s["structure"], _fmt_s(s["build_s"]), _fmt_s(s["run_s"]),
                      _fmt_s(s["run_s_best"]), _fmt_s(s["run_cpu_s"]), f"{s['resident_days_per_s'] / 1e6:.1f} M",
                      f"{s['cases_per_s']:,.0f}", f"{s['peak_rss_mib']:,.0f}"])
    tg = [["Target", "Goal", "Measured", "Result"]]
    for t in res["targets"]:
        v = t["value"]
        if v is None:
            shown, verdict = "not measured", "—"
        else:
            if t["unit"] == "MiB":
                shown = f"{v:,.0f} MiB"
            elif t["unit"] == "ΔMiB":
                shown = f"{v:+,.0f} MiB ({t['ratio'] - 1:+.1%})"
            elif t["unit"] == "×":
                shown = f"{v:.2f}×"
            elif t["unit"] == "s":
                shown = f"{v:.3f} s"
            elif "speed-up" in t["target"]:
                shown = f"{v:.0f}×"
            else:
                shown = f"{v / 1e6:.1f} M"
            verdict = "PASS" if t["pass"] else "FAIL"
        tg.append([t["target"], t["goal"], shown, verdict])
    return sizes, tg


def extra_lines(res: dict) -> list[str]:
    lines = []
    mr = res.get("mesa_reference")
    if mr:
        lines.append(f"Plain Mesa reference (per-agent step() via AgentSet.shuffle_do, {mr['residents']:,} residents × "
                     f"{mr['days']} days): {mr['agent_steps_per_s'] / 1e6:.2f} M agent-steps/s "
                     f"({mr['step_us']:.2f} µs per agent-step; median of {mr['reps']})."
                     + (f" Measured in {mr['paired']['pairs']} pairs at the same moment (a govsim year at 100,000 "
                        f"residents, then the reference), govsim is {mr['paired']['ratio']:.0f}× faster (median; pairs: "
                        f"{', '.join(f'{x:.0f}×' for x in mr['paired']['ratios'])})" if mr.get("paired") else "")
                     + f"; from the size table's medians: {mr.get('speedup_100k', float('nan')):.0f}× at 100,000 "
                       f"residents and {mr.get('speedup_10k', float('nan')):.0f}× at 10,000.")
    if "mesa_step_overhead_us" in res:
        g = res.get("govsim_run_for", {})
        lines.append(f"Mesa run_for event machinery: {res['mesa_step_overhead_us']:.1f} µs per step of an empty model; "
                     f"on a 5,000-resident GovernanceModel with its step emptied, {g.get('overhead_us_per_step', float('nan')):.1f} µs "
                     f"per step, {100 * g.get('share', float('nan')):.1f}% of a real day ({g.get('day_us', float('nan')):.0f} µs).")
    sw = res.get("sweep")
    if sw:
        parts = [f"{w} worker{'s' if w != '1' else ''}: {d['runs_per_min']:.0f} runs/min "
                 f"(median run {d['run_s_median']:.3f} s, CPU {d['run_cpu_s_median']:.3f} s)"
                 for w, d in sw["by_workers"].items()]
        lines.append(f"Sweep ({sw['structure']}, {sw['days']} days, {sw['runs']} runs, "
                     f"{next(iter(sw['by_workers'].values()))['start_method']} workers, warmed): " + "; ".join(parts)
                     + (f"; scaling {sw['scaling_2_vs_1']:.2f}×" if "scaling_2_vs_1" in sw else "")
                     + (f" (a pure-Python CPU-bound task of similar length, measured the same way at the same moment, "
                        f"scales {sw['machine_scaling_2_vs_1']:.2f}×: the ceiling the machine gave a second worker)."
                        if "machine_scaling_2_vs_1" in sw else "."))
    mg = res.get("memory_growth")
    if mg:
        a, b = mg["short"], mg["long"]
        lines.append(f"Memory vs finished cases (100,000 residents): {a['days']:,} days → peak RSS {a['peak_rss_mib']:,.0f} MiB "
                     f"({a['cases_closed']:,} cases closed, {a['end_state']['open_at_end']:,} open at the end, "
                     f"{a['end_state']['causes']:,} shared causes); {b['days']:,} days → {b['peak_rss_mib']:,.0f} MiB "
                     f"({b['cases_closed']:,} closed, {b['end_state']['open_at_end']:,} open, "
                     f"{b['end_state']['causes']:,} causes).")
    ba = res.get("before_after")
    if ba:
        parts = [f"{r['residents']:,}: {r['before_cpu_s']:.3f} → {r['after_cpu_s']:.3f} s ({r['speedup']:.2f}×"
                 f"{', outputs identical' if r['identical_outputs'] else ', OUTPUTS DIFFER'})" for r in ba["rows"]]
        lines.append(f"Against the model at {ba['ref']} (run_one end to end, CPU s, best of runs interleaved in one "
                     f"process): " + "; ".join(parts) + ".")
    if res["sizes"]:
        lines.append(f"Peak RSS includes about {res['sizes'][0]['rss_after_import_mib']:.0f} MiB of Python, numpy, scipy, "
                     f"pandas and Mesa after imports.")
    m = res["machine"]
    lines.append(f"Machine: {m.get('cpu', '?')}, {m.get('cpu_count')} CPUs, Python {m['python']}, numpy {m['numpy']}, "
                 f"mesa {m['mesa']}; load average {m.get('load_average_at_start')} at start, "
                 f"{res.get('load_average_at_end')} at end; {m['date']}.")
    return lines


def print_tables(res: dict) -> None:
    sizes, tg = table_rows(res)
    try:
        from rich.console import Console
        from rich.table import Table
        con = Console(width=max(Console().width, 150))
        for title, rows in (("govsim baseline, 365 days", sizes), ("Issue 5 targets", tg)):
            t = Table(title=title)
            for h in rows[0]:
                t.add_column(h, justify="left" if h in ("Structure", "Target", "Goal") else "right")
            for r in rows[1:]:
                style = {"PASS": "green", "FAIL": "bold red"}.get(r[-1]) if rows is tg else None
                t.add_row(*r, style=style)
            con.print(t)
        for line in extra_lines(res):
            con.print(line, highlight=False)
    except ImportError:  # pragma: no cover
        for rows in (sizes, tg):
            for r in rows:
                print(" | ".join(r))
            print()
        print("\n".join(extra_lines(res)))


def markdown(res: dict, command: str) -> str:
    sizes, tg = table_rows(res)

    def md(rows):
        head = "| " + " | ".join(rows[0]) + " |"
        sep = "|" + "|".join("---" if h in ("Structure", "Target", "Goal") else "---:" for h in rows[0]) + "|"
        return "\n".join([head, sep] + ["| " + " | ".join(r) + " |" for r in rows[1:]])

    return "\n".join([
        "# Benchmark results", "",
        f"Reproduce with `{command}` (or `make bench`); JSON: `{res.get('json_file', '')}`.", "",
        "Baseline scenario (`scenarios/baseline.yaml`) scaled to each size with 1,000-resident grids; 365 days; "
        "times are wall-clock medians (best and CPU time beside), each size in its own process.", "",
        md(sizes), "", md(tg), "", *[f"- {line}" for line in extra_lines(res)], ""])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="govsim benchmark suite (issue 5)")
    ap.add_argument("--sizes", type=int, nargs="+", help="residents (multiples of 1,000)")
    ap.add_argument("--quick", action="store_true", help="1k/10k/100k, 8 sweep runs, no 3-year memory check")
    ap.add_argument("--sweep-runs", type=int, help="runs per worker count in the sweep measurement")
    ap.add_argument("--no-sweep", action="store_true")
    ap.add_argument("--no-memory", action="store_true", help="skip the 365- vs 1,095-day memory check")
    ap.add_argument("--compare", metavar="GIT_REF", help="also time the model at this commit against the working "
                    "tree (benchmarks.before_after), e.g. 13b1196, the model before issue 5's work")
    ap.add_argument("--out", type=Path, help="JSON file (default benchmarks/results/bench-<time>.json)")
    ap.add_argument("--md", type=str, help="markdown table file (default benchmarks/RESULTS.md on a full run)")
    a = ap.parse_args(argv)
    sizes = a.sizes or (QUICK_SIZES if a.quick else FULL_SIZES)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = a.out or HERE / "results" / f"bench-{stamp}{'-quick' if a.quick else ''}.json"
    command = "python -m benchmarks" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()

    res: dict = {"machine": machine(), "command": command, "days": DAYS, "sizes": []}
    t_start = time.perf_counter()
    print(f"Mesa reference: {MESA_RESIDENTS:,} residents × {MESA_DAYS} days × {MESA_REPS} …", flush=True)
    against = 100_000 if 100_000 in sizes else 0
    res["mesa_reference"] = _child("benchmarks.mesa_reference", "--residents", str(MESA_RESIDENTS),
                                   "--days", str(MESA_DAYS), "--reps", str(MESA_REPS), "--against", str(against))
    res["mesa_step_overhead_us"] = res["mesa_reference"].pop("mesa_step_overhead_us")
    res["govsim_run_for"] = res["mesa_reference"].pop("govsim_run_for")
    for n in sizes:
        print(f"{n:,} residents ({describe(n)}) × {DAYS} days …", flush=True)
        res["sizes"].append(run_size(n))
    by_n = {s["residents"]: s for s in res["sizes"]}
    mr = res["mesa_reference"]
    for n, key in ((100_000, "speedup_100k"), (10_000, "speedup_10k")):
        if n in by_n:   # medians against medians; best against best beside
            mr[key] = by_n[n]["resident_days_per_s"] / mr["agent_steps_per_s"]
            mr[key + "_best"] = (n * DAYS / by_n[n]["run_s_best"]) / mr["agent_steps_per_s_best"]
    if not a.no_sweep:
        from benchmarks import sweep
        runs = a.sweep_runs or (8 if a.quick else 20)
        print(f"Sweep: {runs} runs of 5,000 residents × {DAYS} days with 1 and 2 workers …", flush=True)
        res["sweep"] = sweep.measure(runs)
    if not (a.no_memory or a.quick):
        print("Memory: 100,000 residents, 365 vs 1,095 days …", flush=True)
        short = run_size(100_000, DAYS, 1)
        long = run_size(100_000, 3 * DAYS, 1)
        res["memory_growth"] = {"residents": 100_000, "short": short, "long": long,
                                "growth_mib": long["peak_rss_mib"] - short["peak_rss_mib"],
                                "growth_ratio": long["peak_rss_mib"] / short["peak_rss_mib"]}
    if a.compare:
        print(f"Before/after: the model at {a.compare} against the working tree …", flush=True)
        cmp_file = out.with_name(out.stem + "-before-after.json")
        subprocess.run([sys.executable, "-m", "benchmarks.before_after", "--ref", a.compare, "--out", str(cmp_file)],
                       cwd=ROOT, check=False)
        if cmp_file.exists():
            res["before_after"] = json.loads(cmp_file.read_text())
    res["load_average_at_end"] = load_average()
    res["total_s"] = time.perf_counter() - t_start
    res["targets"] = targets(res)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        res["json_file"] = str(out.resolve().relative_to(ROOT))
    except ValueError:
        res["json_file"] = str(out)
    out.write_text(json.dumps(res, indent=1) + "\n")
    print_tables(res)
    md_file = a.md if a.md is not None else ("" if (a.quick or a.sizes) else str(HERE / "RESULTS.md"))
    if md_file:
        Path(md_file).write_text(markdown(res, command))
        print(f"table written to {md_file}")
    print(f"results written to {out} ({res['total_s']:.0f} s)")
    return 0
