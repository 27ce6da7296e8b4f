# Clearpost: every target has a `## help` line; `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

$(INSTALLED): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Clearpost needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -qq --upgrade pip
	$(BIN)/pip install -qq -c constraints.txt -e '.[dev]'
	@touch $@

.PHONY: install
install: $(INSTALLED) ## Create .venv and install Clearpost with pinned dependencies

.PHONY: migrate
migrate: install ## Migrate every service's database to head
	$(BIN)/clearpost migrate

.PHONY: run
run: install ## Start Temporal, every service and worker with demo users; prints the URLs (Ctrl-C stops)
	CLEARPOST_DEMO=1 $(BIN)/clearpost run

POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
CHROMIUM := /usr/bin/chromium
AXE := .tools/node_modules/axe-core/axe.min.js

.PHONY: run-postgres
run-postgres: install ## Like `make run`, with every service on PostgreSQL (POSTGRES_URL; one schema per service)
	CLEARPOST_DEMO=1 CLEARPOST_DATABASE_URL=$(POSTGRES_URL) $(BIN)/clearpost run

.PHONY: browser-deps
browser-deps: ## Chromium (Debian, when missing and root) and axe-core (npm) for the browser tests
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "browser tests will skip: install Chromium with 'sudo apt-get install chromium'"; fi; fi
	@if [ ! -f $(AXE) ]; then \
	  if command -v npm >/dev/null; then npm install --prefix .tools --no-audit --no-fund --silent axe-core@4.14.1; \
	  else echo "the accessibility test will skip: install npm, then run 'make browser-deps'"; fi; fi

.PHONY: idp-deps
idp-deps: ## The test identity provider (node's oidc-provider, pinned in tests/idp/package-lock.json)
	@if [ ! -d tests/idp/node_modules/oidc-provider ]; then npm ci --prefix tests/idp --no-audit --no-fund --silent; fi

.PHONY: test
test: lint typecheck browser-deps idp-deps ## Lint, typecheck, then the whole test suite (unit, workflow, end-to-end, browser)
	$(BIN)/pytest -q -n 2 --dist loadgroup

.PHONY: lint
lint: install ## ruff check and format check; the import map (docs/architecture.md) with import-linter
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

.PHONY: typecheck
typecheck: install ## mypy (strict) over services and workflows
	$(BIN)/mypy services workflows


.PHONY: eval-screening
eval-screening: install ## Screening recall/precision per category, clean false flags, presidio defaults beside; every corpus, or CORPUS=FILE [PRODUCTS=FILE]; ABLATION=1 one row per part off; FEEDBACK=1 also the examples reviewers' marks make
	$(BIN)/python -m services.review.screening.eval $(if $(CORPUS),--corpus $(CORPUS)) $(if $(PRODUCTS),--products $(PRODUCTS)) $(if $(ABLATION),--ablation) $(if $(FEEDBACK),--feedback)

.PHONY: screening-model
screening-model: install ## Retrain the screener's text model from the labeled corpora (writes services/review/screening/data/text_model.json)
	$(BIN)/python -m services.review.screening.train_model

.PHONY: bench
bench: install ## Benchmarks, printed: screening; audit (1,000,000 events); the pipeline at 20 and 1 in flight vs bare Temporal, SQLite and PostgreSQL (minutes)
	$(BIN)/python -m services.review.screening.bench
	$(BIN)/python -m services.audit.bench
	$(BIN)/python -m services.load.bench

.PHONY: chaos
chaos: install ## 200 posts at 20 in flight while every process is killed -9 and restarted; prints lost, twice, stuck, ready
	$(BIN)/python -m services.load.chaos

.PHONY: fuzz
fuzz: install ## schemathesis against every service's OpenAPI, deeper than make test
	CLEARPOST_FUZZ_EXAMPLES=$${CLEARPOST_FUZZ_EXAMPLES:-200} $(BIN)/pytest -q tests/e2e/test_schemathesis.py

.PHONY: lock
lock: ## Re-pin constraints.txt from a fresh resolve of pyproject.toml
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip && .lock-venv/bin/pip install --quiet -e '.[dev]'
	.lock-venv/bin/pip freeze --exclude-editable | grep -v '^-e' > constraints.txt
	rm -rf .lock-venv

.PHONY: clean
clean: ## Remove the venv and local data (var/)
	rm -rf $(VENV) var
