# The two commands of the quick start are `make up` and `make test`; everything else supports them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_VERSION := 0.13.9
VENV := .venv
PY := $(VENV)/bin/python
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy

.PHONY: help install up demo test lint typecheck unit integration system contracts audit demo-preorder chaos bench docs clean prometheus browser

help:
	@echo "make up    - install, migrate and run the whole shop on this machine (Ctrl-C stops it)"
	@echo "make demo  - against a running 'make up': seed a catalog and drive one order to delivered"
	@echo "make demo-preorder - against a running 'make up': a deposit pre-order through receipt and balance to delivered"
	@echo "make test  - lint, type-check and run every test (unit, integration, system)"
	@echo "make audit - check the invariants across every service's database (read-only)"
	@echo "make bench - the benchmark suite (S1-S4, memory, profiles) into var/bench/<time>/"
	@echo "make chaos - fault injection against a whole running shop, on a private PostgreSQL and RabbitMQ it starts"
	@echo "make docs  - regenerate docs/settings.md from the settings classes"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: $(UV) uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml)
	$(UV) sync --frozen --all-packages
	@touch $@

install: $(VENV)/.installed

# scripts.stack checks every process's settings first and stops within a second, one line per problem.
up: install
	$(PY) -m scripts.stack up

# promtool and prometheus (Debian's package, installed through apt-get where missing) for the alert rule tests.
prometheus: install
	$(PY) -m scripts.ensure_prometheus

# Chromium, its WebDriver and a Korean font (Debian's packages, installed through apt-get where missing) for the
# browser tests; where they cannot be installed the browser tests skip and say why, so this never fails the run.
browser: install
	-$(PY) -m scripts.ensure_browser

demo: install
	$(PY) -m scripts.demo

demo-preorder: install
	$(PY) -m scripts.demo_preorder

lint: install
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

typecheck: install
	$(VENV)/bin/mypy -p shop_api -p shop_contracts -p shop_runtime -p shop_catalog -p shop_orders -p shop_payments \
		-p shop_fulfillment -p shop_notifications -p shop_gateway -p shop_ops -p shop_storefront -p tests -p scripts -p bench

unit: install
	$(PY) -m pytest tests/unit -q

integration: install
	$(PY) -m pytest tests/integration -q

system: install
	$(PY) -m pytest tests/system -q

test: lint typecheck browser
	$(PY) -m pytest tests -q --durations=10

# wrk drives the HTTP figures; scripts.ensure_wrk installs Debian's package where it is missing.
bench: install
	$(PY) -m scripts.ensure_wrk
	$(PY) -m bench all --profile

chaos: install
	$(PY) -m pytest tests/chaos -q -p no:cacheprovider $(PYTEST_ARGS)

audit: install
	$(PY) -m shop_ops audit

contracts: install
	$(PY) -m shop_contracts.schemas write
	$(PY) -m shop_contracts.asyncapi > docs/asyncapi.json
	$(PY) -m shop_gateway.openapi > docs/openapi.json

docs: install
	$(PY) -m scripts.settings_doc > docs/settings.md

clean:
	rm -rf $(VENV) $(TOOLS) var .mypy_cache .ruff_cache .pytest_cache
