# Every target creates .venv and installs the project with its dev extras when missing,
# so that on a fresh machine with only Python 3.11+ and make, one command is enough.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-quick clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m examples.demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples scripts
	$(BIN)/ruff format --check src tests bench examples scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

test: $(STAMP) lint
	$(BIN)/python scripts/chromium.py
	$(BIN)/python scripts/pgtest.py -- $(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/board.py
	$(BIN)/python bench/postgres.py
	$(BIN)/python bench/http_door.py
	$(BIN)/python bench/artifacts.py
	$(BIN)/python bench/tokens.py
	$(BIN)/python bench/governance.py
	$(BIN)/python scripts/chromium.py
	$(BIN)/python bench/web.py

bench-quick: $(STAMP)
	$(BIN)/python bench/board.py --quick
	$(BIN)/python bench/postgres.py --quick
	$(BIN)/python bench/http_door.py --quick
	$(BIN)/python bench/artifacts.py --quick
	$(BIN)/python bench/tokens.py --quick
	$(BIN)/python bench/governance.py --quick
	$(BIN)/python scripts/chromium.py
	$(BIN)/python bench/web.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
