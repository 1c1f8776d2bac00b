# Registra: the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_ORG ?= skyline-mro
DEMO_ASSETS ?= 2000

.PHONY: setup demo test test-client-alone lint bench clean

# The browser tests drive Debian's Chromium (/usr/bin/chromium): Playwright downloads none.
$(BIN)/registra: pyproject.toml client/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ./client
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/registra

setup: $(BIN)/registra

# Set everything up on SQLite, load the demo register once, print a demo service account's
# credentials and run the production server.
demo: setup
	HOST=$(HOST) PORT=$(PORT) DEMO_ORG=$(DEMO_ORG) DEMO_ASSETS=$(DEMO_ASSETS) bash scripts/demo.sh

lint: setup
	$(BIN)/ruff check src tests bench client
	$(BIN)/ruff format --check src tests bench client
	$(BIN)/mypy src client/src
	REGISTRA_DATA_DIR=$$(mktemp -d) $(BIN)/django-admin makemigrations --check --dry-run \
		--settings registra.settings

# The whole suite: lint, type check, migrations check, tests (SQLite unless DATABASE_URL is set),
# then the client package alone.
test: lint
	$(BIN)/pytest -q
	$(MAKE) --no-print-directory test-client-alone

# `pip install ./client` into a fresh virtual environment, and its own tests there: the client
# installs and works without Django or any other server dependency.
test-client-alone:
	bash scripts/test-client-alone.sh

bench: setup
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
