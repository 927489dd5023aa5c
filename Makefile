# One-command entry points. Everything runs from the project's own virtualenv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)/.dagster_home

.PHONY: install lock upgrade demo dev test webhooks pause-all resume-all lint format bench clean

# The environment is what requirements.lock pins (hashes checked), then the project itself.
$(BIN)/dagster: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

install: $(BIN)/dagster

# Upgrades on purpose: re-resolve every pin from pyproject.toml's ranges, then `make install`.
# (After adding a dependency, `make lock` keeps the other pins where they can stay.)
LOCK = $(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
	--generate-hashes --quiet -o requirements.lock
lock: install  ## re-resolve requirements.lock for a changed pyproject.toml, keeping pins
	$(LOCK)
upgrade: install  ## re-resolve requirements.lock with the newest versions allowed
	$(LOCK) --upgrade

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

demo: install $(DAGSTER_HOME)/dagster.yaml  ## ingest the bundled sample files through Dagster
	$(BIN)/python -m pipeline demo

dev: install $(DAGSTER_HOME)/dagster.yaml  ## the Dagster UI on the same instance
	MALLOC_ARENA_MAX=$${MALLOC_ARENA_MAX:-1} OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-1} \
		$(BIN)/dagster dev -w workspace.yaml

# The store's tests run on SQLite and on Postgres: LEADS_TEST_DATABASE_URL if you set it, else
# the machine's PostgreSQL 15 cluster, started by .ci/postgres.sh. Without either, the Postgres
# tests skip locally (and fail under CI=true).
test: install  ## the whole suite, as CI runs it (no tests collected counts as a failure)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	url="$${LEADS_TEST_DATABASE_URL:-$$(.ci/postgres.sh || true)}"; \
	  if [ -z "$$url" ] && [ -n "$$CI" ]; then echo "CI: Postgres did not start" >&2; exit 1; fi; \
	  LEADS_TEST_DATABASE_URL="$$url" $(BIN)/pytest -n 2 -q; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

pause-all: install $(DAGSTER_HOME)/dagster.yaml  ## the kill switch: stop every side effect now
	$(BIN)/python -m pipeline pause-all

resume-all: install $(DAGSTER_HOME)/dagster.yaml  ## turn side effects back on
	$(BIN)/python -m pipeline resume-all

webhooks: install  ## the webhook receiver on 127.0.0.1:8787
	$(BIN)/python -m pipeline webhooks serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:  ## forget all data and runs (keeps the venv)
	rm -rf .data $(DAGSTER_HOME)
