"""How fast the cockpit plays, in a real browser: simulated days per wall-clock second with every
chart live, at 8,000 and 100,000 residents.

Serves viz/app.py with `solara run` on 127.0.0.1, opens it in Debian's Chromium (every request leaving
the machine is blocked, as in the page test), picks a speed, presses Play and reads the day the page
shows, and how many times the charts were drawn, over a measuring window after a warm-up.

    python -m benchmarks.view                  # both sizes, speeds 10 days/s and "as fast as drawn"
    python -m benchmarks.view --sizes 8000 --seconds 5

Targets (issue 14): >= 10 days/s at 8,000 residents, >= 2 days/s at 100,000.
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


def drawings(page) -> int:
    return page.evaluate("() => Array.from(document.querySelectorAll('.govsim-echart'))"
                         ".reduce((n, el) => n + (+el.dataset.drawn || 0), 0)")


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
        time.sleep(warmup)
        d0, n0, t0 = day_of(page), drawings(page), time.monotonic()
        time.sleep(seconds)
        d1, n1, t1 = day_of(page), drawings(page), time.monotonic()
        page.locator(".govsim-play").click()
        charts = page.evaluate("() => document.querySelectorAll('.govsim-echart').length")
        browser.close()
    return {"days_per_s": (d1 - d0) / (t1 - t0), "drawings_per_s": (n1 - n0) / (t1 - t0) / max(charts, 1),
            "charts": charts, "day_at_end": d1, "blocked_requests": len(blocked)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[8000, 100000])
    ap.add_argument("--speeds", nargs="+", default=["10 days/s", "20 days/s"])
    ap.add_argument("--warmup", type=float, default=3.0)
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
                    print(f"  {size:>7,} residents  {speed:<17} {r['days_per_s']:6.1f} days/s", flush=True)
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
    print()
    print(f"{'residents':>10}  {'speed':<17} {'days/s':>7} {'target':>6} {'draws/s':>8}  ok")
    for r in rows:
        target = r["target_days_per_s"]
        ok = "yes" if target is None or r["days_per_s"] >= target else "NO"
        print(f"{r['residents']:>10,}  {r['speed']:<17} {r['days_per_s']:>7.1f} {target or '-':>6} "
              f"{r['drawings_per_s']:>8.1f}  {ok}")
    from sim.runner import package_versions
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"view-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"benchmark": "view", "rows": rows, "versions": package_versions(),
                               "cpu_count": os.cpu_count(), "load_average": os.getloadavg(),
                               "warmup_s": args.warmup, "seconds": args.seconds},
                              indent=2))
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the figures fall with it)")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
