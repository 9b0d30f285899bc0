# Two ways in (see README):
#   make lab   - the tutorials: the package with [notebooks] and MNIST, then JupyterLab
#                (no Node, no Chromium, no test tools; root only if python3-venv is missing)
#   make test  - everything the tests need on top (test tools, TF.js under Node, Chromium), then
#                every test (lint, unit, TF.js, browser, notebooks)
# Python packages come from requirements/*.txt (versions and hashes pinned: `make lock` renews them),
# into .venv/ at the repo root; nothing is installed system-wide except what pip cannot provide.

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.lab-stamp
TEST_STAMP := $(VENV)/.test-stamp
NODE_STAMP := tests/js/node_modules/.installed-stamp
PYTEST_ARGS ?=
PIP_LOCKED := $(PY) -m pip install --quiet --require-hashes --only-binary :all: --no-deps

.PHONY: setup lab test lint format bench data node browser clean lite lite-serve notebooks lock

setup: $(TEST_STAMP) data node browser

# System packages: only what is missing, only with apt, only when we may (root or sudo).
browser:
	@bash scripts/system-deps.sh browser

$(PY):
	@command -v python3 >/dev/null || bash scripts/system-deps.sh python
	@python3 -m venv $(VENV) || (bash scripts/system-deps.sh python && python3 -m venv $(VENV))

# The lock's exact wheels (hash-checked, no resolver), then the package itself without its deps
$(STAMP): requirements/lab.txt pyproject.toml | $(PY)
	$(PIP_LOCKED) -r requirements/lab.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

$(TEST_STAMP): requirements/test.txt $(STAMP)
	$(PIP_LOCKED) -r requirements/test.txt
	@touch $@

data: $(STAMP)
	@$(BIN)/mnist-widgets data fetch

node: $(NODE_STAMP)
$(NODE_STAMP): tests/js/package.json tests/js/package-lock.json
	@command -v npm >/dev/null || bash scripts/system-deps.sh node
	cd tests/js && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Renew the locks from pyproject.toml (uv: a universal lock for Python 3.10+ on every platform).
lock: | $(PY)
	$(PY) -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra notebooks --generate-hashes --universal \
		--python-version 3.10 --python-preference only-system --no-header -q -o requirements/lab.txt
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --universal \
		--python-version 3.10 --python-preference only-system --no-header -q -o requirements/test.txt

# The tutorials as a static JupyterLite site (Pyodide in the browser, offline): build/lite/.
# Its build tools live in their own venv (they pin an older JupyterLab line than .venv's);
# downloads are cached in .cache/lite/, so a re-run is offline and skips what is done.
LITE_VENV := .cache/lite/venv
LITE_TOOLS := $(LITE_VENV)/.installed-stamp
LITE_STAMP := build/lite/.built-stamp
LITE_PORT ?= 8800
PYODIDE_DIST ?=
LITE_SOURCES := $(wildcard lite/*) notebooks/03_offline_cache.ipynb notebooks/04_draw.ipynb \
	notebooks/05_teach.ipynb mnist_widgets/replay.npz \
	$(wildcard models/mnist/*) pyproject.toml $(shell find mnist_widgets -name '*.py')

lite: $(LITE_STAMP)

$(LITE_TOOLS): lite/requirements-build.txt
	@test -x $(LITE_VENV)/bin/python || python3 -m venv $(LITE_VENV)
	$(LITE_VENV)/bin/python -m pip install --quiet -r lite/requirements-build.txt
	@touch $@

$(LITE_STAMP): $(TEST_STAMP) $(LITE_TOOLS) $(LITE_SOURCES)
	@command -v npm >/dev/null || bash scripts/system-deps.sh node
	PROJECT_PYTHON=$(PY) PYODIDE_DIST=$(PYODIDE_DIST) $(PY) lite/build.py --out build/lite
	@touch $@

# Open http://127.0.0.1:$(LITE_PORT)/ : the site's precompressed .br/.gz files with their
# Content-Encoding, as Netlify, Cloudflare Pages, nginx or Caddy would send them (see the README)
lite-serve: lite
	$(PY) lite/serve.py --directory build/lite --port $(LITE_PORT)

# Jupyter refuses to run as root unless told; fresh machines and containers often are root.
LAB_ARGS ?=
lab: $(STAMP) data
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# MNIST_WIDGETS_QUICK=1: notebook 01 trains three epochs on a subset (the committed outputs are full
# runs: make notebooks)
test: setup lint lite
	MNIST_WIDGETS_QUICK=1 $(BIN)/pytest $(PYTEST_ARGS)

# Re-execute the tutorials and save their outputs, widget state and fingerprint (scripts/notebooks.py)
notebooks: $(STAMP) data
	nice -n 10 $(PY) scripts/notebooks.py execute

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(TEST_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup lite
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) tests/js/node_modules .pytest_cache .ruff_cache test-artifacts build/lite .cache/lite
