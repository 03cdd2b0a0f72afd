# fleetmon — the two commands: `make run` and `make test`. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
# uv may live on PATH or in the user's bin after `pip install --user uv`.
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PYTEST_ARGS ?=
# `make run PORT=8081` when 8080 is taken.
PORT ?= 8080
# Where `make agent-dist` puts what /install.sh serves (the API's default: data/agent-dist).
AGENT_DIST ?= data/agent-dist

.PHONY: help uv sync sync-dev run agent-dist test test-deps lint typecheck pytest bench fmt

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

uv:
	@command -v uv >/dev/null 2>&1 || test -x $(HOME)/.local/bin/uv || $(PYTHON) -m pip install --user --quiet uv

sync: uv
	@$(UV) sync --frozen --all-packages --quiet

sync-dev: uv
	@$(UV) sync --frozen --all-packages --group dev --quiet

run: sync  ## start the whole system embedded (SQLite), print URLs and credentials (PORT=8080)
	@$(UV) run --frozen --no-sync fleetmon up --port $(PORT)

agent-dist: uv  ## build the agent wheels and install script the API serves at /install.sh
	@PIP="$(UV) tool run --from pip pip" deploy/agent-dist.sh $(AGENT_DIST)

test-deps:  ## install the Debian packages the tests run for real (once), and the UI checkers
	@scripts/install-test-deps.sh
	@cd tests/web && { [ node_modules/.installed -nt package-lock.json ] || \
		{ npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; }; }

lint: sync-dev
	$(UV) run --frozen --no-sync ruff check .
	$(UV) run --frozen --no-sync ruff format --check .

typecheck: sync-dev
	$(UV) run --frozen --no-sync mypy
	$(UV) run --frozen --no-sync mypy --python-version 3.9 collector/src

pytest: sync-dev test-deps
	$(UV) run --frozen --no-sync pytest $(PYTEST_ARGS)

test: sync-dev test-deps lint typecheck pytest  ## lint, type-check and run the whole suite against real servers

bench: sync-dev test-deps  ## run the benchmarks and rewrite docs/benchmarks.md
	$(UV) run --frozen --no-sync python -m bench

fmt: sync-dev
	$(UV) run --frozen --no-sync ruff format .
	$(UV) run --frozen --no-sync ruff check --fix .
