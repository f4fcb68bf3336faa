"""Browser-test harness for Solara / Mesa SolaraViz pages.

Reusable fixtures
-----------------
``solara_server``   factory: ``base_url = solara_server(app_path)`` starts
                    ``<venv>/bin/solara run APP --host 127.0.0.1 --port FREE --production``
                    in a subprocess, waits until it answers HTTP and returns its base url.
                    Every server started is killed at teardown; its log is printed
                    (pytest shows it for failing tests).
``chromium``        session-scoped Playwright ``Browser`` (Debian's /usr/bin/chromium,
                    headless; ``playwright install`` cannot download browsers here).
``browser_page``    a fresh Playwright ``Page`` per test.  Every request to a host other
                    than localhost/127.0.0.1 is aborted (so a passing test proves the page
                    is served offline), and console errors, uncaught page errors, failed
                    and blocked requests are recorded in ``browser_log``.
``browser_log``     the ``BrowserLog`` of that page; ``browser_log.assert_clean()``.

Marker
------
``@pytest.mark.browser``: tests that drive a real browser.  Skipped (with the reason)
when /usr/bin/chromium is absent, *unless* the environment variable ``CI`` is set: under
CI a missing browser is an install bug and the test fails.  Install it with
``.ci/install-system-deps``; the page's JS/CSS comes from Solara's CDN cache, filled by
``.venv/bin/python tools/install_solara_assets.py``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root in containers; the sandbox refuses to start as root
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
SERVER_START_TIMEOUT = 120.0  # s; a cold start imports mesa, matplotlib, solara (~5-15 s)


def _in_ci() -> bool:
    """True when the CI variable is set (CI=true in our runner; "0"/"false" count as unset)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _missing_browser_reason() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found (install it with .ci/install-system-deps)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as e:
        return f"the playwright python package is not importable ({e})"
    return None


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "browser: drives a real headless Chromium (/usr/bin/chromium) against a live "
        "Solara server; skipped if chromium is absent, unless CI is set (then it fails)",
    )


def pytest_collection_modifyitems(config, items):
    reason = _missing_browser_reason()
    if reason is None or _in_ci():
        return  # under CI the `chromium` fixture fails loudly instead
    skip = pytest.mark.skip(reason=f"browser test skipped: {reason} and CI is not set")
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(skip)


# --------------------------------------------------------------------------------------
# Solara server
# --------------------------------------------------------------------------------------
def _solara_executable() -> str:
    """`solara` next to the running interpreter (the venv's), else on PATH."""
    candidate = Path(sys.executable).with_name("solara")
    if candidate.exists():
        return str(candidate)
    import shutil

    found = shutil.which("solara")
    if not found:
        pytest.fail("the `solara` executable was found neither next to python nor on PATH")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# urllib honours http_proxy/https_proxy from the environment; localhost must not go
# through a proxy, so use an opener without any.
_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _http_ok(url: str) -> bool:
    try:
        with _NO_PROXY_OPENER.open(url, timeout=5) as resp:
            return resp.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


@dataclass
class _Server:
    app_path: Path
    port: int
    proc: subprocess.Popen
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, n: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        # the server was started in its own session, so its process group id is its pid:
        # this signals exactly the server and any children it spawned, nothing else
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)


@pytest.fixture
def solara_server(tmp_path_factory):
    """Factory: ``base_url = solara_server(app_path, extra_env=None)``.

    Starts ``solara run APP --host 127.0.0.1 --port <free> --production`` and returns
    once ``GET /`` answers 200.  Retries on another port if the chosen one was taken.
    All servers started by the test are killed at teardown.
    """
    servers: list[_Server] = []

    def start(app_path, extra_env: dict[str, str] | None = None, timeout: float = SERVER_START_TIMEOUT) -> str:
        app_path = Path(app_path).resolve()
        if not app_path.exists():
            pytest.fail(f"solara app not found: {app_path}")
        env = dict(os.environ)
        env.update(
            {
                # no outbound telemetry calls from the server (no internet here anyway)
                "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
                "PYTHONUNBUFFERED": "1",
                "MPLBACKEND": "Agg",
            }
        )
        # the checkout under test, not whatever `viz` an editable install elsewhere points to
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(__file__).resolve().parents[2]),
                                                        env.get("PYTHONPATH", "")) if p)
        env.update(extra_env or {})
        logdir = tmp_path_factory.mktemp("solara-server")
        last_error = ""
        for attempt in range(3):
            port = _free_port()
            log_path = logdir / f"server-{port}.log"
            cmd = [_solara_executable(), "run", str(app_path), "--host", "127.0.0.1",
                   "--port", str(port), "--production"]
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(cmd, cwd=app_path.parent, env=env, stdout=log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
            server = _Server(app_path, port, proc, log_path)
            servers.append(server)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                if _http_ok(server.base_url + "/"):
                    print(f"[solara_server] {server.base_url} serving {app_path} (log: {log_path})")
                    return server.base_url
                time.sleep(0.25)
            last_error = (f"solara server for {app_path} on port {port} "
                          f"{'exited with ' + str(proc.returncode) if proc.poll() is not None else f'did not answer within {timeout:.0f}s'}"
                          f"\n--- server log ({log_path}) ---\n{server.log_tail()}")
            server.stop()
            port_taken = "address already in use" in server.log_tail().lower()
            if not port_taken:
                break
        pytest.fail(last_error)

    yield start

    for server in servers:
        server.stop()
        print(f"\n--- solara server log tail ({server.log_path}) ---\n{server.log_tail(40)}")


# --------------------------------------------------------------------------------------
# Browser
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def chromium():
    reason = _missing_browser_reason()
    if reason is not None:
        # only reached under CI (otherwise collection skipped the test) or by a test
        # that uses the fixture without the `browser` marker
        msg = f"cannot run browser tests: {reason}"
        if _in_ci():
            pytest.fail(msg + " (CI is set, so this is an error: run .ci/install-system-deps)")
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class BrowserLog:
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)
    console_all: list[str] = field(default_factory=list)

    def problems(self, ignore: list[str | re.Pattern] = ()) -> list[str]:
        """All errors, minus those matching one of ``ignore`` (regex search)."""
        pats = [re.compile(p) if isinstance(p, str) else p for p in ignore]
        items = ([f"console error: {e}" for e in self.console_errors]
                 + [f"uncaught page error: {e}" for e in self.page_errors]
                 + [f"failed request: {e}" for e in self.failed_requests]
                 + [f"blocked non-local request: {e}" for e in self.blocked_requests])
        return [i for i in items if not any(p.search(i) for p in pats)]

    def assert_clean(self, ignore: list[str | re.Pattern] = ()) -> None:
        problems = self.problems(ignore)
        assert not problems, "browser reported problems:\n  " + "\n  ".join(problems)


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


def _is_local(url: str) -> bool:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme in ("data", "blob", "about"):
        return True
    return parsed.hostname in LOCAL_HOSTS


@pytest.fixture
def browser_page(chromium, browser_log):
    """A new page (own context, 1400x1000) that can only reach localhost."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})

    def route(route_obj):
        url = route_obj.request.url
        if _is_local(url):
            route_obj.continue_()
        else:
            browser_log.blocked_requests.append(url)
            route_obj.abort("blockedbyclient")

    context.route("**/*", route)
    page = context.new_page()

    def on_console(msg):
        loc = msg.location or {}
        text = f"{msg.text} [{loc.get('url', '')}:{loc.get('lineNumber', '')}]"
        browser_log.console_all.append(f"{msg.type}: {text}")
        if msg.type == "error":
            browser_log.console_errors.append(text)

    def on_request_failed(request):
        if _is_local(request.url):  # blocked ones are already in blocked_requests
            browser_log.failed_requests.append(f"{request.url} ({request.failure})")

    def on_response(response):
        if response.status >= 400 and _is_local(response.url):
            browser_log.failed_requests.append(f"{response.url} (HTTP {response.status})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: browser_log.page_errors.append(str(exc)))
    page.on("requestfailed", on_request_failed)
    page.on("response", on_response)
    try:
        yield page
    finally:
        context.close()
        # printed output is shown by pytest for failing tests: explain a timeout
        problems = browser_log.problems()
        if problems:
            print("\n--- browser problems ---\n  " + "\n  ".join(problems))
            if any("/_solara/cdn/" in p for p in problems):
                print("hint: Solara's front-end files are missing from its CDN cache; run "
                      "`.venv/bin/python tools/install_solara_assets.py`")


# --------------------------------------------------------------------------------------
# Scenario files for the govsim page tests (tests/viz/test_app*.py)
# --------------------------------------------------------------------------------------
GOVSIM_TEST_SCENARIOS = {
    # 8 grids x 150 residents = 1,200: small enough for the network drawing
    "small.yaml": "extends: baseline.yaml\nname: small_test\npopulation: {residents_per_grid: 150}\n",
    # 5 communities x 4 grids x 600 = 12,000 residents: the grid map
    "large.yaml": ("extends: baseline.yaml\nname: large_test\n"
                   "population: {communities_per_subdistrict: 5, residents_per_grid: 600}\n"),
    # a typo'd key and an out-of-range value: the page must show the validation message
    "bad.yaml": "extends: baseline.yaml\npolicies: {share_joind: 0.5}\npopulation: {share_60plus: 1.5}\n",
}


@pytest.fixture(scope="session")
def govsim_scenarios(tmp_path_factory) -> dict[str, Path]:
    """Paths of small / large / bad scenario files (``extends`` the shipped baseline)."""
    folder = tmp_path_factory.mktemp("govsim-scenarios")
    paths = {}
    for name, text in GOVSIM_TEST_SCENARIOS.items():
        path = folder / name
        path.write_text(text)
        paths[name.removesuffix(".yaml")] = path
    return paths
