#!/usr/bin/env python3
"""Fill Solara's CDN proxy cache from the npm registry so SolaraViz pages work offline.

Why: a Solara server does not ship its browser front-end.  The page it serves loads
JS/CSS from ``<root>/_solara/cdn/<npm-package>@<version>/<file>``; the server answers
those from a cache directory and, on a miss, downloads the file from
``https://cdn.jsdelivr.net/npm/...`` (``solara/server/cdn_helper.py``).  Our machines
and CI cannot reach that CDN, but they can reach the npm registry, which serves the
very same package tarballs.  This script ``npm pack``s them and unpacks each one into
the cache at the path the server looks up, so the server never needs the CDN.

Usage (from the repository root)::

    .venv/bin/python tools/install_solara_assets.py            # install what is needed
    .venv/bin/python tools/install_solara_assets.py --dry-run  # only show the plan
    .venv/bin/python tools/install_solara_assets.py --extra vega@5.30.0

Must be run with the interpreter of the environment that runs ``solara`` (the cache
location depends on it).  Stdlib only, plus the environment's own ``solara``.
Idempotent: a package whose directory carries our completion marker is skipped.

Cache layout (from ``cdn_helper.get_path``): a request for
``/_solara/cdn/@widgetti/solara-vuetify-app@10.1.1/dist/main8.css`` is served from
``<proxy_cache_dir>/@widgetti/solara-vuetify-app@10.1.1/dist/main8.css``.  An npm
tarball holds the package under one top-level folder (normally ``package/``), i.e. the
same tree that jsdelivr serves below ``<name>@<version>/``; so the tarball is unpacked
into ``<proxy_cache_dir>/<name>@<version>/`` with its top-level folder stripped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import NoReturn

MARKER = ".govsim-npm-pack-complete"

# `<name>@<exact version>/` as it appears in solara's templates and widget .vue files,
# e.g. "{{cdn}}/@widgetti/solara-vuetify-app@10.1.1/dist/..." or
# "${this.getCdn()}/requirejs@2.3.6/require.js".  Only exact versions (digits first):
# template placeholders such as `echarts@${version}` are not matched.
# Group 3 is the file inside the package (up to a quote, `?`, `#` or whitespace).
_PKG = r"((?:@[A-Za-z0-9._-]+/)?[A-Za-z0-9._-]+)@(\d+\.\d+\.\d+(?:-[A-Za-z0-9.]+)?)/([^\"'`?#\s]*)"
_CDN_REF_IN_PAGE = re.compile(r"__CDN__/+" + _PKG)
_CDN_REF_IN_VUE = re.compile(r"getCdn\(\)\}/+" + _PKG)

Refs = dict  # {(name, version): set of file paths inside the package}


def _add(found: Refs, name: str, version: str, file: str) -> None:
    found.setdefault((name, version), set())
    if file:
        found[(name, version)].add(file)


def log(msg: str) -> None:
    print(f"install_solara_assets: {msg}", flush=True)


def die(msg: str, code: int = 1) -> NoReturn:
    print(f"install_solara_assets: ERROR: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


# --------------------------------------------------------------------------------------
# Where is the cache?
# --------------------------------------------------------------------------------------
def cache_dir() -> Path:
    """The directory solara's server reads CDN files from, for *this* interpreter.

    We ask solara itself rather than recomputing it: ``solara.server.settings.assets``
    is a pydantic-like settings object whose ``proxy_cache_dir`` defaults to
    ``<prefix>/share/solara/cdn/`` (``prefix`` = ``sys.prefix``, i.e. the venv, or the
    user base for a ``pip --user`` install) and can be overridden by the environment
    variable ``SOLARA_ASSETS_PROXY_CACHE_DIR`` or a ``.env`` file in the working
    directory, exactly as it will be for ``solara run`` started with the same env/cwd.
    """
    import solara.server.settings as server_settings

    return Path(server_settings.assets.proxy_cache_dir).resolve()


# --------------------------------------------------------------------------------------
# Which packages does the page need?
# --------------------------------------------------------------------------------------
def _page_refs() -> Refs:
    """Render solara's own page template the way the server does and collect the
    ``<pkg>@<version>`` that it loads through the cdn proxy.

    Mirrors ``solara.server.server.render_index``: the same template
    (``index.html.j2``, extending ``solara.html.j2``), the same ``vue3`` switch
    (ipyvue 3 -> ``@widgetti/solara-vuetify3-app``, else ``solara-vuetify-app``),
    the same ``assets`` settings (font-awesome path) and ``ipywidget_major_version``.
    Rendered both in production and dev mode (``.min.js`` vs ``.js``), which differ
    only in files inside the same package.
    """
    import ipyvue
    import ipywidgets
    import jinja2

    import solara
    import solara.server.settings as server_settings

    templates = Path(solara.__file__).parent / "server" / "templates"
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,  # anything we do not stub renders as ""
    )
    # values we do not stub (e.g. force_refresh) reach `| tojson` as Undefined: dump as null
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "default": lambda _obj: None}
    template = env.get_template("index.html.j2")

    def _empty(*_args, **_kwargs):
        return ""

    resources = {
        "theme": "light",
        "module_urls": [],
        "nbextensions": [],
        "nbextensions_hashes": {},
        "include_css": _empty,
        "include_js": _empty,
        "versioned_asset_url": _empty,
    }
    # same expressions as solara/server/server.py (module level)
    vue3 = ipyvue.__version__.startswith("3")
    ipywidgets_major = int(ipywidgets.__version__.split(".")[0])

    found: Refs = {}
    for production in (True, False):
        html = template.render(
            cdn="__CDN__",
            root_path="",
            jupyter_root_path="/jupyter",
            resources=resources,
            theme=server_settings.theme.dict(),
            assets=server_settings.assets.dict(),
            production=production,
            vue3=vue3,
            ipywidget_major_version=ipywidgets_major,
            pre_rendered_html="",
            pre_rendered_css="",
            pre_rendered_metas="",
            perform_check=False,
        )
        for name, version, file in _CDN_REF_IN_PAGE.findall(html):
            _add(found, name, version, file)
    return found


def _widget_refs() -> Refs:
    """Packages loaded at run time by the solara widgets that a Mesa SolaraViz page uses.

    Hardcoded choice (why): which widgets a page uses is only known at run time, and
    scanning every solara ``.vue`` file would pull in katex, mermaid, codemirror, ...
    that SolaraViz never loads.  Mesa's SolaraViz lays out the space view and every
    plot in ``solara.GridDraggable`` (mesa/visualization/solara_viz.py), which is
    ``solara.widgets.widgets.GridLayout``; its template (``gridlayout.vue`` or
    ``gridlayout_v3.vue``, picked by solara for the installed ipyvuetify) requests
    ``@widgetti/vue-grid-layout@<ver>`` and, if the page lacks it, ``requirejs@<ver>``.
    The versions are read from that template, not hardcoded.

    govsim's own widgets (``viz/*.vue``: the ECharts chart of the cockpit) are scanned the same way.
    """
    from solara.widgets import widgets as solara_widgets

    templates = [Path(solara_widgets.GridLayout.template_file)]
    templates += sorted((Path(__file__).resolve().parent.parent / "viz").glob("*.vue"))
    found: Refs = {}
    for path in templates:
        text = path.read_text(encoding="utf-8")
        for name, version, file in _CDN_REF_IN_VUE.findall(text):
            _add(found, name, version, file)
    return found


def required_packages(extra: list[str]) -> Refs:
    """{(name, version): files the page requests from it}, logged with their origin."""
    refs: Refs = {}
    why: dict[tuple[str, str], str] = {}
    for source, found in (("solara page template", _page_refs()),
                          ("solara GridLayout and govsim widgets", _widget_refs())):
        for key, files in found.items():
            refs.setdefault(key, set()).update(files)
            why.setdefault(key, source)
    for spec in extra:
        m = re.fullmatch(r"((?:@[^/@]+/)?[^/@]+)@([^/@]+)", spec)
        if not m:
            die(f"--extra expects NAME@EXACT_VERSION, got {spec!r}")
        refs.setdefault((m.group(1), m.group(2)), set())
        why.setdefault((m.group(1), m.group(2)), "--extra")
    if not refs:
        die("found no CDN packages in solara's templates; solara's layout changed? Update this script.")
    for (name, version), files in sorted(refs.items()):
        log(f"needs {name}@{version}  ({why[(name, version)]}; files: {', '.join(sorted(files)) or '-'})")
    return refs


# --------------------------------------------------------------------------------------
# npm pack + unpack
# --------------------------------------------------------------------------------------
def find_npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        die(
            "npm was not found on PATH. It is needed to fetch Solara's front-end packages "
            "from the npm registry (the jsdelivr CDN is unreachable here). Install it, "
            "e.g. `apt-get install -y npm` (Debian), then rerun this script.",
            code=2,
        )
    return npm


def npm_pack(npm: str, spec: str, dest: Path) -> Path:
    """Download the registry tarball of ``spec`` into ``dest``; return its path."""
    before = set(dest.glob("*.tgz"))
    proc = subprocess.run(
        [npm, "pack", spec, "--json", "--ignore-scripts", "--silent"],
        cwd=dest,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if proc.returncode != 0:
        die(f"`npm pack {spec}` failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    new = set(dest.glob("*.tgz")) - before
    try:  # npm >= 7 reports the file name
        filename = json.loads(proc.stdout)[0]["filename"]
        # scoped packages: npm 7-9 report "@scope/name-1.0.0.tgz" but write "scope-name-1.0.0.tgz"
        candidate = dest / filename.lstrip("@").replace("/", "-")
        if candidate.exists():
            return candidate
    except (ValueError, LookupError, TypeError):
        pass
    if len(new) != 1:
        die(f"`npm pack {spec}` did not produce exactly one tarball in {dest}: {sorted(new)}")
    return new.pop()


def _safe_members(tar: tarfile.TarFile):
    """Yield regular files/dirs with their top-level folder (``package/``) stripped."""
    for member in tar.getmembers():
        parts = Path(member.name).parts
        if len(parts) < 2:
            continue  # the top-level folder itself
        if not (member.isfile() or member.isdir()):
            continue  # npm tarballs hold only files; refuse links/devices
        rel = Path(*parts[1:])
        if rel.is_absolute() or ".." in rel.parts:
            die(f"unsafe path in tarball: {member.name!r}")
        member.name = str(rel)
        yield member


def unpack(tgz: Path, target: Path) -> int:
    """Unpack ``tgz`` into ``target`` (atomically: staged next to it, then renamed)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        with tarfile.open(tgz, "r:gz") as tar:
            members = list(_safe_members(tar))
            kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(stage, members=members, **kwargs)
        n_files = sum(1 for m in members if m.isfile())
        for p in [stage, *stage.rglob("*")]:  # readable by other users (shared venvs)
            p.chmod(0o755 if p.is_dir() else 0o644)
        (stage / MARKER).write_text(f"unpacked from {tgz.name} by tools/install_solara_assets.py\n")
        if target.exists():
            # e.g. a few files the server fetched from the CDN earlier, without our
            # marker: npm versions are immutable, so replace it with the full package.
            shutil.rmtree(target)
        os.replace(stage, target)
        return n_files
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extra", action="append", default=[], metavar="NAME@VERSION",
                        help="also install this npm package (repeatable), e.g. vega@5.30.0")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument("--force", action="store_true", help="reinstall packages already present")
    args = parser.parse_args(argv)

    try:
        import solara
    except ImportError as e:
        die(f"cannot import solara ({e}); run this with the project's venv python: "
            ".venv/bin/python tools/install_solara_assets.py")

    cache = cache_dir()
    log(f"python {sys.executable} (prefix {sys.prefix}), solara {solara.__version__}")
    log(f"solara CDN cache directory: {cache}")
    refs = required_packages(args.extra)
    packages = sorted(refs)

    todo = []
    for name, version in packages:
        target = cache / f"{name}@{version}"
        if (target / MARKER).is_file() and not args.force:
            log(f"skip   {name}@{version}: already installed at {target}")
        else:
            todo.append((name, version, target))
    if args.dry_run:
        for name, version, target in todo:
            log(f"would install {name}@{version} -> {target}")
        return 0
    if not todo:
        log("nothing to do: all packages present")
        return verify(cache, refs)

    npm = find_npm()
    with tempfile.TemporaryDirectory(prefix="solara-npm-pack-") as tmp:
        for name, version, target in todo:
            spec = f"{name}@{version}"
            log(f"npm pack {spec} ...")
            tgz = npm_pack(npm, spec, Path(tmp))
            n = unpack(tgz, target)
            log(f"installed {spec}: {n} files -> {target}")
    log(f"done: installed {len(todo)} package(s), {len(packages) - len(todo)} already present")
    return verify(cache, refs)


def verify(cache: Path, refs: Refs) -> int:
    """Every file the page asks for must now be in the cache (else the server would
    try the unreachable CDN and the browser would get a 404 for it)."""
    missing = [f"{name}@{version}/{file}" for (name, version), files in sorted(refs.items())
               for file in sorted(files) if not (cache / f"{name}@{version}" / file).is_file()]
    if missing:
        die("installed, but these requested files are not in the packages:\n  "
            + "\n  ".join(str(cache / m) for m in missing))
    n = sum(len(files) for files in refs.values())
    log(f"verified: all {n} file(s) the page requests are in the cache")
    return 0


if __name__ == "__main__":
    sys.exit(main())
