"""How fast the cockpit plays, in a real browser: simulated days per wall-clock second with every
chart live, at 8,000 and 100,000 residents.

Serves viz/app.py with `solara run` on 127.0.0.1, opens it in Debian's Chromium (every request leaving
the machine is blocked, as in the page test), picks a speed, presses Play and reads, over a measuring
window after a warm-up, the day the page shows and how often each chart was redrawn in the browser:
ECharts' "rendered" events, counted by viz/echart.vue on each chart's element (data-rendered), beside
the full options it drew (data-drawn) and the updates of its data alone it applied (data-updated).

    python -m benchmarks.view                  # both sizes, speeds 20 days/s and "as fast as possible"
    python -m benchmarks.view --sizes 8000 --seconds 5

Targets (issue 14): >= 10 days/s at 8,000 residents, >= 2 days/s at 100,000, with every chart
redrawn >= 5 times a second ("redraws/s" is the least of the five time-series charts and the map).
The machine's load (1-minute average) is recorded with each row: the figures fall with it.
Prints a table and writes benchmarks/results/view-<time>.json (with the package versions).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "viz" / "app.py"
RESULTS = Path(__file__).resolve().parent / "results"
CHROMIUM = "/usr/bin/chromium"
TARGETS = {8000: 10.0, 100000: 2.0}
TARGET_REDRAWS = 5.0   # per chart and second, while playing
END_MARGIN = 30        # days before the run's end at which a measuring window stops
WARMUP_DAYS = 40       # a warm-up ends after this many days if sooner than --warmup seconds
LOCAL = {"127.0.0.1", "localhost", "[::1]", "::1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scenario_file(residents: int, folder: Path) -> Path:
    """A scenario extending the baseline, sized as the page's size picker would size it."""
    sys.path.insert(0, str(ROOT))
    from sim.scenario import load_scenario
    from viz.vizmodel import sized
    overrides = sized(load_scenario("baseline.yaml"), residents)
    data: dict = {"extends": "baseline.yaml", "name": f"baseline_{residents}"}
    for path, value in overrides.items():
        node = data
        *parents, leaf = path.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    out = folder / f"baseline_{residents}.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def serve(scenario: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = dict(os.environ, GOVSIM_SCENARIO=str(scenario), PYTHONPATH=str(ROOT),
               SOLARA_TELEMETRY_MIXPANEL_ENABLE="False")
    solara = Path(sys.executable).with_name("solara")
    proc = subprocess.Popen([str(solara), "run", str(APP), "--host", "127.0.0.1", "--port", str(port), "--production"],
                            env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for _ in range(240):
        try:
            if opener.open(url, timeout=2).status == 200:
                return proc, url
        except OSError:
            time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGTERM)
    raise RuntimeError(f"the solara server did not start; see {log}")


def day_of(page) -> int:
    return int(re.search(r"\d+", page.locator(".govsim-day").first.inner_text()).group())


def planned_days(page) -> int:
    return int(re.search(r"\d+", page.locator(".govsim-of-days").first.inner_text()).group())


COUNTERS = ("() => Array.from(document.querySelectorAll('.govsim-echart')).map((el) => ({"
            "chart: (Array.from(el.closest('.govsim-chart').classList).find((c) => c.startsWith('govsim-chart-'))"
            " || 'govsim-map').replace('govsim-chart-', '').replace('govsim-', ''), "
            "drawn: +el.dataset.drawn || 0, updated: +el.dataset.updated || 0, rendered: +el.dataset.rendered || 0}))")


def sample(page) -> tuple[float, int, list[dict]]:
    """(time, day shown, each chart's counters from viz/echart.vue in page order)."""
    return time.monotonic(), day_of(page), page.evaluate(COUNTERS)


def choose_speed(page, label: str) -> None:
    page.locator(".govsim-speed").click()
    page.locator(".v-menu__content .v-list-item").filter(has_text=label).first.click()


def measure(url: str, speed_label: str, warmup: float, seconds: float) -> dict:
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless"])
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        blocked = []

        def route(r):
            host = r.request.url.split("/")[2].rsplit(":", 1)[0]
            if host in LOCAL:
                r.continue_()
            else:
                blocked.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.goto(url)
        page.locator(".govsim-day").first.wait_for(timeout=180_000)
        page.wait_for_function("() => document.querySelectorAll('.govsim-echart[data-ready]').length >= 5",
                               timeout=120_000)
        page.locator(".govsim-lang-en").click()
        choose_speed(page, speed_label)
        page.locator(".govsim-play").click()
        last = planned_days(page)
        started = time.monotonic()   # warm-up: `warmup` seconds, or WARMUP_DAYS days if sooner
        while time.monotonic() - started < warmup and day_of(page) < WARMUP_DAYS:
            time.sleep(0.1)
        # the window ends after `seconds`, or at the last sample more than END_MARGIN days before the
        # run's last day: the player then stops and redraws the whole page (full options, possibly
        # before the day shown changes), and a window running on would count a still picture
        t0, d0, c0 = first = sample(page)
        end = first
        while time.monotonic() - t0 < seconds:
            time.sleep(0.25)
            now = sample(page)
            if now[1] >= last - END_MARGIN:
                break
            end = now
        t1, d1, c1 = end
        load = os.getloadavg()[0]
        if page.locator(".govsim-play .mdi-pause").count():
            page.locator(".govsim-play").click()
        browser.close()
    span = t1 - t0 if t1 - t0 >= 0.5 else float("nan")   # the run ended during the warm-up: no figures
    per_s = {k: {b["chart"]: (b[k] - a[k]) / span for a, b in zip(c0, c1)} for k in ("rendered", "drawn", "updated")}
    return {"days_per_s": (d1 - d0) / span, "redraws_per_s": min(per_s["rendered"].values()),
            "redraws_per_s_mean": sum(per_s["rendered"].values()) / len(c1), "per_chart_per_s": per_s,
            "charts": len(c1), "day_at_start": d0, "day_at_end": d1, "window_s": t1 - t0, "load_1min": load,
            "blocked_requests": len(blocked)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[8000, 100000])
    ap.add_argument("--speeds", nargs="+", default=["20 days/s", "as fast as possible"])
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--seconds", type=float, default=8.0)
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            scen = scenario_file(size, Path(tmp))
            proc, url = serve(scen, Path(tmp) / f"server-{size}.log")
            try:
                for speed in args.speeds:
                    r = measure(url, speed, args.warmup, args.seconds)
                    r.update(residents=size, speed=speed, target_days_per_s=TARGETS.get(size))
                    rows.append(r)
                    print(f"  {size:>7,} residents  {speed:<19} {r['days_per_s']:6.1f} days/s "
                          f"{r['redraws_per_s']:5.1f} redraws/s  (load {r['load_1min']:.1f})", flush=True)
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
    print()
    print(f"{'residents':>10}  {'speed':<19} {'days':>9} {'window':>6} {'days/s':>7} {'target':>6} {'redraws/s':>9} "
          f"{'(mean)':>6} {'full':>5} {'load':>5}  ok")
    for r in rows:
        target = r["target_days_per_s"]
        ok = "yes" if (target is None or r["days_per_s"] >= target) and r["redraws_per_s"] >= TARGET_REDRAWS else "NO"
        full = sum(r["per_chart_per_s"]["drawn"].values()) * r["window_s"]   # full options drawn, all charts
        print(f"{r['residents']:>10,}  {r['speed']:<19} {r['day_at_start']:>4}-{r['day_at_end']:<4} {r['window_s']:>5.1f}s "
              f"{r['days_per_s']:>7.1f} {target or '-':>6} {r['redraws_per_s']:>9.1f} {r['redraws_per_s_mean']:>6.1f} "
              f"{full:>5.0f} {r['load_1min']:>5.1f}  {ok}")
    print("redraws/s: ECharts pictures per second of the least redrawn chart (mean over the charts beside it);"
          "\nfull: full options drawn in the window, all charts (the other drawings were of new data only);"
          f"\nwindow: cut short {END_MARGIN} days before the run's last day")
    from sim.runner import package_versions
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"view-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"benchmark": "view", "rows": rows, "versions": package_versions(),
                               "cpu_count": os.cpu_count(), "load_average": os.getloadavg(),
                               "warmup_s": args.warmup, "seconds": args.seconds,
                               "target_redraws_per_s": TARGET_REDRAWS},
                              indent=2))
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the figures fall with it)")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
