# govsim: `make run` (set up and run the baseline) and `make test` (set up and run the whole suite).
# Each target creates .venv when needed and installs what it needs; nothing is assumed installed.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

# A Python >= 3.12, found on PATH or under pyenv, also with a bare PATH.
define FIND_PYTHON
for c in python3.13 python3.12 python3 $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3 /usr/local/bin/python3.1[2-9] /usr/bin/python3.1[2-9]; do \
  if command -v $$c >/dev/null 2>&1 && $$c -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then \
    command -v $$c; exit 0; fi; \
done; exit 1
endef

.PHONY: run test bench viz venv clean help

help:
	@echo "make run    - create .venv, install govsim, run scenarios/baseline.yaml and print the 4E table"
	@echo "make test   - create .venv, install the test extras, run the whole test suite"
	@echo "make bench  - run the benchmark suite (benchmarks/) and write JSON"
	@echo "make viz    - set up as make run does, then serve the cockpit at http://127.0.0.1:8765 (SCENARIO=...)"

$(PY):
	@base=$$( $(FIND_PYTHON) ) || { echo "error: govsim needs Python >= 3.12 (mesa 3.5 requires it)." >&2; \
	  echo "Tried python3.13, python3.12, python3 and ~/.pyenv/versions/3.12+. Install one (e.g. 'pyenv install 3.12')." >&2; exit 1; }; \
	echo "Creating $(VENV) with $$base"; $$base -m venv $(VENV)
	@$(PIP) install --quiet --upgrade pip

# The view's extra and its front-end (Solara's and ECharts' JS, served from a local cache: government
# intranets have no internet; the script fills it from the npm registry and takes under a second when
# nothing is missing).
$(VENV)/.stamp-run: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[viz]"
	$(PY) tools/install_solara_assets.py
	@touch $@

$(VENV)/.stamp-test: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[test,bench]"
	@touch $@ $(VENV)/.stamp-run

venv: $(VENV)/.stamp-run

run: $(VENV)/.stamp-run
	$(VENV)/bin/govsim run scenarios/baseline.yaml --out runs/baseline --force

test: $(VENV)/.stamp-test
	$(PY) tools/install_solara_assets.py
	$(PY) -m pytest -q $(PYTEST_ARGS)

viz: $(VENV)/.stamp-run
	$(VENV)/bin/govsim viz $(SCENARIO)

bench: $(VENV)/.stamp-test
	$(PY) -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache runs
