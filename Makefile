# LeadFlow: `make run` (the app with demo data, no servers needed) and `make test`.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000
MIGRATE_DB := $(if $(DATABASE_OWNER_URL),owner,default)

.PHONY: install migrate run test schemathesis lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --database $(MIGRATE_DB)

run: install
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --database $(MIGRATE_DB) --verbosity 0
	DEBUG=$${DEBUG:-1} $(PY) manage.py seed_demo
	@echo ""
	@echo "LeadFlow is starting at http://127.0.0.1:$(PORT)/  (web, Celery worker and beat; Ctrl-C stops all)"
	@echo ""
	DEBUG=$${DEBUG:-1} WEB_PORT=$(PORT) VENV=$(VENV) $(VENV)/bin/honcho -f Procfile.dev start

test: install
	$(PY) -m pytest -n 2

# The running API fuzzed against its OpenAPI schema (PostgreSQL needed; about 3 minutes).
schemathesis: install
	$(PY) scripts/schemathesis_ci.py

# Benchmarks (PostgreSQL needed; not part of `make test`): each prints its
# figures as ratios against a baseline measured in the same run and appends
# them to docs/performance.md. BENCH_ARGS reach every script, e.g. --no-record.
BENCHES ?= capture rescore import_csv inbox outbox missing_updates lead_lists routing digests
BENCHES += partner_sync
BENCHES += partner_api
BENCHES += webhooks
BENCHES += weekly_report
BENCHES += dashboards
BENCHES += suggest_auc
bench: install
	@for b in $(BENCHES); do echo "== bench/$$b.py"; $(PY) bench/$$b.py $(BENCH_ARGS) || exit 1; done

# Style, then types (strict on services and selectors; the paths are pyproject's
# [tool.mypy] files), then the apps' import contracts ([tool.importlinter]).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf var .pytest_cache .ruff_cache test-output
