# Nurture: `make run` installs and starts everything on defaults; `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install run test test-fast lint format bench screenshots migration clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@bash scripts/ensure-redis
	$(BIN)/nurture db upgrade
	$(BIN)/nurture run --host $(HOST) --port $(PORT)

test: $(STAMP)
	@bash scripts/ensure-redis
	@bash scripts/ensure-postgres
	@bash scripts/ensure-chromium
	$(BIN)/pytest

test-fast: $(STAMP)
	@bash scripts/ensure-redis
	$(BIN)/pytest -m "not slow and not browser"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Refresh docs/screenshots/ from the studio's browser tests.
screenshots: $(STAMP)
	@bash scripts/ensure-redis
	@bash scripts/ensure-postgres
	@bash scripts/ensure-chromium
	NURTURE_TEST_DOCS_SCREENSHOTS=1 $(BIN)/pytest -q tests/web/test_studio_browser.py

# Regenerate the initial migration from the models (pre-release: one migration only).
migration: $(STAMP)
	rm -f migrations/versions/*.py var/migration-gen.db*
	$(BIN)/python -c "from store.migrate import make_revision; make_revision('initial schema', 'sqlite:///var/migration-gen.db')"
	rm -f var/migration-gen.db*
	$(BIN)/ruff format migrations

clean:
	rm -rf $(VENV) var/*.db* var/outbox var/celerybeat-schedule* .pytest_cache .mypy_cache .ruff_cache
