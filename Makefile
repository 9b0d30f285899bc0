# Two commands for a fresh Debian/Ubuntu machine (see README):
#   make lab   - set everything up, open the tutorials in JupyterLab
#   make test  - set everything up, run every test (lint, unit, TF.js, browser, notebooks)
# Everything lives in .venv/ at the repo root; nothing is installed system-wide except Debian packages
# that pip cannot provide (Node.js/npm for the TF.js tests, Chromium for the browser tests).

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := tests/js/node_modules/.installed-stamp
PYTEST_ARGS ?=

.PHONY: setup lab test lint format bench data node browser clean lite lite-serve

setup: $(STAMP) data node browser

# System packages: only what is missing, only with apt, only when we may (root or sudo).
browser:
	@bash scripts/system-deps.sh

$(STAMP): pyproject.toml
	@command -v python3 >/dev/null || bash scripts/system-deps.sh python
	@test -x $(PY) || python3 -m venv $(VENV) || (bash scripts/system-deps.sh python && python3 -m venv $(VENV))
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

data: $(STAMP)
	@$(BIN)/mnist-widgets data fetch

node: $(NODE_STAMP)
$(NODE_STAMP): tests/js/package.json tests/js/package-lock.json
	@command -v npm >/dev/null || bash scripts/system-deps.sh node
	cd tests/js && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The tutorials as a static JupyterLite site (Pyodide in the browser, offline): build/lite/.
# Its build tools live in their own venv (they pin an older JupyterLab line than .venv's);
# downloads are cached in .cache/lite/, so a re-run is offline and skips what is done.
LITE_VENV := .cache/lite/venv
LITE_TOOLS := $(LITE_VENV)/.installed-stamp
LITE_STAMP := build/lite/.built-stamp
LITE_PORT ?= 8800
PYODIDE_DIST ?=
LITE_SOURCES := $(wildcard lite/*) notebooks/03_offline_cache.ipynb notebooks/04_draw.ipynb \
	$(wildcard models/mnist/*) pyproject.toml $(shell find mnist_widgets -name '*.py')

lite: $(LITE_STAMP)

$(LITE_TOOLS): lite/requirements-build.txt
	@test -x $(LITE_VENV)/bin/python || python3 -m venv $(LITE_VENV)
	$(LITE_VENV)/bin/python -m pip install --quiet -r lite/requirements-build.txt
	@touch $@

$(LITE_STAMP): $(STAMP) $(LITE_TOOLS) $(LITE_SOURCES)
	@command -v npm >/dev/null || bash scripts/system-deps.sh node
	PROJECT_PYTHON=$(PY) PYODIDE_DIST=$(PYODIDE_DIST) $(PY) lite/build.py --out build/lite
	@touch $@

# Open http://127.0.0.1:$(LITE_PORT)/ : the site's precompressed .br/.gz files with their
# Content-Encoding, as Netlify, Cloudflare Pages, nginx or Caddy would send them (see the README)
lite-serve: lite
	$(PY) lite/serve.py --directory build/lite --port $(LITE_PORT)

# Jupyter refuses to run as root unless told; fresh machines and containers often are root.
lab: setup
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

# MNIST_WIDGETS_QUICK=1: notebook 01 trains one epoch on a subset (the committed outputs are full runs)
test: setup lint lite
	MNIST_WIDGETS_QUICK=1 $(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup lite
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) tests/js/node_modules .pytest_cache .ruff_cache test-artifacts build/lite .cache/lite
